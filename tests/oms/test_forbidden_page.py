"""The 403 page says why (templates/403.html): the view's own reason when it gave one (PermissionDenied("…")),
the general sentence when it did not. The API's 403 gives the same reason in its JSON."""

from __future__ import annotations

import re

from django.core.exceptions import PermissionDenied

from oms.api_errors import api_exception_handler
from partners.models import Role
from tests.conftest import _member

GENERAL = "Your account's role does not allow this."


def _lead(response) -> str:
    match = re.search(r'<p class="oms-auth-lead">(.*?)</p>', response.content.decode(), re.S)
    assert match is not None
    return match.group(1)


def test_a_customer_opening_a_staff_screen_is_told_it_is_for_staff(client, customer_a_user):
    client.force_login(customer_a_user)
    response = client.get("/orders/")
    assert response.status_code == 403
    assert _lead(response).startswith("This screen is for OMS staff.")
    assert GENERAL not in response.content.decode()


def test_a_partner_opening_the_orders_of_the_portal_reads_what_it_follows_instead(client, carrier_user):
    client.force_login(carrier_user)
    response = client.get("/portal/orders/")
    assert response.status_code == 403
    assert "you see the shipments you carry" in _lead(response)


def test_someone_in_no_organisation_is_told_so(client, outsider):
    client.force_login(outsider)
    response = client.get("/portal/")
    assert response.status_code == 403
    assert _lead(response).startswith("Your account does not belong to any organisation yet.")


def test_a_refusal_without_a_reason_shows_the_general_sentence(client, branch):
    """The console refuses without a reason (PermissionDenied()): places are not added by hand."""
    client.force_login(_member("sales@oms.test", branch, Role.SALES, is_staff=True))
    response = client.get("/admin/orders/location/add/")
    assert response.status_code == 403
    assert _lead(response).startswith(GENERAL)


def test_the_api_gives_the_reason_of_a_refusal_too():
    reason = "Shipments are listed for the partners who carry them; you follow your orders."
    response = api_exception_handler(PermissionDenied(reason), {})
    assert response is not None
    assert (response.status_code, response.data["error"]["message"]) == (403, reason)

    response = api_exception_handler(PermissionDenied(), {})
    assert response is not None
    assert response.data["error"]["message"] == "You do not have permission to perform this action."
