"""Domain events of planning, sent on commit (one also just before it) by tracking's services for higher apps
to react to.

booking_confirmed(booking_id, shipment_id, carrier_id)
booking_rejected(booking_id, shipment_id, carrier_id, reason)
booking_rolled(booking_id, shipment_id, carrier_id, previous_departure_at, new_departure_at, delay, reason)
    a carrier moved the booking to a later sailing; the exception rules will open an exception from it
booking_cancelled(booking_id, shipment_id, carrier_id, reason, order_ids, unplanned_ids, by_id)
    we withdrew a booking (the master is back in planning); order_ids are the orders on the master, unplanned_ids
    those the cancellation took back from planned to confirmed. Workflows reopens the tasks the booking's
    confirmation completed and tells their people; exception detection looks at the shipment again (a rolled
    booking or a missed cut-off of the cancelled booking resolves)
booking_confirmed_recording(booking_id, shipment_id, at, by_id)
    sent INSIDE the transaction that records the carrier's confirmation: milestone tracking
    (tracking.ingest.receivers) records BOOKING_CONFIRMED on the master's timeline in that transaction, so the
    confirmation and its milestone commit together. A receiver of it writes to the database only.
booking_covers_orders(booking_id, shipment_id, order_ids)
    sent INSIDE the transaction, after booking_confirmed_recording, just before these orders are taken to planned
    (the confirmation; a house joining a master whose booking is confirmed): their cargo is booked. Workflows
    acts at once on BOOKING_CONFIRMED for them (the tasks it completes, such as the booking task that blocks
    `plan`), so the lifecycle's guards see those tasks done. A receiver of it writes to the database only; an
    error in it must not fail the confirmation (it leaves the order not planned, and the work queued).
leg_actual_recorded(leg_id, shipment_id, kind, at, by_id)
    kind is "departure" or "arrival"; exception detection looks at the shipment again
leg_actual_recording(leg_id, shipment_id, kind, at, by_id)
    the same, sent INSIDE the transaction that records it, before leg_actual_recorded: milestone tracking
    (tracking.ingest.receivers) records the milestone event in that transaction, so the leg's time and its
    event commit together (a process that dies after the commit cannot lose the event). A receiver of it
    writes to the database only; an error in it rolls the recording back.
leg_plan_changed(leg_id, shipment_id, change, fields, by_id)
    change is "added", "changed" or "removed": planning added a leg, corrected its plan (fields: which of its
    planned times, places and role changed; a correction of its conveyance alone sends nothing) or removed it.
    Exception detection looks at the shipment again at once, as for a new event: an overdue milestone of the old
    plan resolves, a new plan already late opens its exception, without waiting for the next scan
exception_opened(exception_id, kind, shipment_id, order_ids)
    an exception opened (tracking/exceptions/; sent after commit by the worker that announces it); order_ids
    are every order the shipment carries: workflows runs its "exception opened" rules, picks the owner, alerts
exception_orders_added(exception_id, kind, shipment_id, order_ids)
    orders joined the shipment of an open exception about the whole shipment after it was announced (a house added to
    the consolidation): sent by the worker that announces it (exception_orders_changed_announce), INSIDE the
    transaction that claims the change, so the claim and what the receivers write commit together (a failure leaves it
    to the next detection). order_ids are only the orders newly concerned: workflows runs its "exception opened" rules
    for them, keeping the exception's owner (no new pick, no owner alert), or reopens the tasks they had (taken off and
    put back). May name an order again: a receiver must be safe to call twice for one order
exception_orders_removed(exception_id, kind, shipment_id, order_ids)
    the mirror: orders left the shipment of an open exception about the whole shipment after they were told (their
    house taken off the consolidation), and no other house of theirs is on it. Sent by the same worker in the same
    claim (exception_orders_changed_announce), INSIDE its transaction. order_ids are only the orders no longer
    concerned: workflows cancels their open tasks of the exception. May name an order again (put back and taken off
    again): a receiver must be safe to call twice for one order
exception_resolved(exception_id, kind, owner_id, automatic)
    it was resolved by a person, or by itself when its condition cleared (automatic)
"""

from django.dispatch import Signal

booking_confirmed = Signal()
booking_rejected = Signal()
booking_rolled = Signal()
booking_cancelled = Signal()
booking_confirmed_recording = Signal()
booking_covers_orders = Signal()
leg_actual_recorded = Signal()
leg_actual_recording = Signal()
leg_plan_changed = Signal()
exception_opened = Signal()
exception_orders_added = Signal()
exception_orders_removed = Signal()
exception_resolved = Signal()
