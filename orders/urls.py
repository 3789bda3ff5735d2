"""Staff order screens, under /orders/."""

from django.urls import path

from oms import converters  # noqa: F401 - registers <ref:…>
from orders import views

app_name = "orders"

urlpatterns = [
    path("", views.order_list, name="list"),
    path("export/<str:fmt>/", views.order_export, name="export"),
    path("new/", views.order_new, name="new"),
    path("new/line/", views.order_line_row, name="line_row"),
    path("locations/", views.location_options, name="locations"),
    path("<ref:reference>/", views.order_detail, name="detail"),
    path("<ref:reference>/edit/", views.order_edit, name="edit"),
    path("<ref:reference>/duplicate/", views.order_duplicate, name="duplicate"),
    path("<ref:reference>/transition/<str:name>/", views.order_transition, name="transition"),
]
