"""The v1 API routes of every app (included under /api/v1/)."""

from django.urls import URLPattern, URLResolver, include, path
from rest_framework.routers import SimpleRouter

from oms import converters  # noqa: F401 - registers <ref:…>
from orders.api import OrderViewSet

# SimpleRouter, not DefaultRouter: no browsable root view, and no `.json` format suffixes that would
# double every operation in the schema.
router = SimpleRouter()
router.register("orders", OrderViewSet, basename="api-order")

urlpatterns: list[URLPattern | URLResolver] = [
    path("", include(router.urls)),
]

# Workflows: the other lifecycle transitions, an order's available transitions, and tasks.
urlpatterns += [path("", include("workflows.api_urls"))]

# Bulk intake: order files as jobs, and the inbound order webhooks (orders/api_imports.py, orders/webhooks.py).
from orders import api_imports, webhooks  # noqa: E402 - appended block, kept with its routes

urlpatterns += [
    path("order-imports/", api_imports.order_import_list_create, name="api-order-import-list"),
    path("order-imports/<uuid:pk>/", api_imports.order_import_detail, name="api-order-import-detail"),
    path(
        "webhooks/shopify/<uuid:integration_id>/orders-create/",
        webhooks.shopify_orders_create,
        name="api-webhook-shopify-orders-create",
    ),
    path("webhooks/intake/<uuid:integration_id>/", webhooks.generic_intake, name="api-webhook-intake"),
]

# Tracking: an order's timeline, and the signed webhook for carrier events (tracking/ingest/api.py).
from tracking.ingest import api as tracking_api  # noqa: E402 - appended with its routes

urlpatterns += [
    path("orders/<ref:reference>/timeline/", tracking_api.order_timeline, name="api-order-timeline"),
    path("tracking/webhooks/<slug:source>/", tracking_api.tracking_webhook, name="api-tracking-webhook"),
]
