from django.urls import path

from portal import views

app_name = "portal"

urlpatterns = [
    path("", views.home, name="home"),
    path("orders/", views.order_list, name="orders"),
    path("shipments/", views.shipment_list, name="shipments"),
]
