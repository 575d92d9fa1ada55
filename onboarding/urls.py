from django.urls import path

from . import parent_views, views

urlpatterns = [
    path("dashboard/", views.dashboard, name="dashboard"),
    path("dashboard/messenger-draft/", views.messenger_draft_view, name="messenger_draft"),
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
    path("notices/deadline/", parent_views.notice_deadline_view, name="notice_deadline"),
    path("consents/deadline/", parent_views.consent_deadline_view, name="consent_deadline"),
]

# Issue 12, §5.1: the checklist of local acts and programmes to amend.
urlpatterns += [
    path("onboarding/amendments/", views.amendments, name="amendments"),
    path(
        "onboarding/amendments/groups/<int:pk>/",
        views.amendment_programme_view,
        name="amendment_programme",
    ),
    path("onboarding/amendments/acts/new/", views.amendment_act_add_view, name="amendment_act_add"),
    path(
        "onboarding/amendments/acts/<int:pk>/",
        views.amendment_act_update_view,
        name="amendment_act_update",
    ),
    path(
        "onboarding/amendments/acts/<int:pk>/remove/",
        views.amendment_act_remove_view,
        name="amendment_act_remove",
    ),
]

# Issue 12, the family side.
urlpatterns += [
    path(
        "my/student-notice/confirm/",
        parent_views.student_notice_confirm_view,
        name="student_notice_confirm",
    ),
    path(
        "notices/students/publish/",
        parent_views.student_notice_publish_view,
        name="student_notice_publish",
    ),
    path("my/children/<int:pk>/channel/", parent_views.family_choice_view, name="family_choice"),
    path(
        "my/children/<int:pk>/consent/give/",
        parent_views.consent_give_view,
        name="consent_give",
    ),
    path(
        "my/children/<int:pk>/consent/withdraw/",
        parent_views.consent_withdraw_view,
        name="consent_withdraw",
    ),
    path("my/children/<int:pk>/consent.pdf", parent_views.consent_pdf_view, name="consent_pdf"),
    path("consents/<int:pk>/paper/", parent_views.consent_paper_view, name="consent_paper"),
    path(
        "consents/records/<int:pk>.pdf", parent_views.consent_record_pdf, name="consent_record_pdf"
    ),
    path(
        "onboarding/groups/<int:pk>/families/", parent_views.group_families, name="group_families"
    ),
    path("privacy/", parent_views.privacy, name="privacy"),
    path("privacy/<slug:slug>/", parent_views.privacy_public, name="privacy_public"),
]
