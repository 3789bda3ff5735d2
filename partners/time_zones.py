"""A branch's wall clock. Branches carry their own IANA time zone (`Organisation.time_zone`); the server's
TIME_ZONE is only the fallback for people and things that belong to no branch."""

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
    """The clock of the viewer's own branch (the first they belong to), else the server's: lists that span
    branches (the exceptions inbox, the tracking monitor) run on it, as the planning lists do."""
    branch = (
        Organisation.objects.branches()
        .filter(pk__in=sorted(scope.organisation_ids))
        .order_by("pk")
        .only("time_zone")
        .first()
    )
    return branch_zone(branch)
