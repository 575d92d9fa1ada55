from django.urls import path

from . import views

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
    path("regulation/versions/<int:pk>/sheet.pdf", views.sheet, name="version_sheet_pdf"),
]
