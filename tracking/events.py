"""Domain events of planning, sent on commit by tracking's services for higher apps to react to.

booking_confirmed(booking_id, shipment_id, carrier_id)
booking_rejected(booking_id, shipment_id, carrier_id, reason)
booking_rolled(booking_id, shipment_id, carrier_id, previous_departure_at, new_departure_at, delay, reason)
    a carrier moved the booking to a later sailing; the exception rules will open an exception from it
leg_actual_recorded(leg_id, shipment_id, kind, at, by_id)
    kind is "departure" or "arrival"; milestone tracking will turn it into a milestone event
"""

from django.dispatch import Signal

booking_confirmed = Signal()
booking_rejected = Signal()
booking_rolled = Signal()
leg_actual_recorded = Signal()
