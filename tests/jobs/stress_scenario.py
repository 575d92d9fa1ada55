"""The scenario of tests/jobs/test_stress.py: the organisations it builds (people, a history of
approved versions, the drafts to approve, the people to invite, the staff lists to import) and
what the clients press in each phase, with the jobs those presses must start."""

from __future__ import annotations

import datetime as dt
import random
import threading
import time
from collections import Counter
from dataclasses import dataclass, field

from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone

from accounts.models import ImportBatch, Role, User
from acknowledgements.models import (
    AckMethod,
    Acknowledgement,
    DocumentVersion,
    VersionStatus,
    text_sha256,
)
from acknowledgements.services import version_create
from tests.acknowledgements.builders import REGULATION_TEXT
from tests.factories import OrganisationFactory, UserFactory
from tests.jobs import stress_support as stress
from tests.onboarding.builders import make_ready_request

TEACHERS = 5  # readers with an e-mail, besides the administrator
WITHOUT_EMAIL = 1  # a reader without an e-mail: recorded, never e-mailed
HISTORY = 4  # versions approved before the test: the last in force, the others superseded
BULK, SINGLE = 3, 5  # people invited per organisation and phase: in one mailing, one by one
LISTS, ROWS = 2, 3  # staff lists per organisation in its import phase, people per list

FIRST_NAMES = ["Анна", "Вера", "Галина", "Дарья", "Елена", "Зоя", "Инна", "Лидия"]
TEACHER_NAMES = ["Ананьева", "Борисова", "Волкова", "Громова", "Жукова", "Зайцева"]
LIST_NAMES = ["Белова", "Гусева", "Дроздова"]
LIST_PATRONYMICS = ["Борисовна", "Михайловна"]


# --- The organisations ------------------------------------------------------------------------


@dataclass
class School:
    index: int
    organisation: object
    director: User
    admin: User
    history: list[DocumentVersion]  # approved before the test
    drafts: dict[int, DocumentVersion]  # approved through the view in phase 1 and 2
    invitees: dict[int, tuple[list[User], list[User]]]  # phase: (one mailing, one by one)
    lists: dict[int, list[str]] = field(default_factory=dict)  # phase: staff lists (CSV)

    def imports_in(self, phase: int) -> bool:
        """Staff lists and the registration e-mail in one phase, sheets in the other."""
        return self.index % 2 == phase - 1

    def sheet_versions(self) -> list[DocumentVersion]:
        return list(
            DocumentVersion.objects.filter(
                document__organisation=self.organisation,
                status__in=[VersionStatus.APPROVED, VersionStatus.SUPERSEDED],
            ).order_by("number")
        )


def _person(school_index: int, name: str, *roles: str, email: bool = True, **fields) -> User:
    slug = f"s{school_index}-{name}"
    return UserFactory(
        username=slug,
        email=f"{slug}@example.ru" if email else "",
        first_name=FIRST_NAMES[school_index],
        roles=list(roles),
        **fields,
    )


def _waiting(person: User) -> User:
    """Not signed in yet: the person waits for an invitation."""
    person.set_unusable_password()
    person.save(update_fields=["password"])
    return person


def build_school(index: int) -> School:
    organisation = OrganisationFactory(slug=f"stress{index}")
    director = _person(
        index,
        "director",
        Role.DIRECTOR,
        organisation=organisation,
        last_name="Директорова",
        patronymic="Ивановна",
    )
    admin = _person(
        index,
        "admin",
        Role.ADMIN,
        Role.TEACHER,
        organisation=organisation,
        last_name="Админова",
        patronymic="Петровна",
    )
    teachers = [
        _person(
            index,
            f"t{n}",
            Role.TEACHER,
            organisation=organisation,
            last_name=TEACHER_NAMES[n],
            patronymic="Сергеевна",
            position="педагог дополнительного образования",
        )
        for n in range(TEACHERS)
    ]
    for n in range(WITHOUT_EMAIL):
        _person(
            index,
            f"n{n}",
            Role.TEACHER,
            organisation=organisation,
            email=False,
            last_name="Безадресова",
            patronymic="Олеговна",
        )
    invitees = {}
    for phase in (1, 2):
        people = [
            _waiting(
                _person(
                    index,
                    f"p{phase}i{n}",
                    Role.STUDENT,
                    organisation=organisation,
                    last_name="Приглашаемая",
                    patronymic=f"Фаза{'АБ'[phase - 1]}",
                )
            )
            for n in range(BULK + SINGLE)
        ]
        invitees[phase] = (people[:BULK], people[BULK:])
    # The history is written straight to the tables (approving through the service renders an
    # order each, seconds of this test's budget): the approvals under test are the drafts'.
    history = []
    for n in range(HISTORY):
        version = version_create(
            organisation=organisation,
            actor=director,
            title="Положение по использованию ИКОП «Сферум»",
            text=f"{REGULATION_TEXT}\nРедакция {n + 1}.\n",
            order_number=f"{10 + n}-О",
            order_date=dt.date(2024, 1, 10 + n),
            approver_position="Директор",
            approver_name="О.Б. Денисенко",
        )
        status = VersionStatus.APPROVED if n == HISTORY - 1 else VersionStatus.SUPERSEDED
        DocumentVersion.objects.filter(pk=version.pk).update(
            status=status,
            text_sha256=text_sha256(version.text),
            approved_at=timezone.now(),
            approved_by=director,
        )
        # Some have read it on paper (a different number each), so its filled sheet differs
        # from its blank one.
        Acknowledgement.objects.bulk_create(
            Acknowledgement(
                version=version,
                person=person,
                method=AckMethod.PAPER,
                acknowledged_on=dt.date(2024, 2, 1),
                recorded_by=admin,
                text_sha256=text_sha256(version.text),
            )
            for person in teachers[: n + 1]
        )
        history.append(version)
    drafts = {
        phase: version_create(
            organisation=organisation,
            actor=director,
            title="Положение по использованию ИКОП «Сферум»",
            text=f"{REGULATION_TEXT}\nНовая редакция, фаза {phase}.\n",
            order_number=f"{20 + phase}-О",
            order_date=dt.date(2025, 9, phase),
            approver_position="Директор",
            approver_name="О.Б. Денисенко",
        )
        for phase in (1, 2)
    }
    make_ready_request(organisation, admin)
    school = School(index, organisation, director, admin, history, drafts, invitees)
    for phase in (1, 2):
        if school.imports_in(phase):
            school.lists[phase] = [
                "Фамилия;Имя;Отчество;Должность;E-mail\n"
                + "".join(
                    f"{LIST_NAMES[row]};{FIRST_NAMES[index]};{LIST_PATRONYMICS[n]};педагог;"
                    f"list-s{index}-{n}-{row}@example.ru\n"
                    for row in range(ROWS)
                )
                for n in range(LISTS)
            ]
    return school


