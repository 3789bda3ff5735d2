"""A "Due earlier" notice brought up to date while unread (event_records._not_yet_told) tells its reader the change
from what they last knew. Found in the seventeenth session's walk of the notifications: the notice took the newest
move's history line, whose "it was due" lasted only between two moves."""

from __future__ import annotations

import datetime

from workflows.models import Notification, Task

from .test_date_moves import CUTOFF, booking, clock, move_cutoff, vgm_open  # noqa: F401 - fixtures used by name


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


def test_an_unread_due_time_set_notice_says_due_earlier_once_a_move_brings_it_earlier(booking):  # noqa: F811
    """ "Book the sailing" got its due time from the cut-off, Tue 10 Mar 09:00,
    and its assignee was told "Due time set" (by email too, when they take those by email). Before they read it, the
    cut-off came a day earlier: the same notice was brought up to date, still titled "Due time set", as though the
    time they were told still stood. It says "Due earlier" now; its first line still says what it first told them."""
    order, task = booking
    move_cutoff(order, CUTOFF)

    move_cutoff(order, CUTOFF - datetime.timedelta(days=1))

    [notice] = Notification.objects.filter(task=task, title__startswith="Due")
    assert notice.title == f"Due earlier: Book the sailing · {order.reference}"
    assert notice.read_at is None
    assert notice.body == (
        "The cargo cut-off is known: it is now due Tue 10 Mar 2026, 09:00 Europe/Berlin, it had no due time. Since "
        "then it moved again: it is now due Mon 9 Mar 2026, 09:00 Europe/Berlin."
    )


def test_an_unread_due_time_set_notice_keeps_its_title_when_nothing_came_earlier(booking):  # noqa: F811
    """A move later tells nobody (the history is enough): the notice still says the due time was set."""
    order, task = booking
    move_cutoff(order, CUTOFF)

    move_cutoff(order, CUTOFF + datetime.timedelta(days=1))

    [notice] = Notification.objects.filter(task=task, title__startswith="Due")
    assert notice.title == f"Due time set: Book the sailing · {order.reference}"
    assert "Since then it moved again" not in notice.body
