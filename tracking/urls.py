"""Planning screens, mounted at /planning/ (rate cards from finance are shown here too)."""

from django.urls import path

from finance import views as finance_views
from oms import converters  # noqa: F401 - registers <ref:…>
from tracking import views, views_booking, views_schedule

app_name = "tracking"

urlpatterns = [
    path("", views.planning_index, name="index"),
    path("consolidate/", views.consolidate, name="consolidate"),
    path("orders/<ref:reference>/", views.order_plan, name="order_plan"),
    path("orders/<ref:reference>/direct/", views.order_plan_direct, name="order_plan_direct"),
    path("orders/<ref:reference>/add-to-master/", views.order_add_to_master, name="order_add_to_master"),
    path("shipments/<ref:reference>/", views.shipment_detail, name="shipment_detail"),
    path("shipments/<ref:reference>/ranking/", views.shipment_ranking, name="shipment_ranking"),
    path("shipments/<ref:reference>/houses/", views.house_add, name="house_add"),
    path("shipments/<ref:reference>/houses/<ref:house_reference>/remove/", views.house_remove, name="house_remove"),
    path("shipments/<ref:reference>/split/", views.house_split, name="house_split"),
    path("shipments/<ref:reference>/deconsolidate/", views.master_deconsolidate, name="deconsolidate"),
    path("shipments/<ref:reference>/containers/", views.container_add, name="container_add"),
    path("shipments/<ref:reference>/containers/<int:pk>/", views.container_update, name="container_update"),
    path("shipments/<ref:reference>/containers/<int:pk>/remove/", views.container_remove, name="container_remove"),
    path("shipments/<ref:reference>/legs/", views.leg_add, name="leg_add"),
    path("shipments/<ref:reference>/legs/<int:pk>/edit/", views.leg_edit, name="leg_edit"),
    path("shipments/<ref:reference>/legs/<int:pk>/remove/", views.leg_remove, name="leg_remove"),
    path("shipments/<ref:reference>/appointments/", views.appointment_add, name="appointment_add"),
    path("shipments/<ref:reference>/book/", views_booking.booking_choose, name="booking_choose"),
    path("bookings/<int:pk>/send/", views_booking.booking_send, name="booking_send"),
    path("bookings/<int:pk>/confirm/", views_booking.booking_confirm, name="booking_confirm"),
    path("bookings/<int:pk>/reject/", views_booking.booking_reject, name="booking_reject"),
    path("bookings/<int:pk>/roll/", views_booking.booking_roll, name="booking_roll"),
    path("bookings/<int:pk>/cancel/", views_booking.booking_cancel, name="booking_cancel"),
    path("bookings/<int:pk>/request/", views_booking.booking_document, name="booking_document"),
    path("legs/<int:pk>/actual/", views_schedule.leg_record_actual, name="leg_record_actual"),
    path("appointments/<int:pk>/record/", views_schedule.appointment_record, name="appointment_record"),
    path("schedule/", views_schedule.schedule_board, name="schedule"),
    path("today/", views_schedule.execution, name="today"),
    path("rates/", finance_views.rate_card_list, name="rate_cards"),
    path("rates/<int:pk>/", finance_views.rate_card_detail, name="rate_card_detail"),
]
