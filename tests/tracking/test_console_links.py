"""Links into the configuration console are shown only to people who may open it (Django's is_staff and the model
permission): operations would otherwise land on the console's login page, a dead end."""

from __future__ import annotations

import pytest
from django.urls import reverse

CONSOLE_LINKS = {
    "tracking_ingest:monitor": "admin:tracking_mappingrule_changelist",
    "tracking_exceptions:inbox": "admin:tracking_exceptionrule_changelist",
    "partners:organisation_list": "admin:partners_organisation_add",
}


@pytest.mark.parametrize(("screen", "console"), list(CONSOLE_LINKS.items()))
def test_console_links_only_for_those_who_may_open_the_console(login, ops_user, admin_user, screen, console):
    assert reverse(console) not in login(ops_user).get(reverse(screen)).content.decode()
    assert reverse(console) in login(admin_user).get(reverse(screen)).content.decode()
