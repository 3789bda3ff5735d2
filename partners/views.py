"""Staff screens for organisations."""

import re
from typing import cast

from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils.cache import patch_vary_headers

from oms.http import HtmxHttpRequest
from partners import selectors
from partners.models import OrganisationKind, code_validator
from partners.permissions import staff_required
from partners.scoping import scope_for_request


def _search_text(request: HttpRequest) -> str:
    """The search box's text. PostgreSQL text cannot hold NUL (a DataError, a 500): shown as U+FFFD, such a search
    simply matches nothing, as on the exception inbox."""
    return request.GET.get("q", "").strip().replace("\x00", "\ufffd")


@staff_required
def organisation_list(request: HtmxHttpRequest) -> HttpResponse:
    kind = request.GET.get("kind", "")
    if kind not in OrganisationKind.values:
        kind = ""
    query = _search_text(request)
    organisations = selectors.organisation_list_for(scope=scope_for_request(request), kind=kind, query=query)
    page = Paginator(organisations, 50).get_page(request.GET.get("page"))
    context = {"page": page, "kind": kind, "query": query, "kinds": OrganisationKind.choices}
    template = "partners/organisation_list.html#results" if request.htmx else "partners/organisation_list.html"
    response = render(request, template, context)
    patch_vary_headers(response, ["HX-Request"])
    return response


@staff_required
def organisation_detail(request: HttpRequest, code: str) -> HttpResponse:
    # What no organisation code can be (code_validator: 2 to 10 letters or digits) is 404 before the query: a NUL
    # byte reaching PostgreSQL was a DataError, a 500.
    # RegexValidator compiles its pattern when built; the stubs allow the class attribute's str too.
    if not cast(re.Pattern[str], code_validator.regex).fullmatch(code.upper()):
        raise Http404("No such organisation.")
    organisation = selectors.organisation_get_for(scope=scope_for_request(request), code=code)
    return render(request, "partners/organisation_detail.html", {"organisation": organisation})
