"""A rate line's breaks wrap whole, each with its "·" at its end (walk of 2026-12-07 at 1280 px): the separator stood
between the breaks, outside them, so a wrapped line of Nordtruck's groupage rates began "· ≥ 2,500 kg: 0.1302"."""

import re

from django.urls import reverse

from finance.models import RateBasis
from tests.finance.builders import rate_card


def test_each_break_but_the_last_carries_its_separator_so_no_line_starts_with_one(login, ops_user, carrier):
    line = {
        "origin_code": "DEHAM",
        "destination_code": "DEMUC",
        "basis": RateBasis.PER_KG,
        "breaks": [(0, "0.21"), (500, "0.168"), (2500, "0.1302")],
    }
    card = rate_card(carrier, mode="road_ltl", lines=[line])

    page = login(ops_user).get(reverse("tracking:rate_card_detail", args=[card.pk])).content.decode()

    breaks = re.findall(r'<span class="text-nowrap">([^<]*)</span>', page)
    assert breaks[-3:] == ["≥ 0 kg: 0.21 ·", "≥ 500 kg: 0.168 ·", "≥ 2,500 kg: 0.1302"]
    assert "</span> · <span" not in page
