"""A branch's wall clock, and a reader's. Organisations carry their own IANA time zone (`Organisation.time_zone`):
a branch plans on its own, staff read lists on their branch's, customers and partners read the portal on their
own (`viewer_zone`). The server's TIME_ZONE is only the fallback for people and things that belong to no branch."""

from __future__ import annotations

import datetime
import functools
import logging
from zoneinfo import ZoneInfo

from django.utils import timezone

from partners.models import Organisation
from partners.scoping import Scope
from partners.validators import is_time_zone

logger = logging.getLogger(__name__)


def zone_named(name: str | None) -> datetime.tzinfo:
    """The zone called `name`; the server's zone when it is blank or no zone. A name that is no zone cannot be
    saved (partners.validators.validate_time_zone), but a row older than that check must not break a screen: it
    is logged (once a process for the last few names) so that someone corrects it."""
    if name:
        if is_time_zone(name):
            return ZoneInfo(name)
        _unknown_zone(name)
    return timezone.get_default_timezone()


@functools.lru_cache(maxsize=32)  # bounded: a page may post the name (tracking.views_schedule)
def _unknown_zone(name: str) -> None:
    logger.warning("%r is not a time zone name: the server's time zone is used instead.", name)


def branch_zone(branch: Organisation | None) -> datetime.tzinfo:
    """The branch's time zone, or the server's for no branch."""
    return zone_named(branch.time_zone if branch is not None else None)


def zone_label(zone: datetime.tzinfo) -> str:
    """ "Asia/Shanghai": the IANA name people see next to times (abbreviations such as CST are ambiguous)."""
    return getattr(zone, "key", None) or str(zone)


def viewer_zone(scope: Scope) -> datetime.tzinfo:
    """The viewer's own clock, else the server's. Staff: their own branch's (the first they belong to, by id); lists
    that span branches (the exceptions inbox, the tracking monitor, the order list, the search) run on it, as the
    planning lists do. Customers and partners: their own organisation's (`Organisation.time_zone`, the first by id),
    which the portal runs on. A scope made for a request carries the zone's name (`Scope.time_zone`, read with the
    memberships): no query; one built by hand is looked up."""
    if scope.time_zone is not None:
        return zone_named(scope.time_zone)
    organisations = Organisation.objects.filter(pk__in=sorted(scope.organisation_ids))
    if not (scope.is_customer or scope.is_partner):
        organisations = organisations.branches()
    first = organisations.order_by("pk").only("time_zone").first()
    return zone_named(first.time_zone if first is not None else None)
