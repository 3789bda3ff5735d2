"""The workflow API: one endpoint per transition answering 409 with the reason, the transitions an order
offers the caller, and tasks for staff keys (list, complete, reassign)."""

from __future__ import annotations

import pytest
from django.urls import resolve, reverse

from orders.models import OrderStatus, OrderTransition
from partners import services as partner_services
from workflows.models import AssignRule, Notification, Task, TaskEvent, TaskState

from .conftest import definition, tasks_of


def bearer(raw_key: str) -> dict[str, str]:
    return {"HTTP_AUTHORIZATION": f"Bearer {raw_key}"}


@pytest.fixture
def staff_key(company) -> str:
    return partner_services.api_key_create(organisation=company, name="Control tower")[1]


@pytest.fixture
def acme_key(customer_a) -> str:
    return partner_services.api_key_create(organisation=customer_a, name="ACME ERP")[1]


@pytest.fixture
def order(make_template, make_order, ops_team, committed):
    make_template("Ocean", [
        definition("book", name="Book container space", blocks=["confirm"]),
        definition("prealert", depends_on=["book"], assign_rule=AssignRule.TEAM_QUEUE),
    ])  # fmt: skip
    with committed():
        return make_order(submit=True)


def post(client, url, key, data=None, **headers):
    return client.post(url, data or {}, content_type="application/json", **bearer(key), **headers)


def test_submit_and_cancel_stay_with_the_orders_api_and_the_rest_come_here():
    assert resolve("/api/v1/orders/HAM-26-000001/submit/").func.__module__ == "orders.api"
    assert resolve("/api/v1/orders/HAM-26-000001/cancel/").func.__module__ == "orders.api"
    for name in ("confirm", "plan", "depart", "arrive", "deliver", "complete", "invoice", "close", "hold", "release"):
        assert resolve(f"/api/v1/orders/HAM-26-000001/{name}/").url_name == "api-order-transition"


def test_a_blocked_transition_answers_409_with_the_reason(client, order, staff_key):
    response = post(client, f"/api/v1/orders/{order.reference}/confirm/", staff_key)
    assert response.status_code == 409
    assert response.json() == {"error": {"code": "transition_not_allowed", "fields": {},
                                         "message": "Finish first: Book container space."}}  # fmt: skip


def test_a_transition_that_is_allowed_moves_the_order(client, order, staff_key, committed):
    Task.objects.filter(order=order).update(state=TaskState.DONE)
    with committed():
        response = post(client, f"/api/v1/orders/{order.reference}/confirm/", staff_key)
    assert response.status_code == 200
    assert response.json()["status"] == "confirmed"
    assert OrderTransition.objects.get(order=order, name="confirm").channel == "api"


@pytest.mark.parametrize("body", [{}, {"reason": ""}, {"reason": "   "}])
def test_hold_without_a_reason_is_a_400_on_reason(client, order, staff_key, body):
    # The body's fault, as on cancel: a 409 would say the order cannot be held now.
    response = post(client, f"/api/v1/orders/{order.reference}/hold/", staff_key, body)
    assert response.status_code == 400
    assert response.json()["error"] == {
        "code": "validation_error",
        "message": "The request has 1 error.",
        "fields": {"reason": ["This field is required."]},
    }
    assert not OrderTransition.objects.filter(order=order, name="hold").exists()


def test_hold_with_a_reason_and_release_returns(client, order, staff_key, committed):
    url = f"/api/v1/orders/{order.reference}/"
    with committed():
        held = post(client, url + "hold/", staff_key, {"reason": "Waiting for the L/C."})
        released = post(client, url + "release/", staff_key)
    assert (held.json()["status"], released.json()["status"]) == ("on_hold", "submitted")


def test_a_transition_the_keys_role_may_not_take_is_409(client, order, staff_key):
    response = post(client, f"/api/v1/orders/{order.reference}/invoice/", staff_key)
    assert response.status_code == 409
    assert response.json()["error"]["message"] == "Your role may not mark orders as invoiced."


def test_customers_get_409_on_their_own_order_and_404_on_anyone_elses(client, order, acme_key, customer_b):
    mine = post(client, f"/api/v1/orders/{order.reference}/confirm/", acme_key)
    assert (mine.status_code, mine.json()["error"]["message"]) == (409, "You may not confirm this order.")
    held = post(client, f"/api/v1/orders/{order.reference}/hold/", acme_key, {"reason": "Waiting for the L/C."})
    assert (held.status_code, held.json()["error"]["message"]) == (409, "You may not put this order on hold.")
    other_key = partner_services.api_key_create(organisation=customer_b, name="Globex")[1]
    assert post(client, f"/api/v1/orders/{order.reference}/confirm/", other_key).status_code == 404


