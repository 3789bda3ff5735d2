"""Workflow API: every lifecycle transition other than submit and cancel (orders.api has those), the
transitions the caller may take on an order, and tasks for staff keys (list, complete, reassign).

Transitions answer 409 with the reason when they cannot be taken now (wrong state, a guard such as an
open blocking task, the role, or a lost race); errors have the project's one shape (oms/api_errors.py).
"""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet, prefetch_related_objects
from django.shortcuts import get_object_or_404
from django.utils import timezone
from drf_spectacular.utils import OpenApiExample, OpenApiParameter, extend_schema
from rest_framework import exceptions, serializers, status, viewsets
from rest_framework.decorators import action, api_view
from rest_framework.pagination import CursorPagination
from rest_framework.request import Request
from rest_framework.response import Response

from oms.api_errors import error_example, error_response
from orders import lifecycle
from orders import services as order_services
from orders.api import OrderSerializer, TransitionSerializer
from orders.api_docs import IDEMPOTENCY_IN_PROGRESS, IDEMPOTENCY_KEY, IDEMPOTENCY_REUSED
from orders.models import Channel, Order
from partners import idempotency
from partners.models import ApiKey, User
from partners.scoping import Scope, scope_for_request
from workflows import services
from workflows.errors import TaskAssigneeNotStaff, TaskNotAllowed, TaskPermissionDenied
from workflows.models import Task, TaskState

# submit and cancel have their own endpoints in orders.api.
WORKFLOW_TRANSITIONS = tuple(name for name in lifecycle.TRANSITIONS if name not in ("submit", "cancel"))


def _actor(request: Request) -> dict[str, Any]:
    return {
        "by": request.user if isinstance(request.user, User) else None,
        "api_key": request.auth if isinstance(request.auth, ApiKey) else None,
    }


class TransitionInputSerializer(serializers.Serializer):
    reason = serializers.CharField(
        required=False, allow_blank=True, max_length=300, help_text="Required for hold; kept in the history."
    )

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        # A missing reason is the body's fault (400 on `reason`, as cancel answers), not the order's state (409).
        if lifecycle.TRANSITIONS[self.context["transition"]].needs_reason and not attrs.get("reason"):
            raise serializers.ValidationError({"reason": ["This field is required."]})
        return attrs


def _order_for(scope: Scope, reference: str) -> Order:
    # A lower-case reference names the same order, as on the order endpoints and the timeline.
    orders = scope.restrict(Order.objects.all(), customer="customer_id")
    return get_object_or_404(orders, reference=reference.upper())


_CONFLICT = error_response(
    "The transition cannot be taken now: wrong state, an open blocking task, your role, or the order changed "
    "meanwhile (the loser of a race); or the same Idempotency-Key is still running (retry after Retry-After).",
    error_example("Blocked by tasks", "transition_not_allowed", "Finish first: Book container space."),
    error_example(
        "Changed meanwhile",
        "concurrent_change",
        "The order changed meanwhile: it is now on hold. Reload it and try again.",
    ),
    IDEMPOTENCY_IN_PROGRESS,
)
_NO_REASON = error_response(
    "The body has errors: no `reason` for a transition that needs one (hold), or no JSON.",
    error_example("No reason", "validation_error", "The request has 1 error.", {"reason": ["This field is required."]}),
    error_example("Malformed JSON", "parse_error", "JSON parse error - Expecting value: line 1 column 1 (char 0)"),
)


@extend_schema(
    operation_id="orders_transition",
    summary="Take a lifecycle transition",
    description="One endpoint per transition: " + ", ".join(WORKFLOW_TRANSITIONS) + ". Accepts an "
    "`Idempotency-Key` header. The answer is the order, as GET /orders/{reference}/ returns it. The tasks "
    "and automation the transition sets off are made by the workflow worker right after, in batches (under "
    "a second at normal load): poll GET /tasks/?order={reference} rather than expect them in this answer.",
    parameters=[
        OpenApiParameter("transition", str, OpenApiParameter.PATH, enum=list(WORKFLOW_TRANSITIONS)),
        IDEMPOTENCY_KEY,
    ],
    request=TransitionInputSerializer,
    responses={200: OrderSerializer, 400: _NO_REASON, 409: _CONFLICT, 422: IDEMPOTENCY_REUSED},
    examples=[OpenApiExample("Hold", value={"reason": "Customer asked us to wait for the L/C."}, request_only=True)],
    tags=["orders"],
)
@api_view(["POST"])
def order_transition(request: Request, reference: str, transition: str) -> Response:
    scope = scope_for_request(request)

    def execute() -> Response:
        order = _order_for(scope, reference)
        payload = TransitionInputSerializer(data=request.data, context={"transition": transition})
        payload.is_valid(raise_exception=True)
        order = order_services.order_transition(
            order=order, name=transition, scope=scope, channel=Channel.API,
            reason=payload.validated_data.get("reason", ""), **_actor(request),
        )  # fmt: skip
        prefetch_related_objects([order], "customer", "branch", "lines", "equipment")
        return Response(OrderSerializer(order, context={"scope": scope, "request": request}).data)

    return idempotency.idempotent(request, execute=execute)


