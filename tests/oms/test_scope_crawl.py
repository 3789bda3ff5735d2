"""Scope crawl: every route of the resolver, asked by one customer's and one carrier's people and API keys, with
their own objects and with the other side's (docs/architecture.md, "Who sees what").

Two sides share the Hamburg branch: ACME's order on a master Nordtruck carries, GLOBEX's on a master Hapag-Lloyd
carries, each with every object a route can name (booking, leg, container, appointment, exception, task,
notification, tracking link, order file, milestone file, rate card, intake integration, tracking webhook source).
ACME's portal user, Nordtruck's partner user and both organisations' API keys ask every route, GET and POST, naming
side A's objects, side B's and missing ones. A route:
- answers side B's object exactly as one that does not exist (never a 2xx) and never shows side B's text;
- refuses them (403) when it is a staff screen, that is not one of EXTERNAL;
- never answers 500, to them or to staff, whatever its path holds (an id that names nothing, too large, NUL).
Each persona must open its own pages, so that a crawl whose addresses name nothing cannot pass, and the same crawl
as operations, who see everything, must flag every route that names an object: the detector is tested too. The
console (/admin/), which is the registered models' pages rather than routes of ours, is asked page by page.

A new route is crawled by itself. When the crawl does not know what to put in one of its parameters, or what it
puts in names nothing, the test fails and says so: teach it the route in OBJECTS (or WORDS), or list the route in
NOT_CRAWLED with the reason. Failures name the persona, the address and the route.

The two sides come from the shared (function-scoped) fixtures, so they are built once for one test whose checks
are subtests, each reported on its own. Every request runs in a savepoint rolled back after it: no request finds
what another one changed.
"""

from __future__ import annotations

import datetime
import io
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any, Literal
from urllib.parse import quote, unquote

import pytest
from django.contrib import admin
from django.db import transaction
from django.test import Client
from django.urls import Resolver404, URLPattern, URLResolver, get_resolver, resolve
from django.utils import timezone

from finance.models import RateCard
from orders.models import ImportJob, Integration, IntegrationKind, Order
from partners import services as partner_services
from partners.models import Organisation, User
from portal.links import tracking_link_create
from portal.models import TrackingLink
from tests.conftest import _member
from tests.finance.builders import rate_card
from tests.orders.conftest import account_branches, acme_key, staff_key
from tests.orders.fixtures.imports import csv_bytes, import_file, order_row
from tests.tracking.conftest import make_order, ops_scope
from tests.tracking.test_scoping import second_carrier
from tracking.exceptions.models import ShipmentException
from tracking.ingest import files
from tracking.ingest.models import EventUpload, WebhookSource
from tracking.models import Appointment, Booking, Leg, Shipment, ShipmentEquipment
from tracking.services import booking as booking_services
from tracking.services import container_changes, leg_changes, planning
from workflows.models import Notification, Task

__all__ = ["account_branches", "acme_key", "make_order", "ops_scope", "second_carrier", "staff_key"]


# --- The two sides -------------------------------------------------------------------------------------------------


@dataclass
class Side:
    customer: Organisation
    carrier: Organisation
    order: Order
    master: Shipment
    house: Shipment
    leg: Leg
    booking: Booking
    container: ShipmentEquipment
    appointment: Appointment
    exception: ShipmentException
    task: Task
    notification: Notification
    link: TrackingLink
    token: str
    job: ImportJob
    upload: EventUpload
    rate: RateCard
    integration: Integration
    source: WebhookSource
    people: list[User]  # the customer's person and the carrier's
    markers: list[str] = field(default_factory=list)  # text only this side's pages may show


