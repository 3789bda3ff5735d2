"""Reads about organisations and people, already scoped."""

from __future__ import annotations

from django.contrib.postgres.search import SearchQuery, SearchVector
from django.db.models import Count, Prefetch, Q, QuerySet
from django.shortcuts import get_object_or_404

from partners.models import Membership, Organisation, OrganisationQuerySet
from partners.scoping import Scope


def organisations_visible_to(*, scope: Scope) -> OrganisationQuerySet:
    """Staff see every organisation; customers and partners only their own."""
    return scope.restrict(Organisation.objects.all(), customer="pk", partner="pk")


def organisation_list_for(*, scope: Scope, kind: str = "", query: str = "") -> QuerySet[Organisation]:
    organisations = organisations_visible_to(scope=scope).annotate(
        member_count=Count("memberships", filter=Q(memberships__is_active=True), distinct=True)
    )
    if kind:
        organisations = organisations.of_kind(kind)
    if query:
        organisations = organisations.filter(
            Q(code__iexact=query) | Q(name__icontains=query) | Q(legal_name__icontains=query) | Q(tax_id__iexact=query)
        )
    return organisations.select_related("parent").order_by("code")


def organisation_get_for(*, scope: Scope, code: str) -> Organisation:
    """The organisation with that code if the scope may see it, else 404."""
    members = Prefetch(
        "memberships",
        queryset=Membership.objects.filter(is_active=True).select_related("user").order_by("user__email"),
        to_attr="active_memberships",
    )
    return get_object_or_404(
        organisations_visible_to(scope=scope)
        .select_related("parent")
        .prefetch_related("addresses", "contacts", "children", members),
        code=code.upper(),
    )


def organisation_search(*, scope: Scope, query: str, limit: int = 20) -> QuerySet[Organisation]:
    """Full-text and code search over organisations for the global search box."""
    vector = SearchVector("code", "name", "legal_name", "tax_id", config="simple")
    return (
        organisations_visible_to(scope=scope)
        .annotate(search=vector)
        .filter(Q(search=SearchQuery(query, config="simple", search_type="websearch")) | Q(code__iexact=query))
        .order_by("code")[:limit]
    )
