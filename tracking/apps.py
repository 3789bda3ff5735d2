"""Movement: shipments, legs, carrier events, milestones, timelines and exceptions."""

from django.apps import AppConfig


class TrackingConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "tracking"
    verbose_name = "Tracking"

    def ready(self) -> None:
        from orders import lifecycle
        from tracking import guards
        from tracking import receivers as planning_receivers
        from tracking.exceptions import receivers as exception_receivers
        from tracking.ingest import receivers

        receivers.connect()  # leg actuals and lifecycle changes feed the timeline
        exception_receivers.connect()  # new events and plan changes run the exception rules
        planning_receivers.connect()  # a cancelled order's houses leave the masters still being planned

        lifecycle.register_guard("cancel", guards.order_cancel_problem)  # not while a carrier has its cargo booked
        lifecycle.register_guard("unplan", guards.order_unplan_problem)  # not while booked, nor once it moved

        name = guards.plan_transition_name()
        if name is not None:  # None while the lifecycle has no planning step; the report says so
            lifecycle.register_guard(name, guards.order_booking_problem)
