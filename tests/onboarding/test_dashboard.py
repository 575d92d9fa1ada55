"""The rollout dashboard's numbers, checked against the data they claim to count."""

from __future__ import annotations

import datetime as dt
import html
import re

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from accounts.models import Role, User, UserRole
from acknowledgements.models import AckMethod, Acknowledgement
from acknowledgements.services import acknowledgement_record_paper
from onboarding.models import RequestStatus, SferumStatus, TeacherSferumStatus
from onboarding.selectors import NEXT_STEP
from tests.acknowledgements.builders import make_version
from tests.factories import UserFactory
from tests.helpers import changed_outside_services, squash

DASHBOARD = "/dashboard/"
PAPER_DATE = dt.date(2024, 1, 15)


def visible(fragment: str) -> str:
    """What a reader sees of an HTML fragment: tags dropped, entities decoded, one spacing."""
    return squash(html.unescape(re.sub(r"<[^>]+>", " ", fragment)))


def card(page: str, heading: str) -> str:
    """The visible text of the dashboard card headed `heading`."""
    for chunk in page.split('<div class="card')[1:]:
        if f'<h2 class="h5">{heading}</h2>' in chunk:
            return visible(chunk)
    raise AssertionError(f"no card headed {heading!r} on the dashboard")


def x_of_y(text: str) -> tuple[int, int, int]:
    match = re.search(r"(\d+) из (\d+) \((\d+)%\)", text)
    assert match, text
    return int(match.group(1)), int(match.group(2)), int(match.group(3))


def percent(x: int, y: int) -> int:
    return round(100 * x / y) if y else 0


# --- the expected numbers, computed from the rows, not through the app's queries ---------


def active_ids_with_role(organisation, *roles: str) -> set[int]:
    return {
        user_id
        for user_id, is_active, org_id in UserRole.objects.filter(role__in=roles).values_list(
            "user_id", "user__is_active", "user__organisation_id"
        )
        if is_active and org_id == organisation.pk
    }


def expected_acknowledgements(organisation, version) -> tuple[int, int]:
    readers = active_ids_with_role(organisation, Role.TEACHER, Role.ADMIN)
    confirmed = set(
        Acknowledgement.objects.filter(version=version).values_list("person_id", flat=True)
    )
    return len(readers & confirmed), len(readers)


def expected_verified(organisation) -> tuple[int, int]:
    teachers = active_ids_with_role(organisation, Role.TEACHER)
    verified = set(
        TeacherSferumStatus.objects.filter(status=SferumStatus.VERIFIED).values_list(
            "person_id", flat=True
        )
    )
    return len(teachers & verified), len(teachers)


# --- building the data ---------------------------------------------------------------------


def add_teachers(organisation, statuses: list[str | None], prefix: str) -> list[User]:
    """One teacher per entry; None means no Sferum status row at all."""
    people = []
    for i, status in enumerate(statuses):
        person = UserFactory(
            organisation=organisation,
            last_name=f"{prefix}{i:03d}",
            roles=[Role.TEACHER],
        )
        if status is not None:
            TeacherSferumStatus.objects.create(person=person, status=status)
        people.append(person)
    return people


def bulk_teachers(organisation, count: int, prefix: str, version=None, recorder=None) -> None:
    """`count` teachers in three bulk inserts: every third is verified, every second has read
    the regulation (when a version is given)."""
    users = User.objects.bulk_create(
        User(
            organisation=organisation,
            username=f"{prefix}-{organisation.pk}-{i}",
            last_name=f"{prefix}{i:04d}",
            first_name="Анна",
            password="!",
        )
        for i in range(count)
    )
    if users and users[0].pk is None:  # a backend without RETURNING
        users = list(User.objects.filter(username__startswith=f"{prefix}-{organisation.pk}-"))
    UserRole.objects.bulk_create(UserRole(user=u, role=Role.TEACHER) for u in users)
    TeacherSferumStatus.objects.bulk_create(
        TeacherSferumStatus(
            person=u,
            status=SferumStatus.VERIFIED if i % 3 == 0 else SferumStatus.PROFILE_CREATED,
        )
        for i, u in enumerate(users)
    )
    if version is not None:
        Acknowledgement.objects.bulk_create(
            Acknowledgement(
                version=version,
                person=u,
                method=AckMethod.PAPER,
                acknowledged_on=PAPER_DATE,
                recorded_by=recorder,
                text_sha256=version.text_sha256,
            )
            for i, u in enumerate(users)
            if i % 2 == 0
        )


