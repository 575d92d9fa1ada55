"""§5.2: students have their own short notice and confirm reading it; the dashboard's partial
counts both notices."""

from __future__ import annotations

import pytest
from django.template.loader import render_to_string
from django.urls import reverse

from cdt_portal.errors import PortalError
from cdt_portal.models import AuditEntry
from families.models import StudentNotice, StudentNoticeAcknowledgement
from families.selectors import default_student_notice_text, notice_counts
from families.services import notice_confirm, student_notice_confirm, student_notice_publish


def test_the_default_text_is_short_and_plain(organisation):
    text = default_student_notice_text(organisation)
    assert organisation.short_name in text
    assert "Посторонних там нет" in text
    assert len(text) < 1200


def test_the_admin_publishes_and_the_student_confirms(client, admin, student, organisation):
    client.force_login(admin)
    page = client.get(reverse("notices")).content.decode()
    assert "Памятка для обучающихся" in page and reverse("student_notice_publish") in page
    response = client.post(reverse("student_notice_publish"), {"text": "В чате только свои."})
    assert response.status_code == 302 and response["Location"] == reverse("notices")
    notice = StudentNotice.objects.get()
    entry = AuditEntry.objects.get(action="student_notice.published")
    assert entry.actor_id == admin.pk and entry.object_id == str(notice.pk)
    # The same text again changes nothing.
    client.post(reverse("student_notice_publish"), {"text": "В чате только свои."})
    assert StudentNotice.objects.count() == 1
    assert AuditEntry.objects.filter(action="student_notice.published").count() == 1

    client.force_login(student)
    home = client.get(reverse("family_home")).content.decode()
    assert "В чате только свои." in home and "Прочитал</button>" in home
    response = client.post(reverse("student_notice_confirm"))
    assert response.status_code == 302 and response["Location"] == reverse("family_home")
    client.post(reverse("student_notice_confirm"))  # twice changes nothing
    assert StudentNoticeAcknowledgement.objects.filter(student=student).count() == 1
    assert AuditEntry.objects.filter(action="student_notice.confirmed", actor=student).count() == 1
    assert "<strong>Прочитано" in client.get(reverse("family_home")).content.decode()


def test_an_empty_text_is_refused_and_a_parent_cannot_confirm(client, admin, parent):
    client.force_login(admin)
    response = client.post(reverse("student_notice_publish"), {"text": "  "}, follow=True)
    assert "Текст уведомления пустой." in response.content.decode()
    assert not StudentNotice.objects.exists()
    notice = student_notice_publish(organisation=admin.organisation, actor=admin, text="Привет")
    with pytest.raises(PortalError):
        student_notice_confirm(notice=notice, student=parent)
    client.force_login(parent)
    assert client.post(reverse("student_notice_confirm")).status_code == 403
    assert not StudentNoticeAcknowledgement.objects.exists()


def test_the_dashboard_partial_counts_both_notices(admin, parent, student, organisation, notice):
    snotice = student_notice_publish(organisation=organisation, actor=admin, text="Привет")
    notice_confirm(notice=notice, parent=parent)
    counts = notice_counts(organisation)
    assert (counts.parents.done, counts.parents.total) == (1, 1)
    assert (counts.students.done, counts.students.total) == (0, 1)
    student_notice_confirm(notice=snotice, student=student)
    counts = notice_counts(organisation)
    assert counts.students.done == 1 and counts.declined == 0
    html = render_to_string("onboarding/_dashboard_notices.html", {"notice_counts": counts})
    assert "Родители ознакомлены: 1 из 1" in html
    assert "Обучающиеся ознакомлены: 1 из 1" in html
    assert "Семьи без «Сферума» (другой способ связи): 0" in html
