"""A paper signature is recorded for the version the form showed: when a new version came
into force while the administrator filled the form in, the post is refused (400, a Russian
message naming the version now in force) and nothing is written; the paper the person
signed belongs to the old one."""

from __future__ import annotations

import re

from django.urls import reverse
from django.utils import timezone

from acknowledgements.models import Acknowledgement
from tests.acknowledgements.builders import make_version


def test_a_paper_posted_after_a_new_version_came_into_force_is_refused(
    client, admin, director, teacher, regulation
):
    client.force_login(admin)
    page = client.get(reverse("acknowledgement_paper")).content.decode()
    shown = int(re.search(r'name="version" value="(\d+)"', page).group(1))
    assert shown == regulation.pk
    newer = make_version(
        regulation.document.organisation, director, approve=True, number_text="9-О"
    )
    response = client.post(
        reverse("acknowledgement_paper"),
        {"person": teacher.pk, "paper_date": f"{timezone.localdate()}", "version": shown},
    )
    assert response.status_code == 400
    assert (
        "Пока вы заполняли форму, в силу вступила другая редакция "
        f"(приказ от {newer.order_date:%d.%m.%Y} г. № 9-О)"
    ) in response.content.decode()
    assert not Acknowledgement.objects.exists()

    # The form as the page shows it now is for the new version, and records on it.
    page = client.get(reverse("acknowledgement_paper")).content.decode()
    assert f'name="version" value="{newer.pk}"' in page
    response = client.post(
        reverse("acknowledgement_paper"),
        {"person": teacher.pk, "paper_date": f"{timezone.localdate()}", "version": newer.pk},
    )
    assert (response.status_code, response["Location"]) == (302, reverse("acknowledgement_list"))
    assert list(Acknowledgement.objects.values_list("person", "version")) == [
        (teacher.pk, newer.pk)
    ]
