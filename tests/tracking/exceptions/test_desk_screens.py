"""The exception screens as the exceptions desk uses them (review A, defects 4 to 7): a note too long is called
too long, the panels keep the open exceptions on a shipment with a long history, the weekly view's "still open"
counts link to the rows they count, and a hand-edited inbox cursor shows the first page."""

from __future__ import annotations

import datetime
import html
import re

import pytest
from django.contrib.messages import get_messages
from django.urls import reverse
from django.utils import timezone

from tracking.exceptions.models import ExceptionEntry, ExceptionKind, ShipmentException

from .test_views import last_week, overdue

__all__ = ["overdue"]


def test_a_too_long_note_is_refused_saying_how_long_it_is(login, ops_user, overdue):
    client = login(ops_user)
    url = reverse("tracking_exceptions:note_add", args=[overdue[2].pk])
    long_note = "Carrier wrote: " + "vessel delayed at Ningbo due to congestion. " * 120  # 5,294 once stripped
    response = client.post(url, {"text": long_note}, HTTP_HX_REQUEST="true")
    assert response.status_code == 200
    assert not ExceptionEntry.objects.filter(verb="noted").exists()
    assert "Write the note first." not in response.text
    assert "A note holds up to 4,000 characters (this one has 5,294)" in response.text
    assert 'maxlength="4000"' in response.text
    plain = client.post(url, {"text": long_note})
    [said] = [str(m) for m in get_messages(plain.wsgi_request)]
    assert said.startswith("A note holds up to 4,000 characters")


def test_an_empty_note_is_still_asked_for(login, ops_user, overdue):
    client = login(ops_user)
    url = reverse("tracking_exceptions:note_add", args=[overdue[2].pk])
    response = client.post(url, {"text": "   "}, HTTP_HX_REQUEST="true")
    assert "Write the note first." in response.text


def test_a_note_of_4000_characters_with_line_breaks_is_taken(login, ops_user, overdue):
    """The browser counts a line break as one character (`maxlength`) and sends two: the form counts as it does."""
    client = login(ops_user)
    text = ("x" * 99 + "\r\n") * 40  # 4,000 characters as the browser counts them, 4,040 as sent
    client.post(reverse("tracking_exceptions:note_add", args=[overdue[2].pk]), {"text": text.strip()})
    assert len(ExceptionEntry.objects.get(verb="noted").text) == 3999


def test_the_panels_keep_open_exceptions_on_a_shipment_with_a_long_history(login, ops_user, overdue):
    order, master, exception = overdue
    ShipmentException.objects.filter(pk=exception.pk).update(severity=1)
    now = timezone.now()
    ShipmentException.objects.bulk_create(
        ShipmentException(
            kind=ExceptionKind.NO_MOVEMENT, severity=4, status="resolved", shipment=master, mode=master.mode,
            detail=f"Silent #{n}", opened_at=now - datetime.timedelta(days=60, hours=n),
            resolved_at=now - datetime.timedelta(days=59), is_auto_resolved=True,
        )
        for n in range(60)
    )  # fmt: skip
    client = login(ops_user)
    for url in (
        reverse("tracking_exceptions:shipment_panel", args=[master.reference]),
        reverse("tracking_exceptions:order_panel", args=[order.reference]),
    ):
        panel = client.get(url)
        assert exception.get_absolute_url() in panel.text, f"the open exception is missing from {url}"
        assert panel.context["exceptions"][0] == exception


def _still_open_links(page: str, dimension: str) -> list[tuple[str, int]]:
    section = page.split(f'aria-labelledby="sec-{dimension}"', 1)[1].split("</section>", 1)[0]
    return [(html.unescape(href), int(n)) for href, n in re.findall(r'<a href="([^"]*)">(\d+)</a>', section)]


def test_the_weekly_still_open_links_list_what_they_count(login, ops_user, overdue, ocean_carriers):
    _, master, exception = overdue
    moment, week = last_week()
    ShipmentException.objects.filter(pk=exception.pk).update(opened_at=moment)
    ShipmentException.objects.create(  # another carrier's, open for a month: not last week's
        kind=ExceptionKind.MILESTONE_OVERDUE, severity=2, shipment=master, mode=master.mode, carrier=ocean_carriers[1],
        detail="Older", opened_at=moment - datetime.timedelta(days=30), trigger_key="x",
    )  # fmt: skip
    client = login(ops_user)
    page = client.get(f"/exceptions/weekly/?week={week}").text
    checked = 0
    for dimension in ("kind", "customer", "carrier", "lane"):
        for href, count in _still_open_links(page, dimension):
            listed = client.get(href).context["rows"]
            assert [row for row, _, _ in listed] == [exception], f"{dimension}: {href}"
            assert len(listed) == count
            checked += 1
    assert checked == 4
    narrowed = client.get(href)
    assert f"opened in week {week}" in narrowed.text  # the inbox says what it is narrowed to, with a way out
    assert "Show every week, carrier and lane" in narrowed.text


@pytest.mark.parametrize(
    "after",
    [
        "4|2026-01-01T00:00:00+23:59|1",  # an offset Python accepts and PostgreSQL refuses (beyond ±15:59)
        "4|2026-01-01T00:00:00-20:00|1",
        "4|0001-01-01T00:00:00+01:00|1",  # before year 1 in UTC
        "4|9999-12-31T23:00:00-05:00|1",  # after year 9999 in UTC
    ],
)
def test_a_hand_edited_inbox_cursor_shows_the_first_page(login, ops_user, overdue, after):
    client = login(ops_user)
    client.raise_request_exception = False
    response = client.get(reverse("tracking_exceptions:inbox"), {"after": after})
    assert response.status_code == 200
    assert overdue[1].reference in response.text
