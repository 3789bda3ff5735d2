"""URL map: staff screens, the portal, accounts, the API and the admin console."""

from django.conf import settings
from django.contrib import admin
from django.urls import include, path, re_path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

from oms import api, health, views
from portal.links import public_tracking, public_tracking_mistyped

# A database lost before the view (a middleware's session load) answers 503 as it does inside one (oms/middleware.py).
handler500 = "oms.middleware.server_error"

admin.site.site_header = "OMS configuration console"
admin.site.site_title = "OMS console"
admin.site.index_title = "Configuration"

urlpatterns = [
    path("", views.home, name="home"),
    path("search/", views.search, name="search"),
    path("nav/counts/", views.nav_counts, name="nav_counts"),
    path("organisations/", include("partners.urls")),
    path("orders/", include("orders.urls")),
    path("tasks/", include("workflows.urls")),
    path("imports/", include("orders.urls_imports")),
    path("planning/", include("tracking.urls")),
    path("tracking/", include("tracking.ingest.urls")),
    path("exceptions/", include("tracking.exceptions.urls")),
    # The import screens once more, for customers in the portal's layout (orders.views_imports).
    path("portal/imports/", include("orders.urls_imports", namespace="portal_imports")),
    path("portal/", include("portal.urls")),
    path("t/<str:token>/", public_tracking, name="public_tracking"),  # a public tracking link (no sign-in)
    # …and one copied with more after it: not found, without Django's 404 line logging the token (portal/links.py)
    path("t/<str:token>/<path:rest>", public_tracking_mistyped, name="public_tracking_mistyped"),
    path("accounts/", include("django.contrib.auth.urls")),
    path("api/v1/me/", api.me, name="api-me"),
    path("api/v1/", include("oms.api_urls")),
    path("api/schema/", SpectacularAPIView.as_view(), name="api-schema"),
    path("api/docs/", SpectacularSwaggerView.as_view(url_name="api-schema"), name="api-docs"),
    re_path(r"^api/(?P<rest>.*)$", api.not_found),  # last of the API: unknown addresses answer in JSON
    path("admin/", admin.site.urls),
    path("healthz", health.healthz, name="healthz"),
    path("readyz", health.readyz, name="readyz"),
]

if settings.DEBUG:
    from django.conf.urls.static import static

    urlpatterns += static(settings.MEDIA_URL, document_root=settings.MEDIA_ROOT)
