"""The finance configuration console: its lists read a fixed number of queries, however many rows they show."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from finance.models import ExchangeRate, RateBasis
from tests.factories import OrganisationFactory
from tests.finance.builders import rate_card, zone


def _add_rows(start: int, n: int) -> None:
    for i in range(start, start + n):
        carrier = OrganisationFactory(code=f"C{i:03d}", kinds=["carrier"])
        area = zone(carrier, f"Z{i}", countries=["DE"])
        line = {"origin_code": "CNSHA", "destination_zone": area, "basis": RateBasis.PER_KG, "breaks": [(0, 1)]}
        rate_card(carrier, mode="air", reference=f"R-{i}", lines=[line])
        ExchangeRate.objects.create(
            base_currency="EUR", quote_currency="USD", rate=1 + i, rate_on=f"2026-01-{i + 1:02d}"
        )


def _queries(client, url: str) -> int:
    with CaptureQueriesContext(connection) as ctx:
        assert client.get(url).status_code == 200
    return len(ctx)


@pytest.mark.parametrize("model", ["ratecard", "rateline", "ratezone", "exchangerate"])
def test_finance_admin_lists_do_not_query_per_row(admin_user, client, model):
    client.force_login(admin_user)
    url = f"/admin/finance/{model}/"
    _add_rows(0, 2)
    few = _queries(client, url)
    _add_rows(2, 10)
    assert _queries(client, url) == few
