"""Writes about people, organisations, memberships and API keys."""

from __future__ import annotations

from django.db import transaction
from django.utils import timezone

from partners.errors import PartnersError
from partners.models import (
    API_KEY_KINDS,
    INTERNAL_KINDS,
    PARTNER_KINDS,
    STAFF_ROLES,
    ApiKey,
    Membership,
    Organisation,
    OrganisationKind,
    Role,
    User,
)
from partners.roles import group_for


def _role_fits_organisation(role: str, organisation: Organisation) -> bool:
    return _role_fits_kinds(role, organisation.kinds)


def _role_fits_kinds(role: str, kinds_given: list[str]) -> bool:
    kinds = set(kinds_given)
    if role in STAFF_ROLES:
        return bool(kinds & INTERNAL_KINDS)
    if role == Role.CUSTOMER:
        return OrganisationKind.CUSTOMER in kinds
    return bool(kinds & PARTNER_KINDS)


def membership_check(*, role: str, organisation: Organisation) -> None:
    """Raise PartnersError when the role cannot be held in that organisation. The partner role needs an organisation
    that runs legs (PARTNER_KINDS): a vendor alone runs none, and its people would find nothing in the portal."""
    if _role_fits_organisation(role, organisation):
        return
    if role == Role.PARTNER and OrganisationKind.VENDOR in organisation.kinds:
        raise PartnersError(
            f"The partner role cannot be held in {organisation.code} ({organisation.get_kinds_display()}): the "
            f"partner portal shows the legs an organisation runs, and {organisation.code} runs no legs. Tick carrier, "
            "agent or warehouse on the organisation if it does; a vendor alone has nothing to see in the portal."
        )
    raise PartnersError(
        f"The {Role(role).label.lower()} role cannot be held in {organisation.code} "
        f"({organisation.get_kinds_display()}): staff roles belong to our company or a branch, "
        "the customer role to a customer, the partner role to a carrier, agent or warehouse."
    )


def organisation_kinds_check(*, organisation: Organisation, kinds: list[str]) -> None:
    """Raise PartnersError when `kinds` would move an organisation that has people or API keys between ours
    (company, branch) and theirs (customer, carrier, agent, warehouse, vendor).

    Which side an organisation is on decides what its people's roles and its keys act as: a key of ours is an OMS
    staff key over every customer's data (scoping.scope_for_api_key). Moved across, a customer's integration key
    would become one, and our staff's roles would stop fitting the organisation. Its memberships and keys count
    whether active or not: a membership can be reactivated, and a key's history names the organisation it was for.
    A new organisation, or one with neither, may still be corrected.

    Within a side, the kinds must keep fitting the roles its active people hold (membership_check's rule): unticking
    carrier on a carrier that is also a vendor would leave its partner users signed in to nothing, unticking customer
    would leave its customer users with no orders of their own. Its API keys in use likewise keep a kind that gives
    them something to see (api_key_check's rule)."""
    if organisation.pk is None:
        return
    _side_kept_check(organisation=organisation, kinds=kinds)
    _kinds_fit_people_check(organisation=organisation, kinds=kinds)
    _kinds_fit_keys_check(organisation=organisation, kinds=kinds)


def _side_kept_check(*, organisation: Organisation, kinds: list[str]) -> None:
    saved = Organisation.objects.filter(pk=organisation.pk).values_list("kinds", flat=True).first() or []
    was_ours, is_ours = bool(INTERNAL_KINDS & set(saved)), bool(INTERNAL_KINDS & set(kinds))
    if was_ours == is_ours or not (saved and kinds):
        return
    if not (organisation.memberships.exists() or organisation.api_keys.exists()):
        return
    if was_ours:
        raise PartnersError(
            f"{organisation.code} is our company or a branch and has people or API keys: it cannot become a "
            "customer, carrier, agent, warehouse or vendor. Make a separate organisation for that part."
        )
    raise PartnersError(
        f"{organisation.code} has people or API keys as a customer or partner: it cannot become our company or a "
        "branch, which would let them act as OMS staff over every customer's data. Make a separate organisation "
        "for our office."
    )


def _kinds_fit_people_check(*, organisation: Organisation, kinds: list[str]) -> None:
    held = organisation.memberships.filter(is_active=True).values_list("role", flat=True).distinct()
    misfits = sorted({Role(role).label.lower() for role in held if not _role_fits_kinds(role, kinds)})
    if misfits:
        raise PartnersError(
            f"{organisation.code} has people with the {' and '.join(misfits)} role, which these kinds do not allow: "
            "keep the kind their role needs ticked, or end their memberships first (staff roles need our company or "
            "a branch, the customer role a customer, the partner role a carrier, agent or warehouse)."
        )


def _kinds_fit_keys_check(*, organisation: Organisation, kinds: list[str]) -> None:
    if API_KEY_KINDS & set(kinds):
        return
    saved = Organisation.objects.filter(pk=organisation.pk).values_list("kinds", flat=True).first() or []
    if not API_KEY_KINDS & set(saved):
        return  # its keys saw nothing already (a vendor's, issued before api_key_check refused it): nothing is taken
    names = sorted(organisation.api_keys.active().values_list("name", flat=True))
    if names:
        raise PartnersError(
            f"{organisation.code} has an API key in use ({', '.join(names)}), which these kinds would leave seeing "
            "nothing: keep the customer, carrier, agent or warehouse kind ticked, or revoke the key first."
        )