@extend_schema(
    operation_id="orders_transitions_list",
    summary="Transitions the caller may take on an order",
    description="Every transition leaving the order's state that the caller's role may take, each with "
    "`allowed` now and, when not, the `reason` (e.g. open tasks that block it): the order's own `transitions`.",
    responses={200: TransitionSerializer(many=True)},
    tags=["orders"],
)
@api_view(["GET"])
def order_transitions(request: Request, reference: str) -> Response:
    scope = scope_for_request(request)
    order = _order_for(scope, reference)
    return Response(TransitionSerializer(lifecycle.available_transitions(order, scope), many=True).data)


# ---- Tasks --------------------------------------------------------------------------------------


class TaskSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    order = serializers.CharField(source="order.reference", help_text="The order's reference.")
    name = serializers.CharField()
    instructions = serializers.CharField()
    team = serializers.CharField(source="team.name", allow_null=True, default=None)
    team_function = serializers.CharField(help_text="sales, operations, documentation, customs or finance.")
    assignee = serializers.EmailField(source="assignee.email", allow_null=True, default=None)
    state = serializers.ChoiceField(TaskState.choices)
    due_at = serializers.DateTimeField(allow_null=True)
    is_overdue = serializers.BooleanField()
    available_at = serializers.DateTimeField(allow_null=True, help_text="When a scheduled task opens.")
    blocks = serializers.ListField(child=serializers.CharField(), help_text="Transitions it holds back while open.")
    waiting_on = serializers.ListField(child=serializers.CharField(), help_text="Tasks (keys) to finish first.")
    created_at = serializers.DateTimeField()
    completed_at = serializers.DateTimeField(allow_null=True)


class TaskFilterSerializer(serializers.Serializer):
    order = serializers.CharField(required=False, help_text="Order reference.")
    state = serializers.ChoiceField(TaskState.choices, required=False)
    team_function = serializers.CharField(required=False)
    assignee = serializers.EmailField(required=False, help_text="The assignee's email address.")
    overdue = serializers.BooleanField(required=False, allow_null=True, default=None)


class CompleteInputSerializer(serializers.Serializer):
    note = serializers.CharField(required=False, allow_blank=True, max_length=300)


class ReassignInputSerializer(serializers.Serializer):
    assignee = serializers.EmailField(allow_null=True, help_text="A staff member's email; null: the team queue.")


class TaskPagination(CursorPagination):
    ordering = ("id",)
    page_size = 50
    page_size_query_param = "page_size"
    max_page_size = 200


_BAD_FILTER = error_response(
    "A filter has a bad value.",
    error_example(
        "Bad filter", "validation_error", "The request has 1 error.", {"state": ['"shut" is not a valid choice.']}
    ),
)
_BAD_CURSOR = error_response("The cursor is not valid.", error_example("Bad cursor", "not_found", "Invalid cursor"))
_TASK_CONFLICT = error_response(
    "The task cannot do that now (done already, waits for another task, or changed meanwhile); or the same "
    "Idempotency-Key is still running (retry after Retry-After).",
    error_example("Waiting", "conflict", "This task waits for Send the house bill of lading to be done first."),
    IDEMPOTENCY_IN_PROGRESS,
)
_BAD_ASSIGNEE = error_response(
    "The body has errors: `assignee` is no OMS user's address, or names someone who can never have a task (not "
    "active OMS staff: a customer's person, a leaver). Retrying the same body cannot help.",
    error_example(
        "Not staff", "validation_error", "The request has 1 error.",
        {"assignee": ["Tasks can only go to active OMS staff."]},
    ),
    error_example(
        "Unknown", "validation_error", "The request has 1 error.",
        {"assignee": ["No OMS user has this email address."]},
    ),
)  # fmt: skip
_BAD_NOTE = error_response(
    "The body has errors: the note is longer than the task's history keeps (300 characters).",
    error_example(
        "Note too long", "validation_error", "The request has 1 error.",
        {"note": ["Ensure this field has no more than 300 characters."]},
    ),
)  # fmt: skip