def test_the_same_idempotency_key_takes_the_transition_once(client, order, staff_key, committed):
    url = f"/api/v1/orders/{order.reference}/hold/"
    with committed():
        first = post(client, url, staff_key, {"reason": "Credit."}, HTTP_IDEMPOTENCY_KEY="hold-1")
        again = post(client, url, staff_key, {"reason": "Credit."}, HTTP_IDEMPOTENCY_KEY="hold-1")
    assert (first.status_code, again.status_code) == (200, 200)
    assert OrderTransition.objects.filter(order=order, name="hold").count() == 1


def test_a_lower_case_reference_names_the_same_order_everywhere(client, order, staff_key, committed):
    lower = order.reference.lower()
    assert client.get(f"/api/v1/orders/{lower}/", **bearer(staff_key)).json()["reference"] == order.reference
    assert client.get(f"/api/v1/orders/{lower}/transitions/", **bearer(staff_key)).status_code == 200
    assert client.get(f"/api/v1/orders/{lower}/timeline/", **bearer(staff_key)).json()["order"] == order.reference
    with committed():
        held = post(client, f"/api/v1/orders/{lower}/hold/", staff_key, {"reason": "Credit."})
    assert (held.status_code, held.json()["reference"]) == (200, order.reference)


def test_the_tasks_order_filter_reads_the_reference_case_blind(client, order, staff_key, ops_user, login):
    upper = client.get("/api/v1/tasks/", {"order": order.reference}, **bearer(staff_key)).json()["results"]
    lower = client.get("/api/v1/tasks/", {"order": f" {order.reference.lower()}"}, **bearer(staff_key)).json()
    assert len(upper) == 2
    assert [t["id"] for t in lower["results"]] == [t["id"] for t in upper]
    screen = login(ops_user).get(f"/tasks/orders/{order.reference.lower()}/")
    assert screen.status_code == 200


def test_the_transitions_the_caller_may_take_with_reasons(client, order, staff_key):
    response = client.get(f"/api/v1/orders/{order.reference}/transitions/", **bearer(staff_key))
    offered = {t["name"]: t for t in response.json()}
    assert set(offered) == {"confirm", "hold", "cancel"}
    assert (offered["confirm"]["allowed"], offered["confirm"]["reason"]) == (
        False,
        "Finish first: Book container space.",
    )
    assert offered["hold"]["needs_reason"] is True


def test_staff_keys_list_an_orders_tasks(client, order, staff_key):
    response = client.get("/api/v1/tasks/", {"order": order.reference}, **bearer(staff_key))
    assert response.status_code == 200
    rows = {row["name"]: row for row in response.json()["results"]}
    book = rows["Book container space"]
    assert book["order"] == order.reference
    assert book["team"] == "HAM Operations"
    assert book["state"] == "open"
    assert book["blocks"] == ["confirm"]
    assert book["is_overdue"] is False
    assert rows["Prealert"]["assignee"] is None
    assert rows["Prealert"]["waiting_on"] == ["book"]


def test_the_task_list_costs_the_same_queries_for_many_tasks(
    client, order, staff_key, make_order, committed, django_assert_max_num_queries
):
    client.get("/api/v1/tasks/", **bearer(staff_key))  # the key's throttle row exists from here on
    with django_assert_max_num_queries(12) as few:
        client.get("/api/v1/tasks/", **bearer(staff_key))
    with committed():
        for _ in range(5):
            make_order(submit=True)
    with django_assert_max_num_queries(len(few.captured_queries)):
        response = client.get("/api/v1/tasks/", **bearer(staff_key))
    assert len(response.json()["results"]) == 12


def test_tasks_filter_by_state_and_assignee(client, order, staff_key, ops_user):
    mine = client.get("/api/v1/tasks/", {"assignee": ops_user.email, "state": "open"}, **bearer(staff_key)).json()
    assert {row["assignee"] for row in mine["results"]} <= {ops_user.email}
    done = client.get("/api/v1/tasks/", {"state": "done"}, **bearer(staff_key)).json()
    assert done["results"] == []


def test_a_bad_cursor_on_the_task_list_is_the_documented_404(client, order, staff_key):
    response = client.get("/api/v1/tasks/", {"cursor": "not-a-cursor"}, **bearer(staff_key))
    assert (response.status_code, response.json()["error"]) == (
        404, {"code": "not_found", "message": "Invalid cursor", "fields": {}}
    )  # fmt: skip
    schema = client.get("/api/schema/?format=json").json()
    documented = schema["paths"]["/api/v1/tasks/"]["get"]["responses"]["404"]["content"]["application/json"]
    assert documented["schema"] == {"$ref": "#/components/schemas/ApiError"}
    assert [example["value"]["error"]["message"] for example in documented["examples"].values()] == ["Invalid cursor"]