@pytest.fixture
def staff(organisation, director, admin, teacher, student, parent, regulation):
    """7 teachers besides the personas: 3 verified, 2 asked for verification, 1 with a
    profile, 1 who has not started; the admin and 3 of the new teachers read the regulation."""
    new = add_teachers(
        organisation,
        [
            SferumStatus.VERIFIED,
            SferumStatus.VERIFIED,
            SferumStatus.VERIFIED,
            SferumStatus.VERIFICATION_REQUESTED,
            SferumStatus.VERIFICATION_REQUESTED,
            SferumStatus.PROFILE_CREATED,
            None,
        ],
        "Педагогова",
    )
    for person in [admin, new[0], new[3], new[6]]:
        acknowledgement_record_paper(
            version=regulation, person=person, paper_date=PAPER_DATE, recorded_by=admin
        )
    return new


def dashboard(client, person) -> str:
    client.force_login(person)
    response = client.get(DASHBOARD)
    assert response.status_code == 200
    return response.content.decode()


def test_the_dashboard_counts_what_the_rows_say(
    client, organisation, director, regulation, staff, ready_request
):
    page = dashboard(client, director)

    confirmed, readers = expected_acknowledgements(organisation, regulation)
    # admin (admin + teacher), the teacher persona and 7 new teachers; 4 have read it
    assert (confirmed, readers) == (4, 9)
    reading = card(page, "Ознакомление с Положением")
    assert x_of_y(reading) == (confirmed, readers, percent(confirmed, readers))
    assert "4 из 9 (44%)" in reading

    verified, teachers = expected_verified(organisation)
    assert (verified, teachers) == (3, 9)
    sferum = card(page, "Статус «учитель» подтверждён")
    assert x_of_y(sferum) == (verified, teachers, percent(verified, teachers))
    assert "3 из 9 (33%)" in sferum
    assert "Учебный профиль создан: 1" in sferum
    assert "Запрошено подтверждение «учитель»: 2" in sferum
    assert "Статус «учитель» подтверждён: 3" in sferum

    request_card = card(page, "Заявка на регистрацию")
    assert ready_request.status == RequestStatus.READY
    assert "Готова к отправке" in request_card
    assert squash(NEXT_STEP[RequestStatus.READY]) in request_card
    assert "Письмо о назначении (PDF)" in request_card

    stats = visible(page)
    assert f"{teachers} Педагоги" in stats
    assert "1 Обучающиеся" in stats
    assert "1 Родители" in stats


def test_the_checklist_marks_what_is_done(client, organisation, director, regulation, staff):
    page = dashboard(client, director)
    checklist = card(page, "Порядок внедрения")
    assert "выполнено: Назначен администратор ИКОП «Сферум»" in checklist
    assert "выполнено: Положение утверждено приказом" in checklist
    assert "не выполнено: Сотрудники ознакомлены с Положением" in checklist
    assert "не выполнено: Педагоги подтвердили статус «учитель»" in checklist
    assert "не выполнено: Заявка на регистрацию отправлена" in checklist


def test_without_a_request_the_dashboard_says_how_to_begin(client, director, regulation):
    request_card = card(dashboard(client, director), "Заявка на регистрацию")
    assert "Начните заявку на регистрацию организации в «Сферуме»." in request_card
    assert "Готова к отправке" not in request_card


def test_an_inactive_teacher_is_not_counted(
    client, organisation, director, admin, regulation, staff
):
    before_ack = x_of_y(card(dashboard(client, director), "Ознакомление с Положением"))
    before_sferum = x_of_y(card(dashboard(client, director), "Статус «учитель» подтверждён"))

    (leaver,) = add_teachers(organisation, [SferumStatus.VERIFIED], "Уволенная")
    acknowledgement_record_paper(
        version=regulation, person=leaver, paper_date=PAPER_DATE, recorded_by=admin
    )
    page = dashboard(client, director)
    # while active, they count in both numbers
    assert x_of_y(card(page, "Ознакомление с Положением"))[:2] == (
        before_ack[0] + 1,
        before_ack[1] + 1,
    )
    assert x_of_y(card(page, "Статус «учитель» подтверждён"))[:2] == (
        before_sferum[0] + 1,
        before_sferum[1] + 1,
    )

    leaver.is_active = False
    leaver.save(update_fields=["is_active"])
    changed_outside_services()
    page = dashboard(client, director)
    assert x_of_y(card(page, "Ознакомление с Положением")) == before_ack
    assert x_of_y(card(page, "Статус «учитель» подтверждён")) == before_sferum
    confirmed, readers = expected_acknowledgements(organisation, regulation)
    assert before_ack[:2] == (confirmed, readers)
    verified, teachers = expected_verified(organisation)
    assert before_sferum[:2] == (verified, teachers)
    assert f"{teachers} Педагоги" in visible(page)