class TaskViewSet(viewsets.GenericViewSet):
    """Tasks for staff API keys and staff sessions: customers and partners get 403."""

    serializer_class = TaskSerializer
    pagination_class = TaskPagination

    @property
    def scope(self) -> Scope:
        scope = scope_for_request(self.request)
        if not scope.is_staff:
            raise exceptions.PermissionDenied("Tasks are for OMS staff keys.")
        return scope

    def initial(self, request: Request, *args: Any, **kwargs: Any) -> None:
        """After authentication: customers and partners get their 403 before a body, a filter or an id is read (a
        customer's key posting an empty body to reassign was told the body lacked an assignee)."""
        super().initial(request, *args, **kwargs)
        self.scope  # noqa: B018 - raises for non-staff

    def get_queryset(self) -> QuerySet[Task]:
        if getattr(self, "swagger_fake_view", False):  # drf-spectacular reading the schema: no request
            return Task.objects.none()
        self.scope  # noqa: B018 - raises for non-staff before any row is read
        return Task.objects.select_related("order", "team", "assignee")

    @extend_schema(
        summary="List tasks",
        parameters=[TaskFilterSerializer],
        responses={200: TaskSerializer(many=True), 400: _BAD_FILTER, 404: _BAD_CURSOR},
        tags=["tasks"],
    )
    def list(self, request: Request) -> Response:
        filters = TaskFilterSerializer(data=request.query_params)
        filters.is_valid(raise_exception=True)
        tasks = self.get_queryset()
        given = filters.validated_data
        if "order" in given:
            tasks = tasks.filter(order__reference=given["order"].strip().upper())  # references are upper case
        if "state" in given:
            tasks = tasks.filter(state=given["state"])
        if "team_function" in given:
            tasks = tasks.filter(team_function=given["team_function"])
        if "assignee" in given:
            tasks = tasks.filter(assignee__email__iexact=given["assignee"])
        if given.get("overdue") is not None:
            overdue = {"state": TaskState.OPEN, "due_at__lt": timezone.now()}
            tasks = tasks.filter(**overdue) if given["overdue"] else tasks.exclude(**overdue)
        page = self.paginate_queryset(tasks)
        return self.get_paginated_response(TaskSerializer(page, many=True).data)

    def _task(self, pk: str | int) -> Task:
        if not (str(pk).isascii() and str(pk).isdigit()):  # the router takes any segment: "abc" is no id (404)
            raise exceptions.NotFound()
        return get_object_or_404(self.get_queryset(), pk=pk)

    def _act(self, act: Any) -> Response:
        try:
            task = act()
        except TaskPermissionDenied as exc:
            raise exceptions.PermissionDenied(str(exc)) from exc
        except TaskAssigneeNotStaff as exc:
            raise exceptions.ValidationError({"assignee": [str(exc)]}) from exc
        except TaskNotAllowed as exc:
            raise _TaskConflict(str(exc)) from exc
        return Response(TaskSerializer(self._task(task.pk)).data)

    @extend_schema(
        summary="Complete a task",
        description="Marks an open task done, recorded as done by the calling API key (its name shows on the task's "
        "page and history). A scheduled task (not open yet) can be done early: it blocks its steps until it is done, "
        "and its history says it was done before it opened. Accepts an `Idempotency-Key` header: a retry replays "
        "the first answer.",
        parameters=[IDEMPOTENCY_KEY],
        request=CompleteInputSerializer,
        responses={200: TaskSerializer, 400: _BAD_NOTE, 409: _TASK_CONFLICT, 422: IDEMPOTENCY_REUSED},
        tags=["tasks"],
    )
    @action(detail=True, methods=["post"])
    def complete(self, request: Request, pk: str) -> Response:
        def execute() -> Response:
            payload = CompleteInputSerializer(data=request.data)
            payload.is_valid(raise_exception=True)
            task = self._task(pk)
            note = payload.validated_data.get("note", "")
            return self._act(lambda: services.task_complete(task=task, scope=self.scope, note=note, **_actor(request)))

        return idempotency.idempotent(request, execute=execute)

    @extend_schema(
        summary="Reassign a task",
        description="Gives the task to an active OMS staff member (they are told, naming the calling API key), or "
        "back to the team queue. Accepts an `Idempotency-Key` header: a retry replays the first answer.",
        parameters=[IDEMPOTENCY_KEY],
        request=ReassignInputSerializer,
        responses={200: TaskSerializer, 400: _BAD_ASSIGNEE, 409: _TASK_CONFLICT, 422: IDEMPOTENCY_REUSED},
        tags=["tasks"],
    )
    @action(detail=True, methods=["post"])
    def reassign(self, request: Request, pk: str) -> Response:
        def execute() -> Response:
            payload = ReassignInputSerializer(data=request.data)
            payload.is_valid(raise_exception=True)
            task = self._task(pk)
            email = payload.validated_data["assignee"]
            assignee_id = None
            if email:
                assignee_id = User.objects.filter(email__iexact=email).values_list("pk", flat=True).first()
                if assignee_id is None:
                    raise exceptions.ValidationError({"assignee": ["No OMS user has this email address."]})
            return self._act(
                lambda: services.task_reassign(task=task, scope=self.scope, assignee_id=assignee_id, **_actor(request))
            )

        return idempotency.idempotent(request, execute=execute)


class _TaskConflict(exceptions.APIException):
    status_code = status.HTTP_409_CONFLICT
    default_code = "conflict"
