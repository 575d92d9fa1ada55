# The addresses are those the families' pages had under `onboarding`, names and paths alike:
# bookmarks, printed instructions and the tests name them.
from django.urls import path

from . import views

urlpatterns = [
    # Parents and students
    path("my/", views.family_home, name="family_home"),
    path("my/notice/confirm/", views.notice_confirm_view, name="notice_confirm"),
    path(
        "my/student-notice/confirm/",
        views.student_notice_confirm_view,
        name="student_notice_confirm",
    ),
    path("my/consent/", views.student_consent_view, name="student_consent"),
    path(
        "my/consent/withdraw/",
        views.student_consent_withdraw_view,
        name="student_consent_withdraw",
    ),
    path("my/children/<int:pk>/consent/", views.consent_view, name="consent"),
    path("my/children/<int:pk>/consent/give/", views.consent_give_view, name="consent_give"),
    path(
        "my/children/<int:pk>/consent/withdraw/",
        views.consent_withdraw_view,
        name="consent_withdraw",
    ),
    path("my/children/<int:pk>/consent.pdf", views.consent_pdf_view, name="consent_pdf"),
    path("my/children/<int:pk>/channel/", views.family_choice_view, name="family_choice"),
    path("consent/", views.consent_text, name="consent_text"),
    # The administrator and the director
    path("notices/", views.notices, name="notices"),
    path("notices/publish/", views.notice_publish_view, name="notice_publish"),
    path(
        "notices/students/publish/",
        views.student_notice_publish_view,
        name="student_notice_publish",
    ),
    path("notices/deadline/", views.notice_deadline_view, name="notice_deadline"),
    path("consents/", views.consents, name="consents"),
    path("consents/deadline/", views.consent_deadline_view, name="consent_deadline"),
    path("consents/<int:pk>/paper/", views.consent_paper_view, name="consent_paper"),
    path("consents/records/<int:pk>.pdf", views.consent_record_pdf, name="consent_record_pdf"),
    # A group's teacher
    path("onboarding/groups/<int:pk>/families/", views.group_families, name="group_families"),
]
