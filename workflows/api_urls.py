"""The workflow API routes, included by oms/api_urls.py under /api/v1/."""

from django.urls import include, path, re_path
from rest_framework.routers import SimpleRouter

from oms.converters import REFERENCE  # also registers <ref:…>
from workflows import api

router = SimpleRouter()
router.register("tasks", api.TaskViewSet, basename="api-task")

# Only the transitions orders.api has no endpoint for, so the two never answer the same URL.
_NAMES = "|".join(api.WORKFLOW_TRANSITIONS)

urlpatterns = [
    path("orders/<ref:reference>/transitions/", api.order_transitions, name="api-order-transitions"),
    re_path(
        rf"^orders/(?P<reference>{REFERENCE})/(?P<transition>{_NAMES})/$",
        api.order_transition,
        name="api-order-transition",
    ),
    path("", include(router.urls)),
]
