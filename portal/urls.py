from django.urls import path

from . import audit_views, views

urlpatterns = [
    path("", views.home, name="home"),
    path("teacher/", views.teacher_home, name="teacher_home"),
    path("audit/", audit_views.audit_log, name="audit_log"),
    path("audit.csv", audit_views.audit_csv, name="audit_csv"),
]
