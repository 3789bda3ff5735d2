"""The one scoping rule every screen and API uses.

- Staff (a staff role in our company or a branch, or a key of ours) see all of the company's data.
  One OMS installation serves one company; its customers and partners are the tenants.
- Customer users and customer keys see only their own organisation's data.
- Partner users and partner keys see only what is assigned to their organisation.
- Anyone else sees nothing.

Selectors call `scope.restrict(queryset, customer=..., partner=...)` naming the lookups that tie a
row to its customer and to its assigned partner; a queryset without a partner lookup is invisible
to partners. `scope_for_request` is cached on the request, so it costs one query per request (none for a
session's person: partners.backends loads the memberships with the user). The scope also carries the name of
the person's clock (`Scope.time_zone`, read from those memberships), so every screen names its times for free.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import TYPE_CHECKING, Any, TypeVar

from django.db.models import QuerySet
from django.db.models.functions import JSONObject

from partners.models import EXTERNAL_KINDS, INTERNAL_KINDS, STAFF_ROLES, ApiKey, Membership, OrganisationKind, Role

if TYPE_CHECKING:
    from django.http import HttpRequest

# Any queryset, kept as its own class (a custom QuerySet keeps its methods through restrict).
QS = TypeVar("QS", bound=QuerySet[Any, Any])


class Audience(StrEnum):
    STAFF = "staff"
    CUSTOMER = "customer"
    PARTNER = "partner"
    NOBODY = "nobody"


@dataclass(frozen=True)
class Scope:
    audience: Audience
    organisation_ids: frozenset[int] = field(default_factory=frozenset)
    roles: frozenset[str] = field(default_factory=frozenset)
    # The name of the clock this person reads on (partners.time_zones.viewer_zone): staff their own branch's (the
    # first by id), customers and partners their own organisation's (`Organisation.time_zone`); "" when they have
    # none (company-wide staff: the server's zone); None for a scope built by hand, whose zone is then looked up.
    time_zone: str | None = None

    @property
    def is_staff(self) -> bool:
        return self.audience is Audience.STAFF

    @property
    def is_customer(self) -> bool:
        return self.audience is Audience.CUSTOMER

    @property
    def is_partner(self) -> bool:
        return self.audience is Audience.PARTNER

    def has_role(self, *roles: str) -> bool:
        return Role.ADMIN in self.roles or bool(self.roles.intersection(roles))

    def restrict(self, queryset: QS, *, customer: str | None = None, partner: str | None = None) -> QS:
        """The rows of `queryset` this scope may see.

        `customer` and `partner` are lookups to an organisation id, e.g. "customer_id" or
        "shipments__legs__carrier_id"; a lookup crossing a to-many relation may repeat rows, so
        the queryset is then made distinct.
        """
        if self.audience is Audience.STAFF:
            return queryset
        lookup = customer if self.audience is Audience.CUSTOMER else partner
        if self.audience is Audience.NOBODY or lookup is None:
            return queryset.none()
        restricted = queryset.filter(**{f"{lookup}__in": sorted(self.organisation_ids)})
        return restricted.distinct() if "__" in lookup else restricted

    def owns(self, organisation_id: int | None) -> bool:
        """Whether this scope may act for that organisation (staff: any)."""
        return self.is_staff or (organisation_id is not None and organisation_id in self.organisation_ids)


NOBODY = Scope(Audience.NOBODY)


# Where partners.backends.MembershipModelBackend leaves the signed-in person's memberships (see there).
MEMBERSHIPS_ATTRIBUTE = "oms_memberships"


@dataclass(frozen=True)
class OrganisationRef:
    """What the layouts show of the person's organisation, without loading the whole row."""

    pk: int
    code: str
    name: str


def membership_rows(*, user: Any) -> QuerySet[Membership, Mapping[str, Any]]:
    """The active memberships of `user` (a user, id or OuterRef), one JSON object each."""
    return Membership.objects.filter(user=user, is_active=True, organisation__is_active=True).values(
        row=JSONObject(
            role="role",
            organisation_id="organisation_id",
            kinds="organisation__kinds",
            code="organisation__code",
            name="organisation__name",
            time_zone="organisation__time_zone",
        )
    )


