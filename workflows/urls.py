"""Task screens and notifications, under /tasks/."""

from django.urls import path

from oms import converters  # noqa: F401 - registers <ref:…>
from workflows import views

app_name = "workflows"

urlpatterns = [
    path("", views.task_list, {"view": "mine"}, name="my_tasks"),
    path("team/", views.task_list, {"view": "team"}, name="team_tasks"),
    path("overdue/", views.task_list, {"view": "overdue"}, name="overdue_tasks"),
    path("bulk/", views.tasks_bulk, name="bulk"),
    path("<int:pk>/", views.task_detail, name="task_detail"),
    path("<int:pk>/claim/", views.task_claim, name="task_claim"),
    path("<int:pk>/complete/", views.task_complete, name="task_complete"),
    path("<int:pk>/reopen/", views.task_reopen, name="task_reopen"),
    path("<int:pk>/reassign/", views.task_reassign, name="task_reassign"),
    path("<int:pk>/comment/", views.task_comment, name="task_comment"),
    path("orders/<ref:reference>/", views.order_tasks, name="order_tasks"),
    path("notifications/", views.notification_list, name="notifications"),
    path("notifications/read-all/", views.notifications_read_all, name="notifications_read_all"),
    path("notifications/settings/", views.notification_preferences, name="notification_preferences"),
    path("notifications/<int:pk>/open/", views.notification_open, name="notification_open"),
]