def user_groups_sync(*, user: User) -> None:
    """Make the user's role groups match their active memberships in active organisations.

    The groups carry the console's model permissions (partners.roles), so they must end with the membership and
    with the organisation: a closed branch's people keep no permission there. partners.receivers calls this
    whenever a membership is saved or deleted and whenever an organisation is saved, on every path."""
    roles = set(user.memberships.filter(is_active=True, organisation__is_active=True).values_list("role", flat=True))
    role_groups = {group_for(role) for role in Role.values}
    wanted = {group_for(role) for role in roles}
    user.groups.remove(*(role_groups - wanted))
    user.groups.add(*wanted)


def organisation_members_groups_sync(*, organisation: Organisation) -> None:
    """Resync the role groups of everyone with a membership in the organisation (it was opened or closed)."""
    for user in User.objects.filter(memberships__organisation=organisation).distinct():
        user_groups_sync(user=user)


@transaction.atomic
def membership_grant(*, user: User, organisation: Organisation, role: str) -> Membership:
    """Give the user a role in an organisation (idempotent); their groups follow (partners.receivers)."""
    membership_check(role=role, organisation=organisation)
    membership, _ = Membership.objects.update_or_create(
        user=user, organisation=organisation, role=role, defaults={"is_active": True}
    )
    return membership


@transaction.atomic
def membership_revoke(*, membership: Membership) -> None:
    """End a membership; the role's group goes unless another membership grants it (partners.receivers)."""
    membership.is_active = False
    membership.save(update_fields=["is_active"])


def _key_sees_nothing(organisation: Organisation) -> bool:
    return not API_KEY_KINDS & set(organisation.kinds)


def api_key_check(*, organisation: Organisation) -> None:
    """Raise PartnersError when the organisation cannot get an API key: a closed one's keys would not work, and a
    vendor alone's would see nothing (a key acts with its organisation's scope, and a vendor neither places orders
    nor runs legs; it got a partner scope over no legs, and every list answered empty)."""
    if not organisation.is_active:
        raise PartnersError(f"{organisation.code} is inactive; it cannot get an API key.")
    if _key_sees_nothing(organisation):
        raise PartnersError(
            f"{organisation.code} ({organisation.get_kinds_display()}) cannot get an API key: a key sees the orders "
            "its organisation places (a customer) or the legs it runs (a carrier, an agent or a warehouse), and "
            f"{organisation.code} does neither, so its key would find nothing. Tick the kind it plays on the "
            "organisation first."
        )


def api_key_use_check(*, api_key: ApiKey) -> None:
    """Raise PartnersError when an active key may not be used: issued to a vendor alone before api_key_check refused
    it, it would see nothing, and an empty answer reads as a quiet day rather than a wrong key. Migration partners/0009
    revoked the keys it found; this stays as the guard for a key whose organisation loses its last key kind by
    another way than the console (which refuses it: _kinds_fit_keys_check), a shell or a data repair."""
    organisation = api_key.organisation
    if _key_sees_nothing(organisation):
        raise PartnersError(
            f"This API key belongs to {organisation.code} ({organisation.get_kinds_display()}), which neither places "
            "orders (a customer) nor runs legs (a carrier, an agent or a warehouse), so there is nothing it may see. "
            f"Ask the OMS administrator to tick the kind {organisation.code} plays, or to revoke the key."
        )


def api_key_create(*, organisation: Organisation, name: str, created_by: User | None = None) -> tuple[ApiKey, str]:
    """Create an API key for the organisation; return it with the raw key, which is never stored."""
    api_key_check(organisation=organisation)
    if not name.strip():
        raise PartnersError("Give the key a name that says what uses it.")
    raw_key, prefix, key_hash = ApiKey.generate()
    api_key = ApiKey.objects.create(
        organisation=organisation, name=name.strip(), prefix=prefix, key_hash=key_hash, created_by=created_by
    )
    return api_key, raw_key


def api_key_revoke(*, api_key: ApiKey) -> None:
    """Revoke the key; it stops working with the next request."""
    if api_key.revoked_at is None:
        api_key.revoked_at = timezone.now()
        api_key.save(update_fields=["revoked_at"])


def api_key_authenticate(*, raw_key: str) -> ApiKey | None:
    """The active key matching the raw secret, or None. Records when it was last used (once a minute)."""
    parts = raw_key.split("_", 2)
    if len(parts) != 3 or parts[0] != ApiKey.PREFIX:
        return None
    api_key = ApiKey.objects.active().select_related("organisation").filter(prefix=parts[1]).first()
    if api_key is None or not api_key.matches(raw_key):
        return None
    now = timezone.now()
    if api_key.last_used_at is None or (now - api_key.last_used_at).total_seconds() > 60:
        ApiKey.objects.filter(pk=api_key.pk).update(last_used_at=now)
        api_key.last_used_at = now
    return api_key
