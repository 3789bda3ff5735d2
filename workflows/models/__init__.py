"""Workflow data, split by sub-domain: teams, templates, tasks, rules and notifications."""

from workflows.models.config import ConfigStamp
from workflows.models.notifications import (
    DEFAULT_PREFERENCE,
    Notification,
    NotificationKind,
    NotificationPreference,
)
from workflows.models.rules import (
    BOOLEAN_FIELDS,
    MAX_RULE_DEPTH,
    NUMERIC_FIELDS,
    ActionKind,
    ConditionField,
    Operator,
    Rule,
    RuleAction,
    RuleCondition,
    RuleEvent,
    RuleOutcome,
    RuleRun,
)
from workflows.models.tasks import (
    DeadLetter,
    FailedTransition,
    ProcessedTransition,
    Task,
    TaskComment,
    TaskEvent,
    TaskQuerySet,
    TaskState,
)
from workflows.models.teams import (
    AccountOwner,
    BranchCalendar,
    CustomerSettings,
    Team,
    TeamFunction,
    TeamMember,
    active_staff,
)
from workflows.models.templates import (
    ORDER_DATE_FIELDS,
    TRANSITION_CHOICES,
    AssignRule,
    AutoComplete,
    DateAnchor,
    OrderKeyDate,
    OrderWorkflow,
    TaskDefinition,
    TradeDirection,
    TriggerKind,
    VersionStatus,
    WorkflowTemplate,
    WorkflowVersion,
)
from workflows.models.tracking import QueuedTrackingRecord, TrackingRecordKind

__all__ = [
    "BOOLEAN_FIELDS", "DEFAULT_PREFERENCE", "MAX_RULE_DEPTH", "NUMERIC_FIELDS", "ORDER_DATE_FIELDS",
    "TRANSITION_CHOICES", "AccountOwner", "ActionKind", "AssignRule", "AutoComplete", "BranchCalendar",
    "ConditionField", "ConfigStamp", "CustomerSettings", "DateAnchor", "DeadLetter",
    "FailedTransition", "Notification", "NotificationKind",
    "NotificationPreference", "Operator", "OrderKeyDate", "OrderWorkflow", "ProcessedTransition",
    "QueuedTrackingRecord", "Rule", "RuleAction", "RuleCondition", "RuleEvent", "RuleOutcome", "RuleRun", "Task",
    "TaskComment", "TaskDefinition", "TaskEvent", "TaskQuerySet", "TaskState", "Team", "TeamFunction", "TeamMember",
    "TrackingRecordKind", "TradeDirection", "TriggerKind", "VersionStatus", "WorkflowTemplate", "WorkflowVersion",
    "active_staff",
]  # fmt: skip
