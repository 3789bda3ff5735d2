"""Console list filters that offer organisations of one kind (tracking's and workflows' lists use them)."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.db.models import Field
from django.http import HttpRequest

from partners.models import Organisation, OrganisationKind


class OrganisationOfKindFilter(admin.RelatedFieldListFilter):
    """The "By branch" and "By carrier" filters offer organisations of that kind, not every customer on file.

    A RelatedFieldListFilter (not a SimpleListFilter) keeps the foreign key's own parameter (branch__id__exact),
    so bookmarked filters still work, and its "empty" choice for a carrier not chosen yet. Every organisation of
    the kind is offered, not only those on rows (RelatedOnlyFieldListFilter), which would read the whole table
    for a DISTINCT on every page."""

    kind: str

    def field_choices(self, field: Field, request: HttpRequest, model_admin: admin.ModelAdmin) -> list[Any]:
        return [(organisation.pk, str(organisation)) for organisation in Organisation.objects.of_kind(self.kind)]


class BranchFilter(OrganisationOfKindFilter):
    kind = OrganisationKind.BRANCH


class CarrierFilter(OrganisationOfKindFilter):
    kind = OrganisationKind.CARRIER