def _side(
    code: str, *, customer: Organisation, customer_user: User, carrier: Organisation, carrier_user: User,
    make_order: Callable[..., Order], ops_user: User,
) -> Side:  # fmt: skip
    order = make_order(customer_code=customer.code, customer_reference=f"PO-SIDE-{code}")
    master = planning.shipment_plan_direct(order=order, by=ops_user)
    leg = leg_changes.leg_update(leg=master.legs.get(), data={"carrier_id": carrier.pk})
    booking = booking_services.booking_request(shipment=master, carrier=carrier, by=ops_user)
    container = container_changes.container_add(shipment=master, data={"iso_type": "22G1"})
    start = timezone.now() + datetime.timedelta(days=3)
    appointment = Appointment.objects.create(
        shipment=master, kind="pickup", location_id="CNSHA", window_start_at=start,
        window_end_at=start + datetime.timedelta(hours=2),
    )  # fmt: skip
    exception = ShipmentException.objects.create(
        kind="eta_delay", shipment=master, order=order, customer=customer, carrier=carrier, mode=master.mode,
        detail=f"ETA slipped on side {code}",
    )  # fmt: skip
    task = Task.objects.create(order=order, key=f"check-{code}", name=f"Check side {code}", team_function="operations")
    notification = Notification.objects.create(recipient=ops_user, kind="assigned", title=f"Side {code}",
                                               url=f"/tasks/{task.pk}/")  # fmt: skip
    link, token = tracking_link_create(order=order, by=customer_user)
    rows = [order_row(f"PO-FILE-{code}", customer=customer.code), order_row("", customer=customer.code)]
    job = import_file(customer_user, csv_bytes(rows), name=f"orders-{code}.csv")  # its second row has errors
    assert job.error_count == 1, job.error_count
    loaded = f"{timezone.now() - datetime.timedelta(hours=1):%Y-%m-%d %H:%M}"
    milestones = f"reference,milestone,occurred_at,location\r\n{master.reference},LOADED,{loaded},CNSHA\r\n"
    upload = files.upload_process(stream=io.BytesIO(milestones.encode()), file_name=f"milestones-{code}.csv",
                                  by=carrier_user, partner=carrier, time_zone="UTC")  # fmt: skip
    assert (upload.error_count, upload.events_stored) == (0, 1), upload.errors
    master.refresh_from_db()
    house = Shipment.objects.get(order=order, kind="house")
    return Side(
        customer=customer, carrier=carrier, order=order, master=master, house=house, leg=leg, booking=booking,
        container=container, appointment=appointment, exception=exception, task=task, notification=notification,
        link=link, token=token, job=job, upload=upload, rate=rate_card(carrier, mode="road_ftl", name=f"Rates {code}"),
        integration=Integration.objects.create(customer=customer, kind=IntegrationKind.GENERIC,
                                               name=f"ERP of side {code}", secret="whsec_" + "x" * 40),
        source=WebhookSource.objects.create(name=f"feed-{code.lower()}", secret="whsec_" + "y" * 40, carrier=carrier),
        people=[customer_user, carrier_user],
        markers=[order.reference, order.customer_reference, master.reference, house.reference, customer.name,
                 carrier.name, f"orders-{code}.csv", f"milestones-{code}.csv", f"Rates {code}", f"side {code}"],
    )  # fmt: skip


@pytest.fixture
def sides(
    make_order, account_branches, ops_user, customer_a, customer_b, customer_a_user, customer_b_user,
    carrier, carrier_user, second_carrier, settings, tmp_path, fresh_rate_window,
) -> tuple[Side, Side]:  # fmt: skip
    """(A, B): ACME's order carried by Nordtruck, GLOBEX's by Hapag-Lloyd."""
    settings.MEDIA_ROOT = tmp_path / "media"
    settings.OMS_TRACKING_LINK_RATE = 1_000_000  # the crawl opens links far more often than a person would
    second_carrier_user = _member("hanna@hlcu.test", second_carrier, "partner")
    a = _side("A", customer=customer_a, customer_user=customer_a_user, carrier=carrier, carrier_user=carrier_user,
              make_order=make_order, ops_user=ops_user)  # fmt: skip
    b = _side("B", customer=customer_b, customer_user=customer_b_user, carrier=second_carrier,
              carrier_user=second_carrier_user, make_order=make_order, ops_user=ops_user)  # fmt: skip
    return a, b


# --- The routes, and what the crawl puts in their parameters ---------------------------------------------------------

NOT_CRAWLED = {  # the routes the crawl leaves out, by the start of their path: why
    "admin/": "the console, whose pages are the registered models': the console check below asks each of them",
}

