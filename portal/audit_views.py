"""The audit log for the organisation's director and administrators, and its CSV."""

from __future__ import annotations

import json

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import timezone

from accounts.permissions import MANAGERS, roles_required
from cdt_portal.audit import action_label, describe_entries, organisation_entries
from cdt_portal.exports import csv_response
from cdt_portal.paging import paginate

from .forms import AuditFilterForm


def _filtered(request: HttpRequest):
    form = AuditFilterForm(request.GET or None, organisation_id=request.user.organisation_id)
    if form.is_bound and not form.is_valid():
        return form, None
    filters = form.filters() if form.is_bound else {}
    return form, organisation_entries(request.user.organisation_id, **filters)


@roles_required(MANAGERS)
def audit_log(request: HttpRequest) -> HttpResponse:
    form, entries = _filtered(request)
    if entries is None:
        return render(request, "portal/audit_log.html", {"form": form}, status=400)
    page = paginate(request, entries, organisation_id=request.user.organisation_id)
    page["page_obj"].object_list = describe_entries(
        page["page_obj"].object_list, request.user.organisation_id
    )
    return render(request, "portal/audit_log.html", {"form": form, **page})


@roles_required(MANAGERS)
def audit_csv(request: HttpRequest) -> HttpResponse:
    form, entries = _filtered(request)
    if entries is None:
        return render(request, "portal/audit_log.html", {"form": form}, status=400)
    # The rows are written while the response streams, after the organisation's time zone
    # has been put back (accounts.middleware.OrganisationTimezoneMiddleware): they take it.
    zone = timezone.get_current_timezone()
    return csv_response(
        f"Журнал действий {timezone.localdate():%d.%m.%Y}.csv",
        ["Когда", "Кто", "Действие", "Объект", "Что изменилось", "IP-адрес"],
        (
            [
                f"{timezone.localtime(entry.at, zone):%d.%m.%Y %H:%M:%S}",
                entry.actor_name,
                action_label(entry.action),
                entry.object_repr,
                json.dumps(entry.data, ensure_ascii=False, sort_keys=True),
                entry.ip_address or "",
            ]
            for entry in entries.iterator(chunk_size=2000)
        ),
    )