@pytest.mark.parametrize("who", ["customer", "nobody"])
def test_tasks_are_for_staff_only(client, order, acme_key, who):
    headers = bearer(acme_key) if who == "customer" else {}
    response = client.get("/api/v1/tasks/", **headers)
    assert response.status_code == (403 if who == "customer" else 401)


@pytest.mark.parametrize(("action", "body"), [("reassign", {}), ("complete", {"note": "x" * 301})])
def test_a_customer_key_is_refused_a_task_action_before_its_body_is_read(client, order, acme_key, action, body):
    """The task endpoints are for staff (403 to customers and partners, as documented): an empty or bad body from a
    customer's key was told what the body lacked (400), as if the action were open to it once the body was right."""
    task = Task.objects.filter(order=order).first()
    response = client.post(
        f"/api/v1/tasks/{task.pk}/{action}/", body, content_type="application/json", **bearer(acme_key)
    )
    assert response.status_code == 403


def test_completing_over_the_api(client, order, staff_key):
    tasks = tasks_of(order)
    waiting = post(client, f"/api/v1/tasks/{tasks['prealert'].pk}/complete/", staff_key)
    assert (waiting.status_code, waiting.json()["error"]["code"]) == (409, "conflict")
    done = post(client, f"/api/v1/tasks/{tasks['book'].pk}/complete/", staff_key, {"note": "Booked by the TMS."})
    assert (done.status_code, done.json()["state"], done.json()["completed_at"] is not None) == (200, "done", True)
    assert post(client, f"/api/v1/tasks/{tasks['prealert'].pk}/complete/", staff_key).status_code == 200
    assert post(client, f"/api/v1/tasks/{tasks['book'].pk}/complete/", staff_key).status_code == 409


def test_reassigning_over_the_api(client, order, staff_key, ops2_user):
    task = tasks_of(order)["prealert"]
    moved = post(client, f"/api/v1/tasks/{task.pk}/reassign/", staff_key, {"assignee": ops2_user.email})
    assert moved.json()["assignee"] == ops2_user.email
    queued = post(client, f"/api/v1/tasks/{task.pk}/reassign/", staff_key, {"assignee": None})
    assert queued.json()["assignee"] is None
    unknown = post(client, f"/api/v1/tasks/{task.pk}/reassign/", staff_key, {"assignee": "who@nowhere.test"})
    assert (unknown.status_code, unknown.json()["error"]["fields"]) == (
        400, {"assignee": ["No OMS user has this email address."]})  # fmt: skip


def test_a_missing_task_is_404(client, order, staff_key):
    assert post(client, "/api/v1/tasks/999999/complete/", staff_key).status_code == 404


@pytest.mark.parametrize("task_id", ["abc", "-1", "\u0661", "99999999999999999999"])
@pytest.mark.parametrize("action", ["complete", "reassign"])
def test_a_task_id_that_is_not_one_is_a_404_in_the_error_shape(client, order, staff_key, task_id, action):
    # The router takes any segment as the id; "abc" reached the lookup and its ValueError was a 500 page.
    response = post(client, f"/api/v1/tasks/{task_id}/{action}/", staff_key, {"assignee": None})
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"


def test_json_nested_too_deeply_is_a_400_parse_error_here_too(client, order, staff_key):
    task = tasks_of(order)["book"]
    body = b'{"note": ' + b"[" * 50_000 + b"]" * 50_000 + b"}"
    response = client.post(f"/api/v1/tasks/{task.pk}/complete/", body, content_type="application/json",
                           **bearer(staff_key))  # fmt: skip
    assert (response.status_code, response.json()["error"]["code"]) == (400, "parse_error")


def test_a_form_body_is_415_like_everywhere_in_the_api(client, order, staff_key):
    task = tasks_of(order)["book"]
    response = client.post(f"/api/v1/tasks/{task.pk}/complete/", {"note": "Booked."}, **bearer(staff_key))
    assert (response.status_code, response.json()["error"]["code"]) == (415, "unsupported_media_type")


def test_the_schema_documents_every_workflow_endpoint(client, admin_user):
    client.force_login(admin_user)
    schema = client.get("/api/schema/").content.decode()
    for path in ("/api/v1/orders/{reference}/{transition}/", "/api/v1/orders/{reference}/transitions/",
                 "/api/v1/tasks/", "/api/v1/tasks/{id}/complete/", "/api/v1/tasks/{id}/reassign/"):  # fmt: skip
        assert path in schema
    assert OrderStatus.ON_HOLD in schema


