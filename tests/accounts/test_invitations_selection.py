"""The invitations page: nobody is ticked at first; «Выбрать всех без пароля» and «Снять все»
work without JavaScript (links the server answers) and the count of ticked people is shown."""

import re

import pytest
from django.urls import reverse

from accounts.models import Invitation
from cdt_portal.models import Job
from tests.factories import UserFactory

URL = "/people/invitations/"


@pytest.fixture
def waiting(organisation):
    """Three people without a password: two with an e-mail, one without."""
    people = [
        UserFactory(organisation=organisation, username=f"w{n}", last_name=name, email=email)
        for n, (name, email) in enumerate(
            [("Алиев", "aliev@example.ru"), ("Ким", ""), ("Пак", "pak@example.ru")]
        )
    ]
    for person in people:
        person.set_unusable_password()
        person.save()
    return people


def checkboxes(page: str) -> list[str]:
    return re.findall(r'<input class="form-check-input" type="checkbox" name="people"[^>]*>', page)


def summary(page: str) -> str:
    text = re.search(r"<p[^>]*data-selected-summary>(.*?)</p>", page, re.S).group(1)
    return re.sub(r"<[^>]+>", "", text)


def test_the_url_is_the_invitations_page():
    assert reverse("invitations_print") == URL


def test_nobody_is_ticked_at_first_and_the_count_says_so(client, admin, waiting):
    client.force_login(admin)
    page = client.get(URL).content.decode()
    boxes = checkboxes(page)
    assert len(boxes) == 3
    assert not any(" checked" in box for box in boxes)
    assert summary(page) == "Отмечено: 0 из 3, из них с e-mail: 0"
    assert 'href="?select=without_password" data-select-all>Выбрать всех без пароля</a>' in page
    assert 'href="?" data-select-none>Снять все</a>' in page
    # Who has an e-mail is told to the script by an attribute, not by inline code.
    assert sum("data-has-email" in box for box in boxes) == 2


def test_select_all_without_javascript_ticks_everyone_on_the_page(client, admin, waiting):
    client.force_login(admin)
    page = client.get(URL, {"select": "without_password"}).content.decode()
    boxes = checkboxes(page)
    assert len(boxes) == 3 and all(" checked" in box for box in boxes)
    assert summary(page) == "Отмечено: 3 из 3, из них с e-mail: 2"


def test_an_unknown_select_value_ticks_nobody(client, admin, waiting):
    client.force_login(admin)
    page = client.get(URL, {"select": "everyone"}).content.decode()
    assert not any(" checked" in box for box in checkboxes(page))


def test_the_script_is_a_static_file_and_the_page_has_no_inline_code(client, admin, waiting):
    client.force_login(admin)
    page = client.get(URL).content.decode()
    assert '<script src="/static/js/invitations.js" defer></script>' in page
    assert not re.search(r"<script(?![^>]*\bsrc=)[^>]*>", page)
    assert "style=" not in page and " onclick=" not in page
    assert client.get("/static/js/invitations.js").status_code == 200


def test_the_selection_links_keep_the_page(client, admin, organisation, waiting):
    for n in range(200):
        UserFactory(organisation=organisation, username=f"extra{n}", last_name=f"Я{n:03}")
    from accounts.models import User

    User.objects.filter(username__startswith="extra").update(password="!")
    client.force_login(admin)
    page = client.get(URL, {"page": 2, "select": "without_password"}).content.decode()
    assert 'href="?page=2&amp;select=without_password" data-select-all' in page
    assert 'href="?page=2" data-select-none' in page
    assert "на этой странице (всего без пароля: 203)" in page


def test_nobody_ticked_prints_nothing_and_says_so(client, admin, waiting):
    client.force_login(admin)
    response = client.post(URL, follow=True)
    assert "Отметьте, кому напечатать приглашения." in response.content.decode()
    assert not Invitation.objects.exists()


def test_the_ticked_people_get_slips(client, admin, waiting):
    client.force_login(admin)
    response = client.post(URL, {"people": [waiting[0].pk, waiting[1].pk]})
    # The slips are a job (run at once here): the press leads to the sheet's address, which
    # serves it (tests/accounts/test_invitation_slips_job.py).
    job = Job.objects.get(kind="invitation_slips")
    assert (response.status_code, response["Location"]) == (
        302,
        f"/people/invitations/slips/{job.pk}.pdf",
    )
    assert client.get(response["Location"])["Content-Type"] == "application/pdf"
    assert set(Invitation.objects.values_list("user_id", flat=True)) == {
        waiting[0].pk,
        waiting[1].pk,
    }
