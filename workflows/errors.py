"""Domain errors of the workflows app. Interfaces turn them into messages or HTTP codes."""

from __future__ import annotations


class WorkflowError(Exception):
    """Something asked of a task, template or rule cannot be done; the message says why."""


class TaskNotAllowed(WorkflowError):
    """This person may not do that to this task, or the task is not in a state that allows it."""


class TaskChangedMeanwhile(TaskNotAllowed):
    """The task changed between the moment the person saw it and the moment they acted."""


class TaskPermissionDenied(TaskNotAllowed):
    """This person may not work on this task (not its assignee, team or lead)."""


class TaskAssigneeNotStaff(TaskNotAllowed):
    """The person a task was to go to can never have it (not active OMS staff): the request's fault, not the task's
    state, so retrying cannot help (the API answers 400 on `assignee`, not 409)."""
