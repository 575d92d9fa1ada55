from django.urls import path

from . import views

urlpatterns = [
    path("department/", views.overview, name="department"),
    path("department/institutions.xlsx", views.export_xlsx, name="department_xlsx"),
    path("department/messages/", views.message_list, name="department_messages"),
    path("department/messages/<int:pk>/", views.message_detail, name="department_message"),
    path(
        "department/messages/<int:pk>/go-on/",
        views.message_go_on,
        name="department_message_go_on",
    ),
    path("department/institutions/<slug:slug>/", views.institution, name="department_institution"),
    path("department-messages/<int:pk>/read/", views.message_read, name="department_message_read"),
]
