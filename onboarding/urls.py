from django.urls import path

from acknowledgements.views import messenger_draft_view

from . import views

urlpatterns = [
    path("dashboard/", views.dashboard, name="dashboard"),
    # The dashboard's button for the regulation's draft (acknowledgements' view): a refusal
    # comes back to the dashboard, which acknowledgements, a lower layer, does not name.
    path(
        "dashboard/messenger-draft/",
        messenger_draft_view,
        {"back": "dashboard"},
        name="messenger_draft",
    ),
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