# --- What the clients press ---------------------------------------------------------------------


def _post(client, url: str, data: dict | None = None, *, to: str | None = None):
    response = client.post(url, data or {})
    assert response.status_code == 302, (url, response.status_code)
    if to is not None:
        assert response["Location"] == to, (url, response["Location"])
    return response


def _import(content: str, deadline: float, stop: threading.Event):
    """Upload a staff list, wait for its check (a job), then press «Добавить» (twice)."""

    def do(client) -> None:
        upload = SimpleUploadedFile("staff.csv", content.encode())
        response = _post(client, "/people/import/", {"file": upload, "role": Role.TEACHER})
        pk = int(response["Location"].rstrip("/").rsplit("/", 1)[1])
        batch = ImportBatch.objects.filter(pk=pk)

        def checked() -> bool:
            if stop.is_set():
                raise stress.Stalled(f"gave up waiting for the check of list {pk}")
            return batch.values_list("preview", flat=True).get() is not None

        stress.wait_for(checked, deadline - time.monotonic(), f"the check of staff list {pk}")
        preview = batch.values_list("preview", flat=True).get()
        assert (preview.get("to_add"), preview.get("errors")) == (ROWS, 0), preview
        for _ in range(2):  # a double click finds the same job
            _post(client, f"/people/import/{pk}/", to=f"/people/import/{pk}/")

    return do


@dataclass
class Plan:
    presses: list[stress.Press]
    jobs: Counter  # expected jobs of the phase, by kind
    sheets: list[tuple[DocumentVersion, bool]]
    started: dt.datetime | None = None


def plan_phase(phase: int, schools: list[School], rng: random.Random, stop) -> Plan:
    groups: list[list[stress.Press]] = []
    jobs: Counter = Counter()
    sheets = []
    deadline = time.monotonic() + 90

    def press(name, user, do, times: int = 1) -> None:
        """`times` 2 is a double click: two presses side by side, taken by two clients at
        once (a second press half a minute later would be a new invitation, by design)."""
        groups.append([stress.Press(name, user, do) for _ in range(times)])

    for school in schools:
        draft = school.drafts[phase]
        press(
            f"approve {draft.pk}",
            school.director,
            lambda c, v=draft: _post(
                c, f"/regulation/versions/{v.pk}/approve/", to=f"/regulation/versions/{v.pk}/"
            ),
            times=2,
        )
        jobs["version.approve"] += 1
        press(
            f"remind s{school.index}",
            school.admin,
            lambda c: _post(c, "/regulation/remind/", to="/regulation/remind/"),
        )
        jobs["reminders"] += 1
        bulk, single = school.invitees[phase]
        press(
            f"invite {len(bulk)} s{school.index}",
            school.admin,
            lambda c, people=bulk: _post(
                c, "/people/invitations/", {"people": [p.pk for p in people], "email": "1"}
            ),
            times=2,
        )
        jobs["invitations"] += 1
        for person in single:
            press(
                f"invite {person.username}",
                school.admin,
                lambda c, p=person: _post(c, f"/people/{p.pk}/invite/", to=f"/people/{p.pk}/"),
                times=2,
            )
            jobs["invitations"] += 1
        if school.imports_in(phase):
            for n, content in enumerate(school.lists[phase]):
                press(
                    f"import s{school.index} list {n}",
                    school.admin,
                    _import(content, deadline, stop),
                )
                jobs["import"] += 2  # the check and the adding
            press(
                f"send the request of s{school.index}",
                school.admin,
                lambda c: _post(c, "/onboarding/request/send/", to="/onboarding/request/"),
                times=2,
            )
            jobs["registration_send"] += 1
        else:
            for version in school.sheet_versions():
                for blank in (False, True):
                    url = f"/regulation/versions/{version.pk}/sheet.pdf" + (
                        "?blank=1" if blank else ""
                    )
                    press(
                        f"sheet {url}",
                        rng.choice([school.director, school.admin]),
                        lambda c, u=url: _post(c, u, to=u),
                        times=rng.choice([1, 2]),
                    )
                    jobs["sheet"] += 1
                    sheets.append((version, blank))
    rng.shuffle(groups)
    return Plan([p for group in groups for p in group], jobs, sheets)
