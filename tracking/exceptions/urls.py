"""Exception screens, mounted at /exceptions/ (oms/urls.py)."""

from django.urls import path

from oms import converters  # noqa: F401 - registers <ref:…>
from tracking.exceptions import views

app_name = "tracking_exceptions"

urlpatterns = [
    path("", views.inbox, name="inbox"),
    path("weekly/", views.weekly, name="weekly"),
    path("<int:pk>/", views.detail, name="detail"),
    path("<int:pk>/acknowledge/", views.acknowledge, name="acknowledge"),
    path("<int:pk>/take/", views.take, name="take"),
    path("<int:pk>/notes/", views.note_add, name="note_add"),
    path("<int:pk>/resolve/", views.resolve, name="resolve"),
    path("orders/<ref:reference>/", views.order_panel, name="order_panel"),
    path("shipments/<ref:reference>/", views.shipment_panel, name="shipment_panel"),
]