# (the path segment before a parameter, the parameter's name) → what of a side it names. Teach the crawl a new route
# here: the object its parameter names, built for both sides in _side() and added to its markers when it shows text.
OBJECTS: dict[tuple[str, str], Callable[[Side], object]] = {
    ("orders", "reference"): lambda side: side.order.reference,
    ("shipments", "reference"): lambda side: side.master.reference,
    ("houses", "house_reference"): lambda side: side.house.reference,
    ("organisations", "code"): lambda side: side.customer.code,
    ("tasks", "pk"): lambda side: side.task.pk,
    ("notifications", "pk"): lambda side: side.notification.pk,
    ("bookings", "pk"): lambda side: side.booking.pk,
    ("legs", "pk"): lambda side: side.leg.pk,
    ("appointments", "pk"): lambda side: side.appointment.pk,
    ("containers", "pk"): lambda side: side.container.pk,
    ("rates", "pk"): lambda side: side.rate.pk,
    ("exceptions", "pk"): lambda side: side.exception.pk,
    ("uploads", "pk"): lambda side: side.upload.pk,
    ("links", "pk"): lambda side: side.link.pk,
    ("imports", "pk"): lambda side: side.job.pk,
    ("order-imports", "pk"): lambda side: side.job.pk,
    ("t", "token"): lambda side: side.token,
    ("shopify", "integration_id"): lambda side: side.integration.pk,
    ("intake", "integration_id"): lambda side: side.integration.pk,
    ("webhooks", "source"): lambda side: side.source.name,
}
# Objects reached by holding a secret, not by scope: a public link opens for whoever has its token, and a webhook
# answers whoever signs, the same to everyone (operations included) — so no scope check applies to them.
SECRETS = {("t", "token"), ("shopify", "integration_id"), ("intake", "integration_id"), ("webhooks", "source")}
# Parameters that name no object, and the value the crawl puts in.
WORDS = {
    ("export", "fmt"): "csv",
    ("template.", "file_format"): "csv",
    ("transition", "name"): "cancel",
    ("<reference>", "transition"): "confirm",
    ("reset", "uidb64"): "MQ",
    ("<uidb64>", "token"): "set-password",
    ("api", "rest"): "nothing",  # the API's own 404 for every other address under /api/
    ("<token>", "rest"): "more",  # a link's address with more after its token: not found
}
# What the crawl posts where an empty body is refused before the object is looked up (else nothing: {}).
BODIES = {"api-task-reassign": {"assignee": None}}
# Odd path values, by kind of parameter (its converter): none names an object of either side.
ODD = {
    "missing id": {"int": "999999", "uuid": "00000000-0000-0000-0000-000000000000", "ref": "HAM-26-999999",
                   "str": "NOPE", "slug": "nope"},
    "id too large": {"int": "99999999999999999999", "ref": "9" * 30},
    "wrong type": {"int": "abc", "uuid": "not-a-uuid", "ref": "%C3%84-1", "str": "%C3%A4", "slug": "%C3%A4"},
    "NUL": {"ref": "HAM%00", "str": "A%00B", "slug": "a%00"},
    "over-long": {"ref": "X" * 3000, "str": "C" * 3000, "slug": "s" * 3000, "int": "1" + "0" * 400},
}  # fmt: skip
MISSING = ODD["missing id"]
PARAMETER = re.compile(r"<(?:(?P<converter>\w+):)?(?P<name>\w+)>|\(\?P<(?P<group>\w+)>[^)]*\)")
KIND_OF_GROUP = {"reference": "ref", "pk": "int"}  # the API router's regular expressions
# The screens customers and partners may open at all; every other screen is staff's (403 for them). A new screen for
# them elsewhere fails as a staff screen that let them in, until it is added here.
EXTERNAL = re.compile(r"^($|portal/|t/|accounts/|healthz|readyz|tracking/(orders/<reference>/$|uploads/))")


@dataclass(frozen=True)
class Parameter:
    key: tuple[str, str]  # (the path segment before it, its name)
    kind: str  # its converter's: which odd values reach the view


