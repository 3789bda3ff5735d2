"""A "Due earlier" notice brought up to date while unread (event_records._not_yet_told) tells its reader the change
from what they last knew. Found in the seventeenth session's walk of the notifications: the notice took the newest
move's history line, whose "it was due" lasted only between two moves."""

from __future__ import annotations

import datetime

from workflows.models import Notification, Task

from .test_date_moves import CUTOFF, clock, move_cutoff, vgm_open  # noqa: F401 - fixtures used by name


def test_an_unread_due_earlier_notice_says_the_due_time_its_reader_last_knew(vgm_open):  # noqa: F811
    """Walk: the cut-off came a day earlier, then two; the assignee, who knew Wed 17:00 and has not read the first
    notice, read one notice: "now due Mon 9 Mar 2026, 17:00 …, it was due Tue 10 Mar 2026, 17:00" (a due time they
    never saw: it lasted between two moves). It names Wednesday 17:00, the time their plans were made on."""
    order, task = vgm_open

    move_cutoff(order, CUTOFF - datetime.timedelta(days=1))
    move_cutoff(order, CUTOFF - datetime.timedelta(days=2))

    assert Task.objects.get(pk=task.pk).due_at < task.due_at - datetime.timedelta(days=1)
    [notice] = Notification.objects.filter(task=task, title__startswith="Due earlier")
    assert "it is now due Mon 9 Mar 2026, 17:00 Europe/Berlin" in notice.body
    assert "it was due Wed 11 Mar 2026, 17:00 Europe/Berlin" in notice.body
