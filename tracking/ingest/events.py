"""Domain events of tracking, sent on commit by tracking.ingest's services for higher apps to react to
(workflows: tasks completed by a milestone, rules on CUSTOMS_HOLD, tasks timed from the ETD/ETA).

milestone_recorded(order_id, code, event_id, classifier, occurred_at)
    an ACTUAL event of milestone `code` was stored for the order (once per event and order; a master's
    event reaches every order on it)
estimate_changed(order_id, code, estimated_at, previous_at)
    the estimate of milestone `code` changed for the order: DEPARTED is the ETD, ARRIVED the ETA,
    DELIVERED the estimated delivery (workflows.services.key_date_record anchors "etd" and "eta")
"""

from django.dispatch import Signal

milestone_recorded = Signal()
estimate_changed = Signal()
