"""Domain events the orders app sends, on commit, for higher apps to react to (their receivers.py).

order_created(order_id, channel)
order_status_changed(order_id, transition, source, target, by_id, channel)
"""

from django.dispatch import Signal

order_created = Signal()
order_status_changed = Signal()
