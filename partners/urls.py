from django.urls import path

from partners import views

app_name = "partners"

urlpatterns = [
    path("", views.organisation_list, name="organisation_list"),
    path("<str:code>/", views.organisation_detail, name="organisation_detail"),
]
