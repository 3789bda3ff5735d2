"""Roles map to Django groups; each group carries the model permissions of its role.

`roles_sync()` (run by the data migration and by seed_demo) makes the groups match this table,
so permissions are reviewed here, in code, rather than clicked together in the admin.
Permissions of apps that later issues add are listed by app label and picked up when they exist.
"""

from __future__ import annotations

from django.contrib.auth.models import Group, Permission
from django.db.models import Q

from partners.models import Role

VIEW, ADD, CHANGE, DELETE = "view", "add", "change", "delete"
ALL = (VIEW, ADD, CHANGE, DELETE)

# role -> {app_label: actions}. "admin" gets every permission of every OMS app.
ROLE_PERMISSIONS: dict[str, dict[str, tuple[str, ...]]] = {
    Role.SALES: {"partners": (VIEW, ADD, CHANGE), "orders": (VIEW, ADD, CHANGE), "finance": (VIEW,)},
    Role.OPERATIONS: {
        "partners": (VIEW,),
        "orders": ALL,
        "tracking": ALL,
        "workflows": (VIEW, CHANGE),
        "documents": (VIEW, ADD, CHANGE),
    },
    Role.DOCUMENTATION: {
        "partners": (VIEW,),
        "orders": (VIEW, CHANGE),
        "documents": ALL,
        "tracking": (VIEW,),
    },
    Role.FINANCE: {"partners": (VIEW, CHANGE), "orders": (VIEW,), "finance": ALL},
    Role.ADMIN: {},
    Role.CUSTOMER: {},
    Role.PARTNER: {},
}
OMS_APPS = ("partners", "orders", "finance", "tracking", "documents", "workflows", "oms")
# Who may sign in and with which role, and who holds API keys: only the admin role (and superusers) change
# these. Other roles may at most view them, whatever their actions on the rest of the app: with change on
# User or add on Membership a sales or finance user could make itself superuser or administrator.
ADMIN_ONLY_MODELS: dict[str, tuple[str, ...]] = {"partners": ("user", "membership", "apikey")}


def _permissions_for(role: str) -> Q:
    if role == Role.ADMIN:
        return Q(content_type__app_label__in=OMS_APPS)
    query = Q(pk__in=[])
    for app_label, actions in ROLE_PERMISSIONS[role].items():
        for action in actions:
            query |= Q(content_type__app_label=app_label, codename__startswith=f"{action}_")
    for app_label, models in ADMIN_ONLY_MODELS.items():
        query &= ~Q(content_type__app_label=app_label, content_type__model__in=models) | Q(codename__startswith="view_")
    return query


def group_for(role: str) -> Group:
    group, _ = Group.objects.get_or_create(name=f"role:{role}")
    return group


def roles_sync() -> None:
    """Create one group per role and set its permissions from ROLE_PERMISSIONS."""
    for role in Role.values:
        group_for(role).permissions.set(Permission.objects.filter(_permissions_for(role)))