def test_a_scheduled_task_that_blocks_departure_is_completed_early_not_refused(
    client, scheduled_blocker, staff_key, committed
):
    """Review B, defect 3: the API answered 409 "This task is scheduled." for the task the order's departure waited
    for; it completes it (done before opening), and the departure is no longer blocked."""
    order, task = scheduled_blocker
    blocked = post(client, f"/api/v1/orders/{order.reference}/depart/", staff_key)
    assert blocked.json()["error"]["message"] == "Finish first: Collect shipping instructions and VGM."
    done = post(client, f"/api/v1/tasks/{task.pk}/complete/", staff_key, {"note": "SI and VGM sent by the TMS."})
    assert (done.status_code, done.json()["state"]) == (200, "done")
    assert TaskEvent.objects.get(task=task).verb == "done before opening"
    with committed():
        departed = post(client, f"/api/v1/orders/{order.reference}/depart/", staff_key)
    assert (departed.status_code, departed.json()["status"]) == (200, OrderStatus.IN_TRANSIT)


def test_a_task_completed_by_an_api_key_names_the_key_not_automation(client, login, order, staff_key, ops_user):
    """An integrator's key ("Control tower") completed a task: its page said "Done … automatically" and its history
    "Automation", as if the workflow had done it; nobody could tell which system closed it."""
    task = tasks_of(order)["book"]
    done = post(client, f"/api/v1/tasks/{task.pk}/complete/", staff_key, {"note": "Booked by the TMS."})
    assert done.status_code == 200
    event = TaskEvent.objects.get(task=task, verb="completed")
    assert (event.api_key.name, event.by, event.detail) == ("Control tower", None, "Booked by the TMS.")

    page = login(ops_user).get(reverse("workflows:task_detail", args=[task.pk])).content.decode()
    assert "automatically" not in page
    assert "by API key “Control tower”" in page  # the task's facts
    assert "· API key “Control tower”" in page  # its history


def test_a_task_reassigned_by_an_api_key_tells_the_assignee_which_key(client, order, staff_key, ops2_user):
    task = tasks_of(order)["prealert"]
    post(client, f"/api/v1/tasks/{task.pk}/reassign/", staff_key, {"assignee": ops2_user.email})
    notice = Notification.objects.filter(recipient=ops2_user, task=task).first()
    assert notice.body == "API key “Control tower” gave you this task."


def test_reassigning_to_someone_who_is_not_staff_is_a_400_on_assignee(client, order, staff_key, customer_a_user):
    """A known address that is not staff was answered 409 "conflict", which the schema documents as "the task cannot
    do that now": a client retries a conflict, but this body can never pass. An unknown address was a 400 already."""
    task = tasks_of(order)["prealert"]
    response = post(client, f"/api/v1/tasks/{task.pk}/reassign/", staff_key, {"assignee": customer_a_user.email})
    assert response.status_code == 400
    error = response.json()["error"]
    assert (error["code"], error["fields"]) == (
        "validation_error",
        {"assignee": ["Tasks can only go to active OMS staff."]},
    )
    assert Task.objects.get(pk=task.pk).assignee_id is None


def test_a_completion_retried_with_the_same_idempotency_key_is_replayed(client, order, staff_key):
    """The API promises "POSTs accept an Idempotency-Key header"; the tasks POSTs ignored it, so a client whose first
    completion timed out retried and got a 409 "This task is done.", and believed it had failed."""
    url = f"/api/v1/tasks/{tasks_of(order)['book'].pk}/complete/"
    first = post(client, url, staff_key, {"note": "Booked."}, HTTP_IDEMPOTENCY_KEY="complete-1")
    again = post(client, url, staff_key, {"note": "Booked."}, HTTP_IDEMPOTENCY_KEY="complete-1")
    assert first.status_code == 200
    assert (again.status_code, again["Idempotent-Replayed"]) == (200, "true")
    assert again.json() == first.json()
    assert TaskEvent.objects.filter(verb="completed").count() == 1


def test_the_same_idempotency_key_with_another_reassignment_is_422(client, order, staff_key, ops_user, ops2_user):
    task = tasks_of(order)["prealert"]
    url = f"/api/v1/tasks/{task.pk}/reassign/"
    first = post(client, url, staff_key, {"assignee": ops_user.email}, HTTP_IDEMPOTENCY_KEY="reassign-1")
    other = post(client, url, staff_key, {"assignee": ops2_user.email}, HTTP_IDEMPOTENCY_KEY="reassign-1")
    assert first.status_code == 200
    assert (other.status_code, other.json()["error"]["code"]) == (422, "idempotency_key_reused")
    assert Task.objects.get(pk=task.pk).assignee_id == ops_user.pk


def test_the_schema_documents_the_idempotency_of_the_task_posts(client, admin_user):
    client.force_login(admin_user)
    schema = client.get("/api/schema/?format=json").json()
    for action in ("complete", "reassign"):
        operation = schema["paths"][f"/api/v1/tasks/{{id}}/{action}/"]["post"]
        assert "Idempotency-Key" in [parameter["name"] for parameter in operation["parameters"]]
        assert {"400", "409", "422"} <= set(operation["responses"])