def test_another_organisations_data_never_shows_up(
    client, organisation, director, regulation, staff, other_organisation, outsider
):
    before = dashboard(client, director)
    other_version = make_version(other_organisation, outsider, approve=True)
    bulk_teachers(other_organisation, 40, "Чужая", version=other_version, recorder=outsider)
    add_teachers(other_organisation, [SferumStatus.VERIFIED] * 5, "ЧужаяПедагог")
    assert (
        TeacherSferumStatus.objects.filter(
            person__organisation=other_organisation, status=SferumStatus.VERIFIED
        ).count()
        >= 19
    )

    after = dashboard(client, director)
    for heading in ("Ознакомление с Положением", "Статус «учитель» подтверждён"):
        assert x_of_y(card(after, heading)) == x_of_y(card(before, heading)), heading
    assert x_of_y(card(after, "Ознакомление с Положением"))[:2] == expected_acknowledgements(
        organisation, regulation
    )
    assert x_of_y(card(after, "Статус «учитель» подтверждён"))[:2] == expected_verified(
        organisation
    )
    assert "Чужая" not in after and "Чужой" not in after

    # and the other organisation's director sees only their own people
    other_page = dashboard(client, outsider)
    other_verified, other_teachers = expected_verified(other_organisation)
    assert x_of_y(card(other_page, "Статус «учитель» подтверждён"))[:2] == (
        other_verified,
        other_teachers,
    )
    # every third of the 40, the 5 more; the outsider persona teaches but has no status row
    assert (other_verified, other_teachers) == (14 + 5, 40 + 5 + 1)


def test_the_number_of_queries_is_the_same_for_few_and_many_staff(
    client, organisation, director, admin, regulation, staff, ready_request,
    django_assert_num_queries,
):  # fmt: skip
    """Measured with 5 extra teachers, then required exactly with 200 more."""

    def assert_counts_right(response) -> None:
        assert response.status_code == 200
        page = response.content.decode()
        confirmed, readers = expected_acknowledgements(organisation, regulation)
        assert x_of_y(card(page, "Ознакомление с Положением"))[:2] == (confirmed, readers)
        verified, teachers = expected_verified(organisation)
        assert x_of_y(card(page, "Статус «учитель» подтверждён"))[:2] == (verified, teachers)

    client.force_login(director)
    bulk_teachers(organisation, 5, "Малая", version=regulation, recorder=admin)
    client.get(DASHBOARD)  # the session is loaded alike for both measurements
    changed_outside_services()  # both measurements count the numbers, none reads them back
    with CaptureQueriesContext(connection) as small:
        response = client.get(DASHBOARD)
    assert_counts_right(response)
    assert expected_verified(organisation)[1] == 9 + 5

    bulk_teachers(organisation, 200, "Массовая", version=regulation, recorder=admin)
    changed_outside_services()
    with django_assert_num_queries(len(small)):
        response = client.get(DASHBOARD)
    assert_counts_right(response)
    assert expected_verified(organisation)[1] == 9 + 5 + 200


def test_the_reading_card_shows_the_due_date_and_who_is_overdue(
    client, organisation, admin, director, regulation, staff
):
    from django.utils import timezone

    from acknowledgements.models import DocumentVersion
    from acknowledgements.services import version_set_deadline

    today = timezone.localdate()
    version_set_deadline(version=regulation, actor=admin, read_by=today)
    reading = card(dashboard(client, director), "Ознакомление с Положением")
    assert f"Срок ознакомления: {today:%d.%m.%Y}" in reading
    assert "не ознакомились в срок" not in reading  # the date has not passed yet

    # The date passes (set in the past directly: the service refuses a past date).
    DocumentVersion.objects.filter(pk=regulation.pk).update(read_by=today - dt.timedelta(days=1))
    changed_outside_services()
    confirmed, readers = expected_acknowledgements(organisation, regulation)
    page = dashboard(client, director)
    reading = card(page, "Ознакомление с Положением")
    assert f"не ознакомились в срок: {readers - confirmed}" in reading
    assert 'href="/regulation/acknowledgements/?status=overdue"' in page
