from django.urls import path

from . import views, views_documents

urlpatterns = [
    path("regulation/", views.regulation, name="regulation"),
    path("regulation/order.pdf", views.order_pdf, name="regulation_order_pdf"),
    path("regulation/sheet.pdf", views.sheet, name="regulation_sheet_pdf"),
    path(
        "regulation/acknowledgements/",
        views.acknowledgement_list,
        name="acknowledgement_list",
    ),
    path(
        "regulation/acknowledgements.csv",
        views.acknowledgement_csv,
        name="acknowledgement_csv",
    ),
    path("regulation/remind/", views.remind, name="acknowledgement_remind"),
    path("regulation/paper/", views.record_paper, name="acknowledgement_paper"),
    path("regulation/versions/", views.version_list, name="version_list"),
    path("regulation/versions/new/", views.version_new, name="version_new"),
    # Every document, the regulation among them, at the same pages under its code
    # (`links.PAGES`); the regulation's addresses above stay as they were.
    path("documents/", views_documents.document_list, name="document_list"),
    path("documents/new/", views_documents.document_new, name="document_new"),
    path("my/documents/", views_documents.my_documents, name="my_documents"),
    path(
        "my/documents/paper-only/", views_documents.agreement_refuse_view, name="agreement_refuse"
    ),
    path("documents/verify/<int:pk>/", views_documents.version_verify, name="version_verify"),
    path("documents/<slug:code>/", views.regulation, name="document_read"),
    path("documents/<slug:code>/order.pdf", views.order_pdf, name="document_order_pdf"),
    path("documents/<slug:code>/sheet.pdf", views.sheet, name="document_sheet_pdf"),
    path(
        "documents/<slug:code>/acknowledgements/",
        views.acknowledgement_list,
        name="document_acknowledgements",
    ),
    path(
        "documents/<slug:code>/acknowledgements.csv",
        views.acknowledgement_csv,
        name="document_acknowledgements_csv",
    ),
    path("documents/<slug:code>/remind/", views.remind, name="document_remind"),
    path("documents/<slug:code>/paper/", views.record_paper, name="document_paper"),
    path("documents/<slug:code>/versions/", views.version_list, name="document_versions"),
    path("documents/<slug:code>/versions/new/", views.version_new, name="document_version_new"),
    path("regulation/versions/<int:pk>/", views.version_detail, name="version_detail"),
    path("regulation/versions/<int:pk>/edit/", views.version_edit_view, name="version_edit"),
    path(
        "regulation/versions/<int:pk>/approve/",
        views.version_approve_view,
        name="version_approve",
    ),
    path(
        "regulation/versions/<int:pk>/changes/",
        views.version_changes_view,
        name="version_changes",
    ),
    path(
        "regulation/versions/<int:pk>/deadline/",
        views.version_deadline,
        name="version_deadline",
    ),
    path("regulation/versions/<int:pk>/confirm/", views.confirm, name="version_confirm"),
    path("regulation/versions/<int:pk>/order.pdf", views.order_pdf, name="version_order_pdf"),
    path(
        "regulation/versions/<int:pk>/act.pdf",
        views.version_source_pdf,
        name="version_source_pdf",
    ),
    path("regulation/versions/<int:pk>/sheet.pdf", views.sheet, name="version_sheet_pdf"),
]