@dataclass(frozen=True)
class Route:
    pattern: str  # as the resolver spells it, each parameter written <name>
    name: str
    parameters: tuple[Parameter, ...]

    def __str__(self) -> str:
        return f"{self.name or '(no name)'} /{self.pattern}"

    @property
    def api(self) -> bool:
        return self.pattern.startswith("api/")

    @property
    def staff_screen(self) -> bool:
        """Whether it is a screen for our staff only (customers and partners get 403)."""
        return not self.api and not EXTERNAL.match(self.pattern)

    @property
    def scoped(self) -> bool:
        """Whether it names an object that only some may reach."""
        return any(p.key in OBJECTS and p.key not in SECRETS for p in self.parameters)

    @property
    def names_object(self) -> bool:
        return any(p.key in OBJECTS for p in self.parameters)

    def unknown(self) -> list[str]:
        """Its parameters the crawl does not know how to fill."""
        return [f"{p.key[1]!r} after {p.key[0]!r}" for p in self.parameters if p.key not in OBJECTS | WORDS]

    def url(self, side: Side, odd: dict[str, str] | None = None, *, then: Side | None = None) -> str:
        """Its address naming the side's objects (`odd`: the value to put in instead, by kind of parameter; `then`:
        the side whose objects follow the first one, as a link of another order under one's own order)."""
        objects = [p for p in self.parameters if p.key in OBJECTS]
        values = iter(
            (odd or {}).get(p.kind, str(OBJECTS[p.key](then if then and p is not objects[0] else side)))
            if p.key in OBJECTS
            else WORDS[p.key]
            for p in self.parameters
        )
        return "/" + re.sub(r"<\w+>", lambda _: next(values), self.pattern)

    def urls_of_other(self, own: Side, other: Side) -> list[str]:
        """Its addresses naming the other side's objects: only those and, where it names more than one, the other
        side's under the first one of its own (another order's link under one's own order)."""
        mixed = self.url(own, then=other)
        return [self.url(other)] + ([mixed] if mixed != self.url(own) else [])


def _route(pattern: str, name: str) -> Route:
    plain = PARAMETER.sub(lambda match: f"<{match['name'] or match['group']}>", pattern)
    plain = plain.replace("^", "").replace("$", "")  # the API router's anchors
    parameters = []
    for match, placeholder in zip(PARAMETER.finditer(pattern), re.finditer(r"<(\w+)>", plain), strict=True):
        segment = plain[: placeholder.start()].rstrip("/").rsplit("/", 1)[-1]
        kind = match["converter"] or KIND_OF_GROUP.get(placeholder[1], "word")
        parameters.append(Parameter(key=(segment, placeholder[1]), kind=kind))
    return Route(pattern=plain, name=name, parameters=tuple(parameters))


def _resolver_routes(patterns: list[Any] | None = None, prefix: str = "", namespace: str = "") -> Iterator[Route]:
    for entry in get_resolver().url_patterns if patterns is None else patterns:
        if isinstance(entry, URLResolver):
            inner = f"{namespace}{entry.namespace}:" if entry.namespace else namespace
            yield from _resolver_routes(entry.url_patterns, prefix + str(entry.pattern), inner)
        elif isinstance(entry, URLPattern):
            yield _route(prefix + str(entry.pattern), f"{namespace}{entry.name}" if entry.name else "")


ROUTES = [route for route in _resolver_routes() if not route.pattern.startswith(tuple(NOT_CRAWLED))]


# --- The crawl -----------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Problem:
    route: Route | None
    # exposure: the other side's object or text reached; staff screen: one not refused; error: a 500; own page: one
    # that did not open with the persona's own objects
    kind: Literal["exposure", "staff screen", "error", "own page"]
    text: str

    def __str__(self) -> str:
        return self.text


def _ask(client: Client, method: str, url: str, body: dict[str, Any] | None = None) -> tuple[int, str]:
    """The status and the body of one request, made in a savepoint rolled back after it: no request finds what
    another one changed (a revoked link, a removed leg)."""
    with transaction.atomic():
        if method == "get":
            response = client.get(url)
        elif url.startswith("/api/"):
            response = client.post(url, data=body or {}, content_type="application/json")
        else:
            response = client.post(url)
        content = response.getvalue()  # streamed too (the error file, the exports)
        transaction.set_rollback(True)
    return response.status_code, content.decode("utf-8", "replace")


def _shows(page: str, markers: list[str]) -> list[str]:
    """The markers the page shows as words of their own (HAM-26-000012 is not in M-HAM-26-000012)."""
    return [m for m in markers if m in page and re.search(rf"(?<![\w-]){re.escape(m)}(?![\w-])", page)]


