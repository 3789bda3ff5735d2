"""Domain events the orders app sends, on commit, for higher apps to react to (their receivers.py).

order_created(order_id, channel)
order_status_changed(order_id, transition, source, target, by_id, channel, transition_id, queued)
    queued: the transition's QueuedTransition row exists (lifecycle.apply writes one in the transition's
    statement), so a worker may handle the event instead of the receiver; bulk imports send False and
    deliver their events through a task of their own (orders.bulk).
"""

from django.dispatch import Signal

order_created = Signal()
order_status_changed = Signal()