def _memberships(user: Any) -> list[dict[str, Any]]:
    loaded = getattr(user, MEMBERSHIPS_ATTRIBUTE, None)  # loaded with the request's user: see MEMBERSHIPS_ATTRIBUTE
    if loaded is not None:
        return loaded
    # Not kept on the object: a user object held across changes of its memberships must see them.
    return [row["row"] for row in membership_rows(user=user.pk).order_by("organisation_id")]


def scope_for_user(user: Any) -> Scope:
    """The scope of a logged-in person, from their active memberships."""
    if user is None or not user.is_authenticated or not user.is_active:
        return NOBODY
    rows = _memberships(user)
    zones = {row["organisation_id"]: row.get("time_zone") or "" for row in rows}
    memberships = [(row["role"], row["organisation_id"], row["kinds"]) for row in rows]
    staff = [(role, org) for role, org, kinds in memberships if role in STAFF_ROLES and INTERNAL_KINDS & set(kinds)]
    if staff:
        branches = [org for role, org, kinds in memberships if role in STAFF_ROLES and OrganisationKind.BRANCH in kinds]
        return Scope(
            Audience.STAFF,
            frozenset(org for _, org in staff),
            frozenset(role for role, _ in staff),
            _first_zone(zones, branches),
        )
    customers = [
        org for role, org, kinds in memberships if role == Role.CUSTOMER and OrganisationKind.CUSTOMER in kinds
    ]
    if customers:
        return Scope(Audience.CUSTOMER, frozenset(customers), frozenset({Role.CUSTOMER}), _first_zone(zones, customers))
    partners = [org for role, org, _ in memberships if role == Role.PARTNER]
    if partners:
        return Scope(Audience.PARTNER, frozenset(partners), frozenset({Role.PARTNER}), _first_zone(zones, partners))
    return NOBODY


def _first_zone(zones: Mapping[int, str], organisation_ids: list[int]) -> str:
    """The zone of the first (by id) of these organisations, "" for none (partners.time_zones.viewer_zone)."""
    return zones[min(organisation_ids)] if organisation_ids else ""


def scope_for_api_key(api_key: ApiKey) -> Scope:
    """An API key acts with its organisation's scope: our company's keys are staff keys.

    Only an organisation that is ours alone gets staff keys. One that is also a customer or partner cannot be
    saved (the organisation_internal_or_external constraint); should one exist all the same, its keys get the
    customer's or partner's scope, never every customer's data."""
    organisation = api_key.organisation
    kinds = set(organisation.kinds)
    ids = frozenset({organisation.pk})
    if kinds & INTERNAL_KINDS and not kinds & EXTERNAL_KINDS:
        zone = organisation.time_zone if OrganisationKind.BRANCH in kinds else ""
        return Scope(Audience.STAFF, ids, frozenset({Role.OPERATIONS}), zone)
    if OrganisationKind.CUSTOMER in kinds:
        return Scope(Audience.CUSTOMER, ids, frozenset({Role.CUSTOMER}), organisation.time_zone)
    return Scope(Audience.PARTNER, ids, frozenset({Role.PARTNER}), organisation.time_zone)


def organisation_for_user(user: Any, scope: Scope) -> OrganisationRef | None:
    """The organisation the layouts name for this person: the first (by id) of those their scope acts for."""
    rows = [row for row in _memberships(user) if row["organisation_id"] in scope.organisation_ids]
    first = min(rows, key=lambda row: row["organisation_id"], default=None)
    return OrganisationRef(first["organisation_id"], first["code"], first["name"]) if first else None


def scope_for_request(request: HttpRequest) -> Scope:
    """The scope of whoever made the request (API key or session), computed once per request."""
    cached = getattr(request, "_oms_scope", None)
    if cached is not None:
        return cached
    auth = getattr(request, "auth", None)
    scope = scope_for_api_key(auth) if isinstance(auth, ApiKey) else scope_for_user(request.user)
    request._oms_scope = scope  # type: ignore[attr-defined]
    return scope