def crawl(
    client: Client, own: Side, other: Side, *, who: str, api: bool, opens: tuple[str, ...] = (),
    routes: list[Route] = ROUTES, methods: tuple[str, ...] = ("get", "post"), with_own: bool = True,
) -> list[Problem]:  # fmt: skip
    """Every screen route (every API route with `api`) asked by `who`, naming its own side's objects (unless not
    `with_own`), the other side's and, to compare, missing ones. Problems: the other side's object reached (an
    answer other than the one to a missing object, or a 2xx) or its text shown; a staff screen not refused (403); a
    500; each of `opens` (route names) that did not open (200) with its own side's objects."""
    problems: list[Problem] = []
    opened: set[str] = set()

    def at(route: Route, method: str, url: str) -> str:
        return f"{who} {method.upper()} {url} ({route.name or route.pattern})"

    def ask(route: Route, method: str, url: str, *, read: bool = True) -> int:
        status, page = _ask(client, method, url, BODIES.get(route.name))
        where = at(route, method, url)
        if status >= 500 and not (route.name == "readyz" and status == 503):  # readyz: 503 is its red light
            problems.append(Problem(route, "error", f"{where}: {status}"))
        elif route.staff_screen and status not in (403, 405):
            problems.append(Problem(route, "staff screen", f"{where}: {status} on a staff screen (403 expected)"))
        if read and (leaked := _shows(page, other.markers)):
            problems.append(Problem(route, "exposure", f"{where}: {status} shows the other side's {', '.join(leaked)}"))
        return status

    for route in routes:
        if route.api != api or route.unknown():
            continue
        for method in methods:
            if with_own or not route.names_object:
                status = ask(route, method, route.url(own))
                if method == "get" and status == 200:
                    opened.add(route.name)
                if not route.names_object or (route.staff_screen and status in (403, 405)):
                    continue  # one address for both sides, or a staff screen refused whatever it names
            missing = None
            for url in route.urls_of_other(own, other):
                # The other side's secret opens for whoever holds it, by design: only its 500s count.
                status = ask(route, method, url, read=route.scoped)
                if not route.scoped or status == 404 or (route.staff_screen and status in (403, 405)):
                    continue  # refused as the architecture says: nothing to compare
                missing = missing or ask(route, method, route.url(own, MISSING))
                if 200 <= status < 300 or status != missing:
                    text = f"{status} on the other side's object, where a missing one gets {missing}"
                    problems.append(Problem(route, "exposure", f"{at(route, method, url)}: {text}"))
    by_name = {route.name: route for route in ROUTES}
    return problems + [
        Problem(by_name.get(name), "own page", f"{who} could not open its own {name} with its own objects (200)")
        for name in opens
        if name not in opened
    ]


def _unflagged(problems: list[Problem]) -> list[Route]:
    """The routes naming a scoped object on which these problems hold no exposure."""
    exposed = {problem.route for problem in problems if problem.kind == "exposure"}
    return [route for route in ROUTES if route.scoped and route not in exposed]


def _odd_addresses(routes: list[Route], side: Side, values: dict[str, str]) -> list[tuple[Route, str]]:
    """The routes' addresses with odd values instead of the side's objects: those the values change and that reach
    a view (to a value its converter refuses, the resolver itself answers 404)."""
    addresses = []
    for route in routes:
        url = route.url(side, values)
        if url == route.url(side):
            continue
        try:
            resolve(unquote(url))
        except Resolver404:
            continue
        addresses.append((route, quote(url, safe="/%")))
    return addresses


def _signed_in(user: User) -> Client:
    client = Client(raise_request_exception=False)
    client.force_login(user)
    return client


def _keyed(key: str) -> Client:
    return Client(raise_request_exception=False, HTTP_AUTHORIZATION=f"Bearer {key}")


def _report(problems: list[Problem]) -> str:
    return "\n".join(str(problem) for problem in problems)


