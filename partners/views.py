"""Staff screens for organisations."""

from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils.cache import patch_vary_headers

from partners import selectors
from partners.models import OrganisationKind
from partners.permissions import staff_required
from partners.scoping import scope_for_request


@staff_required
def organisation_list(request: HttpRequest) -> HttpResponse:
    kind = request.GET.get("kind", "")
    if kind not in OrganisationKind.values:
        kind = ""
    query = request.GET.get("q", "").strip()
    organisations = selectors.organisation_list_for(scope=scope_for_request(request), kind=kind, query=query)
    page = Paginator(organisations, 50).get_page(request.GET.get("page"))
    context = {"page": page, "kind": kind, "query": query, "kinds": OrganisationKind.choices}
    template = "partners/organisation_list.html#results" if request.htmx else "partners/organisation_list.html"
    response = render(request, template, context)
    patch_vary_headers(response, ["HX-Request"])
    return response


@staff_required
def organisation_detail(request: HttpRequest, code: str) -> HttpResponse:
    organisation = selectors.organisation_get_for(scope=scope_for_request(request), code=code)
    return render(request, "partners/organisation_detail.html", {"organisation": organisation})
