"""Every write the workflows app makes, by sub-domain:

- what sets the workflow in motion: transition_handling (an order's state change: its tasks and rules),
  transition_queue (handled at once or queued, the drain, the catch-up sweep, failed transitions),
  event_records (milestones, documents, exceptions, key dates), clock (scheduled tasks, escalation)
- tasks: what people do with tasks (claim, complete, reopen, reassign, comment, bulk)
- versions: drafting, publishing and migrating template versions
- rules: automation rules; dry_run: which existing orders a rule would have matched
- notify: notifications and preferences
- runs (an order's workflow context for an event, the batch of its writes), binding, task_creation,
  task_changes (closing, reopening, reassigning), auto_completion, assignment, profiles, matching: the
  building blocks the others share
- config: the configuration each process keeps between events, and when it reads it again
"""

from workflows.services.assignment import team_loads_recount
from workflows.services.clock import overdue_tasks_escalate, scheduled_tasks_open
from workflows.services.dry_run import rule_dry_run
from workflows.services.event_records import document_record, exception_record, key_date_record, milestone_record
from workflows.services.notify import notification_preferences_save, notifications_mark_read
from workflows.services.rules import AUTOMATION_SCOPE
from workflows.services.tasks import (
    BulkResult,
    may_work,
    mentioned_users,
    task_claim,
    task_comment,
    task_complete,
    task_opening_text,
    task_reassign,
    task_reopen,
    tasks_bulk_complete,
    tasks_bulk_reassign,
)
from workflows.services.transition_handling import queued_transitions_handle, transition_handle, transitions_handle
from workflows.services.transition_queue import (
    failed_transitions_retry,
    on_order_status_changed,
    pending_transitions_process,
    queued_transitions_drain,
)
from workflows.services.versions import (
    MigrationResult,
    order_workflow_migrate,
    orders_attach_workflows,
    version_draft_start,
    version_migrate_orders,
    version_problems,
    version_publish,
)

__all__ = [
    "AUTOMATION_SCOPE", "BulkResult", "MigrationResult", "document_record", "exception_record",
    "failed_transitions_retry", "key_date_record",
    "may_work", "mentioned_users", "milestone_record", "notification_preferences_save", "notifications_mark_read",
    "on_order_status_changed", "order_workflow_migrate", "orders_attach_workflows", "overdue_tasks_escalate",
    "pending_transitions_process", "queued_transitions_drain", "queued_transitions_handle", "rule_dry_run",
    "scheduled_tasks_open", "task_claim", "task_comment", "task_complete", "task_opening_text", "task_reassign",
    "task_reopen", "tasks_bulk_complete", "tasks_bulk_reassign", "team_loads_recount", "transition_handle",
    "transitions_handle",
    "version_draft_start", "version_migrate_orders", "version_problems", "version_publish",
]  # fmt: skip