def test_no_customer_or_partner_reaches_the_other_sides_objects_on_any_route(
    sides, subtests, ops_user, customer_a_user, carrier, carrier_user, acme_key, staff_key
):
    """Every route, as ACME's and Nordtruck's people and keys, with their own objects and the other side's; the same
    crawl as operations must flag exposure everywhere; no route answers 500 to odd path values; the console."""
    a, b = sides
    alice, charlie = _signed_in(customer_a_user), _signed_in(carrier_user)
    ops, staff_api = _signed_in(ops_user), _keyed(staff_key)

    with subtests.test("the crawl fills every route"):
        unknown = [f"{route}: {', '.join(route.unknown())}" for route in ROUTES if route.unknown()]
        assert not unknown, (
            "The crawl does not know what to put in these routes' parameters. Teach it: the object each names in "
            "OBJECTS (or the value in WORDS), in tests/oms/test_scope_crawl.py; or list the route in NOT_CRAWLED "
            "with the reason.\n" + "\n".join(unknown)
        )

    with subtests.test("ACME's and Nordtruck's people reach nothing of the other side"):
        problems = crawl(alice, a, b, who="alice@acme", api=False, opens=(
            "tracking_ingest:order_timeline", "portal:tracking_links", "portal:tracking_link_revoke",
            "portal_imports:detail", "portal_imports:errors", "public_tracking"))  # fmt: skip
        problems += crawl(charlie, a, b, who="charlie@nordtruck", api=False, opens=(
            "tracking_ingest:order_timeline", "tracking_ingest:upload_detail", "portal:shipments"))  # fmt: skip
        assert not problems, _report(problems)

    with subtests.test("ACME's and Nordtruck's API keys reach nothing of the other side"):
        _, carrier_key = partner_services.api_key_create(organisation=carrier, name="Nordtruck TMS")
        problems = crawl(_keyed(acme_key), a, b, who="ACME's key", api=True, opens=(
            "api-order-detail", "api-order-timeline", "api-order-import-detail", "api-order-transitions"))  # fmt: skip
        problems += crawl(_keyed(carrier_key), a, b, who="Nordtruck's key", api=True, opens=("api-order-timeline",))
        assert not problems, _report(problems)

    with subtests.test("the crawl flags operations, who see everything, on every route naming an object"):
        # The other side's objects only; GET first, then POST where GET found nothing (the actions answer GET 405).
        flagged = crawl(ops, a, b, who="ops", api=False, methods=("get",), with_own=False)
        flagged += crawl(staff_api, a, b, who="staff key", api=True, methods=("get",), with_own=False)
        rest = _unflagged(flagged)
        flagged += crawl(ops, a, b, who="ops", api=False, methods=("post",), with_own=False, routes=rest)
        flagged += crawl(staff_api, a, b, who="staff key", api=True, methods=("post",), with_own=False, routes=rest)
        # The screens operations are sent away from (the portal's order files: staff read them under /imports/):
        # the other side's own people, who see its objects, must be flagged there.
        for person in b.people:
            flagged += crawl(_signed_in(person), a, b, who=person.email, api=False, with_own=False,
                             routes=_unflagged(flagged))  # fmt: skip
        missed = _unflagged(flagged)
        assert not missed, (
            "The crawl saw none of the other side's objects on these routes, though operations see them all: its "
            "address names no object there (teach the crawl that route's object in OBJECTS) or the route stopped "
            "answering operations.\n" + "\n".join(str(route) for route in missed)
        )
        shown = {problem.route.name for problem in flagged if problem.route and "shows the other" in problem.text}
        assert {"orders:list", "api-order-list"} <= shown, "the crawl no longer finds the other side's text"
        errors = [problem for problem in flagged if problem.kind == "error"]
        assert not errors, _report(errors)

    named = [route for route in ROUTES if route.names_object and not route.unknown()]
    screens = [route for route in named if not route.api]
    outside = [route for route in screens if not route.staff_screen]  # staff screens refuse them before reading
    for odd, values in ODD.items():
        with subtests.test(f"no route answers 500 to an odd path value: {odd}"):
            crashed = []
            for who, client, routes in (
                ("ops", ops, screens), ("staff key", staff_api, [route for route in named if route.api]),
                ("alice@acme", alice, outside), ("charlie@nordtruck", charlie, outside),
            ):  # fmt: skip
                for route, url in _odd_addresses(routes, a, values):
                    for method in ("get", "post"):
                        status, _ = _ask(client, method, url)
                        if status >= 500:
                            crashed.append(f"{who} {method.upper()} {url[:80]} ({route}): {status}")
            assert not crashed, "\n".join(crashed)

    with subtests.test("the console refuses people without console access"):
        pages = ["/admin/"]
        for model in admin.site._registry:
            base = f"/admin/{model._meta.app_label}/{model._meta.model_name}/"
            pages += [base, f"{base}add/"]
            first = model._default_manager.order_by("pk").first()
            if first is not None:
                pages.append(f"{base}{quote(str(first.pk))}/change/")
        let_in = []
        for user in (ops_user, customer_a_user):  # the console asks only whether one may open it (is_staff)
            client = _signed_in(user)
            let_in += [f"{user.email} GET {page}: {status}" for page in pages
                       if (status := client.get(page).status_code) == 200 or status >= 500]  # fmt: skip
        assert not let_in, "\n".join(let_in)
