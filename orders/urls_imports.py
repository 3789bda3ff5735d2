"""Screens for order files: staff's under /imports/, customers' under /portal/imports/ (oms/urls.py)."""

from django.urls import path

from orders import views_imports as views

app_name = "imports"

urlpatterns = [
    path("", views.import_list, name="list"),
    path("new/", views.import_upload, name="upload"),
    path("template.<str:file_format>", views.import_template, name="template"),
    path("<uuid:pk>/", views.import_detail, name="detail"),
    path("<uuid:pk>/confirm/", views.import_confirm, name="confirm"),
    path("<uuid:pk>/cancel/", views.import_cancel, name="cancel"),
    path("<uuid:pk>/errors.csv", views.import_error_file, name="errors"),
]
