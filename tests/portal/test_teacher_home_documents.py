"""A teacher's home names every act still to read besides the regulation (which has its own
card), with its due date, and links to «Мои документы»; a confirmed act leaves the list."""

from __future__ import annotations

import datetime as dt

from django.urls import reverse
from django.utils import timezone

from acknowledgements.services import acknowledgement_confirm, version_set_deadline
from tests.acknowledgements.builders import make_act
from tests.factories import PASSWORD


def test_the_teacher_is_told_of_each_other_act_to_read_until_it_is_read(
    client, admin, teacher, regulation
):
    rules = make_act(teacher.organisation, admin)
    due = timezone.localdate() + dt.timedelta(days=10)
    version_set_deadline(version=rules, actor=admin, read_by=due)
    client.force_login(teacher)
    page = client.get(reverse("teacher_home"))
    assert page.status_code == 200
    text = page.content.decode()
    assert "Ознакомьтесь с Положением о «Сферуме»." in text  # the regulation's own card
    block = text[text.index("data-other-documents") : text.index('<h2 class="h4">Мои объединения')]
    assert "Ознакомьтесь также с документом:" in block
    assert f"<li>«Правила внутреннего трудового распорядка» — до {due:%d.%m.%Y}</li>" in block
    assert f'href="{reverse("my_documents")}"' in block
    assert "Положение" not in block

    acknowledgement_confirm(
        version=rules, person=teacher, password=PASSWORD, ip_address=None, user_agent=""
    )
    text = client.get(reverse("teacher_home")).content.decode()
    assert "data-other-documents" not in text
