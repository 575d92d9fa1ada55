from django.urls import path

from . import parent_views, views

urlpatterns = [
    path("dashboard/", views.dashboard, name="dashboard"),
    path("onboarding/request/", views.request_detail, name="registration_request"),
    path("onboarding/request/start/", views.request_start_view, name="request_start"),
    path("onboarding/request/details/", views.request_details_view, name="request_details"),
    path("onboarding/request/letter/", views.request_letter_view, name="request_letter"),
    path("onboarding/request/letter.pdf", views.request_letter_pdf, name="request_letter_pdf"),
    path("onboarding/request/scan/", views.request_scan_view, name="request_scan"),
    path("onboarding/request/scan/file", views.request_scan_download, name="request_scan_file"),
    path("onboarding/request/send/", views.request_send_view, name="request_send"),
    path("onboarding/request/message.eml", views.request_eml_view, name="request_eml"),
    path("onboarding/request/sent/", views.request_sent_view, name="request_sent"),
    path("onboarding/request/return/", views.request_return_view, name="request_return"),
    path("onboarding/request/register/", views.request_register_view, name="request_register"),
    path("onboarding/request/cancel/", views.request_cancel_view, name="request_cancel"),
    path("onboarding/my-status/", views.my_sferum_status, name="my_sferum_status"),
    path("onboarding/teachers/", views.teacher_statuses, name="teacher_statuses"),
    path("onboarding/teachers/<int:pk>/verify/", views.teacher_verify, name="teacher_verify"),
    path("my/notice/confirm/", parent_views.notice_confirm_view, name="notice_confirm"),
    path("my/children/<int:pk>/consent/", parent_views.consent_view, name="consent"),
    path("consent/", parent_views.consent_text, name="consent_text"),
    path("notices/", parent_views.notices, name="notices"),
    path("notices/publish/", parent_views.notice_publish_view, name="notice_publish"),
    path("consents/", parent_views.consents, name="consents"),
]
