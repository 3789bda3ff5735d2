"""References in URLs (oms.converters): every order and shipment address takes only what a reference can hold, so
a NUL byte or a space answers 404 instead of reaching PostgreSQL (a NUL byte there is a DataError: 500)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from django.urls import URLPattern, URLResolver, get_resolver, resolve, reverse

from oms.converters import ReferenceConverter


def _patterns(resolver: URLResolver, namespace: str = "") -> Iterator[tuple[str, URLPattern]]:
    """(the name reverse() takes, the pattern) of every named pattern under `resolver`."""
    for entry in resolver.url_patterns:
        if isinstance(entry, URLResolver):
            inner = f"{namespace}{entry.namespace}:" if entry.namespace else namespace
            yield from _patterns(entry, inner)
        elif entry.name:
            yield f"{namespace}{entry.name}", entry


def _converters(pattern: URLPattern) -> dict[str, object]:
    return getattr(pattern.pattern, "converters", {})


STAFF_PATHS = [
    "/orders/HAM-26%00/",
    "/orders/HAM-26%00/edit/",
    "/tasks/orders/HAM-26%00/",
    "/exceptions/orders/HAM-26%00/",
    "/exceptions/shipments/M-HAM%00/",
    "/tracking/orders/HAM-26%00/",
    "/planning/orders/HAM-26%00/",
    "/planning/shipments/M-HAM%00/",
    "/planning/shipments/M-HAM-26-000001/houses/H-HAM%00/remove/",
    "/api/v1/orders/HAM-26%00/timeline/",
    "/api/v1/orders/HAM-26%00/transitions/",
    "/orders/HAM-26-000001%20/",  # a space: no reference holds one
    "/orders/HAM-26-000001-000000000000000000/",  # longer than any reference
]


@pytest.mark.parametrize("path", STAFF_PATHS)
def test_a_nul_in_a_reference_is_a_404_not_a_500(login, ops_user, path):
    client = login(ops_user)
    client.raise_request_exception = False
    assert client.get(path).status_code == 404


@pytest.mark.parametrize(
    "path",
    ["/portal/orders/HAM-26%00/links/", "/portal/orders/HAM-26%00/links/new/", "/portal/orders/X%00/links/1/revoke/"],
)
def test_a_nul_in_a_reference_of_the_portal_links_is_a_404(login, customer_a_user, path):
    client = login(customer_a_user)
    client.raise_request_exception = False
    assert client.get(path).status_code == 404
    assert client.post(path).status_code == 404


def test_every_path_naming_a_reference_takes_only_references():
    """A new `<str:reference>` would let a NUL byte through to the database again."""
    loose = [
        name
        for name, pattern in _patterns(get_resolver())
        for key, converter in _converters(pattern).items()
        if "reference" in key and not isinstance(converter, ReferenceConverter)
    ]
    assert loose == []
    strict = {name for name, pattern in _patterns(get_resolver()) if "reference" in _converters(pattern)}
    assert {
        "orders:detail",
        "workflows:order_tasks",
        "tracking_ingest:order_timeline",
        "portal:tracking_links",
    } <= strict


@pytest.mark.parametrize(
    ("name", "kwargs"),
    [
        ("orders:detail", {"reference": "HAM-26-000123"}),
        ("orders:detail", {"reference": "ham-26-000123"}),  # read case-blind by the screens
        ("orders:detail", {"reference": "ABCDEFGHIJ-26-1234567"}),  # the longest branch code, a 7-digit serial
        ("orders:transition", {"reference": "HAM-26-000123", "name": "submit"}),
        ("tracking:shipment_detail", {"reference": "M-ABCDEFGHIJ-26-1234567"}),
        ("tracking:house_remove", {"reference": "M-HAM-26-000012", "house_reference": "H-HAM-26-000013"}),
        ("tracking_exceptions:shipment_panel", {"reference": "H-HAM-26-000013"}),
        ("api-order-transition", {"reference": "HAM-26-000123", "transition": "plan"}),
    ],
)
def test_every_reference_form_we_issue_still_reverses_and_resolves(name, kwargs):
    path = reverse(name, kwargs=kwargs)
    assert resolve(path).kwargs == kwargs
