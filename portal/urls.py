from django.urls import path

from oms import converters  # noqa: F401 - registers <ref:…>
from portal import links, views

app_name = "portal"

urlpatterns = [
    path("", views.home, name="home"),
    path("orders/", views.order_list, name="orders"),
    path("orders/<ref:reference>/links/", links.links, name="tracking_links"),
    path("orders/<ref:reference>/links/new/", links.link_create, name="tracking_link_create"),
    path("orders/<ref:reference>/links/<int:pk>/revoke/", links.link_revoke, name="tracking_link_revoke"),
    path("shipments/", views.shipment_list, name="shipments"),
]
