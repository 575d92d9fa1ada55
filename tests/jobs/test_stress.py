"""Dependable jobs, under load and under kills, with everything real: a few hundred jobs of
every kind started through the views by concurrent signed-in clients, run by the real huey
consumer (`manage.py run_huey`, two worker processes, the periodic checks on) on a Redis queue
and the test's PostgreSQL database, e-mail to a local SMTP server that counts every letter.

The views run here, in the test process (Django test clients in threads, `transaction=True`:
their transactions commit and `transaction.on_commit` fires for real; the autouse
`jobs_run_when_queued` leaves it alone for such tests). This process's huey, the test settings'
MemoryHuey to which every task is bound, is pointed at the worker's Redis queue for the length
of the test (`stress_support.views_queue_on_redis`), under a name of its own, removed after.

Phase 1, the proof that a job is queued only after its row commits: JOB_SILENCE_SECONDS is
600 in the worker, so the look for lost jobs cannot put anything back within the test; no
kills. Every job must end done. Were `cdt_portal.jobs._after_commit` to queue at once (inside
the transaction), an idle worker would take a task before its row committed, claim nothing,
and the job would wait «в очереди» for ever: the phase stops with the jobs left behind. So
that this does not hang on luck, each commit of the views takes COMMIT_DELAY longer in this
phase (as a commit over a network would): an idle worker always gets to a task first. Tried
with `_after_commit = lambda callback: callback()`: 106 and 107 of 107 jobs were left queued.

Phase 2, the proof that a lost job comes back and nothing happens twice: the worker runs with
JOB_SILENCE_SECONDS = 3 and its whole process group is SIGKILLed at seeded random moments
while jobs run, KILLS times, each time started again. Every job must end done; every order and
every sheet is stored once (the files under MEDIA_ROOT/documents are exactly those the
versions' orders and the sheets' plans name, each a whole PDF); every letter reached the mail
server at most once, those recorded as sent exactly once, and whoever's letter was not
confirmed is shown «отправка не подтверждена» and offered again; one `job.requeued` entry per
time a job was put back, and nothing done twice (`version.approved` once per version,
`import.applied` once per list, `version.reminded` once per run, the request sent once).

Most buttons are pressed twice at once (two clients, side by side), as a double click: the
second press must find the first one's job. Every job is started by a press, so once the
presses are over the jobs of the phase must be exactly one per action.

The organisations take turns: in each phase half of them import staff lists and send the
registration e-mail while the other half have their acknowledgement sheets built, so that no
list changes a sheet while it is being built (a sheet's key names its people). Everyone
approves a version, reminds and invites in both phases.

The counts are printed at the end of the run, passed or failed (tests/counts.py).
PostgreSQL only: the worker needs the test database, which SQLite keeps in memory."""

from __future__ import annotations

import datetime as dt
import random
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.test import Client
from django.utils import timezone

from accounts.models import ImportBatch, InvitationDelivery, InvitationMailing, Role, User
from accounts.selectors import unsent_deliveries
from acknowledgements import documents
from acknowledgements.models import (
    AckMethod,
    Acknowledgement,
    DeliveryStatus,
    DocumentVersion,
    ReminderRun,
    VersionStatus,
    text_sha256,
)
from acknowledgements.services import UNSENT, version_create
from cdt_portal.models import AuditEntry, Job
from onboarding.models import RegistrationRequest, RequestStatus
from tests.acknowledgements.builders import REGULATION_TEXT
from tests.counts import report
from tests.factories import OrganisationFactory, UserFactory
from tests.jobs import stress_support as stress
from tests.onboarding.builders import make_ready_request

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(
        connection.vendor != "postgresql",
        reason="the stress test runs on PostgreSQL: the worker process needs the test "
        "database, which SQLite keeps in this process's memory",
    ),
]

SEED = 20251206
ORGANISATIONS = 8
TEACHERS = 5  # readers with an e-mail, besides the administrator
WITHOUT_EMAIL = 1  # a reader without an e-mail: recorded, never e-mailed
HISTORY = 4  # versions approved before the test: the last in force, the others superseded
BULK, SINGLE = 3, 5  # people invited per organisation and phase: in one mailing, one by one
LISTS, ROWS = 2, 3  # staff lists per organisation in its import phase, people per list
THREADS = 8  # concurrent clients
KILLS = 4
SILENCE = 3  # JOB_SILENCE_SECONDS of phase 2
ACCEPT_DELAY = 0.05  # seconds the mail server takes to answer each letter
COMMIT_DELAY = 0.05  # seconds each commit of the views takes in phase 1

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


# --- Waiting for the jobs ------------------------------------------------------------------------


def phase_jobs(first: int):
    return Job.objects.filter(pk__gt=first)


def wait_for_jobs(
    first: int,
    expected: Counter,
    worker: stress.Worker,
    *,
    stall: float,
    deadline: float,
    pressing=lambda: False,
) -> None:
    """Until the clients are done `pressing` and the phase's jobs are all done. Fails as soon
    as one failed, or when nothing has moved for `stall` seconds while the queue is empty and
    nothing runs: a job left «в очереди» that nothing will ever run."""
    from huey.contrib.djhuey import HUEY

    moved, last = time.monotonic(), None
    while True:
        done_pressing = not pressing()
        rows = list(phase_jobs(first).values_list("pk", "kind", "key", "status", "attempt"))
        states = Counter(row[3] for row in rows)
        total = expected.total()
        started = Counter(row[1] for row in rows)
        if done_pressing and started != expected:
            # Every job is started by a press: once the presses are over, these are all.
            over = {kind for kind in started if started[kind] > expected[kind]}
            # A mailing's key ends in its generation: two of one people list were both sent.
            stems = Counter(row[2].rsplit(":", 1)[0] for row in rows if row[1] == "invitations")
            twice = sorted(
                row[2]
                for row in rows
                if row[1] in over
                and (row[1] != "invitations" or stems[row[2].rsplit(":", 1)[0]] > 1)
            )
            raise AssertionError(
                f"the presses started other jobs than one per action: started {dict(started)}, "
                f"expected {dict(expected)}; of the kinds with more: {twice[:40]}"
            )
        if done_pressing and states == Counter({Job.Status.DONE: total}):
            return
        failed = [row for row in rows if row[3] == Job.Status.FAILED]
        if failed:
            messages = dict(
                Job.objects.filter(pk__in=[r[0] for r in failed]).values_list("key", "message")
            )
            raise AssertionError(f"jobs failed: {messages}\n--- worker log ---\n{worker.tail()}")
        now = time.monotonic()
        if states != last:
            moved, last = now, states
        idle = HUEY.storage.queue_size() == 0 and not states.get(Job.Status.RUNNING)
        if (idle and now - moved > stall) or now > deadline:
            left = list(
                phase_jobs(first)
                .exclude(status=Job.Status.DONE)
                .values("kind", "key", "status", "attempt", "message", "heartbeat_at")[:20]
            )
            raise stress.Stalled(
                f"{len(left)} of {len(rows)} jobs started (of {total} expected) never ended; "
                f"nothing moved for {now - moved:.0f} s; "
                f"{HUEY.storage.queue_size()} tasks on the queue: {left}\n"
                f"--- database sessions ---\n{stress.database_sessions()}\n"
                f"--- worker log ---\n{worker.tail()}"
            )
        time.sleep(0.2)


# --- What each phase must have left -----------------------------------------------------------


def _audits(action: str, **filters) -> Counter:
    return Counter(
        AuditEntry.objects.filter(action=action, **filters).values_list("object_id", flat=True)
    )


def _letter_check(kind: str, rows: list[tuple[str, str]], letters: Counter, report: dict) -> None:
    """`rows`: (key, status) of every letter of `kind` the portal recorded in the phase. Sent:
    exactly one letter reached the server; unconfirmed: at most one; nothing else left, and no
    letter the portal has no row for."""
    statuses = Counter(status for _, status in rows)
    assert set(statuses) <= {"sent", "unconfirmed"}, (kind, statuses)
    keys = [key for key, _ in rows]
    assert len(keys) == len(set(keys)), f"{kind}: two letters recorded for one person"
    received = {letter.key: n for letter, n in letters.items() if letter.kind == kind}
    wrong = {
        key: (status, received.get(key, 0))
        for key, status in rows
        if received.get(key, 0) != 1 and (status == "sent" or received.get(key, 0) > 1)
    }
    assert not wrong, f"{kind}: letters received (status, count) {wrong}"
    strangers = set(received) - set(keys)
    assert not strangers, f"{kind}: letters nobody recorded: {strangers}"
    report[kind] = {
        "recorded": len(rows),
        "sent": statuses["sent"],
        "unconfirmed": statuses["unconfirmed"],
        "unconfirmed but received": sum(
            1 for key, status in rows if status == "unconfirmed" and received.get(key)
        ),
        "received": sum(received.values()),
        "max per recipient": max(received.values(), default=0),
    }


def check_phase(
    phase: int,
    first: int,
    plan: Plan,
    schools,
    letters: Counter,
    admin_clients,
    expected_files: set[str],
    media: Path,
    report: dict,
) -> None:
    jobs = list(phase_jobs(first))
    report["jobs"] = {
        kind: {
            "started": sum(1 for job in jobs if job.kind == kind),
            "expected": plan.jobs[kind],
            "done": sum(1 for job in jobs if job.kind == kind and job.status == Job.Status.DONE),
            "requeued": sum(job.requeued for job in jobs if job.kind == kind),
        }
        for kind in sorted(set(plan.jobs) | {job.kind for job in jobs})
    }
    report["jobs requeued"] = sum(job.requeued for job in jobs)
    assert Counter(job.kind for job in jobs) == plan.jobs
    assert {job.status for job in jobs} == {Job.Status.DONE}

    # Put back only by the look for lost jobs, each time audited once.
    requeues = _audits("job.requeued", object_id__in=[str(job.pk) for job in jobs])
    for job in jobs:
        assert job.attempt == 1 + job.requeued, (job.key, job.attempt, job.requeued)
        assert requeues[str(job.pk)] == job.requeued, (job.key, requeues[str(job.pk)])

    # Approvals: each draft approved once, its order stored once, one version in force.
    drafts = [school.drafts[phase] for school in schools]
    approved = _audits("version.approved", object_id__in=[str(v.pk) for v in drafts])
    for draft in drafts:
        draft.refresh_from_db()
        name = f"documents/orders/order-{draft.document_id}-{draft.number}.pdf"
        assert (draft.status, draft.order_pdf.name) == (VersionStatus.APPROVED, name)
        assert approved[str(draft.pk)] == 1, (draft.pk, approved[str(draft.pk)])
        assert (
            DocumentVersion.objects.filter(
                document_id=draft.document_id, status=VersionStatus.APPROVED
            ).count()
            == 1
        )
        expected_files.add(name)

    # Sheets: each stored as its plan names it now, under the key its job was started for,
    # and served at once.
    for version, blank in plan.sheets:
        plan_ = documents.sheet_plan(version, blank=blank)
        job = Job.objects.get(key=plan_.job_key)
        assert job.status == Job.Status.DONE and job.pk > first, plan_.job_key
        assert documents.stored_content_key(plan_) == plan_.content_key
        expected_files.update(
            [plan_.whole_path, plan_.index_path, *(part.path for part in plan_.parts)]
        )
        url = f"/regulation/versions/{version.pk}/sheet.pdf" + ("?blank=1" if blank else "")
        response = admin_clients[version.document.organisation_id].get(url)
        assert response["Content-Type"] == "application/pdf", url
    stored = {
        str(path.relative_to(media)) for path in (media / "documents").rglob("*") if path.is_file()
    }
    assert stored == expected_files, (
        f"not expected: {sorted(stored - expected_files)}; "
        f"missing: {sorted(expected_files - stored)}"
    )
    broken = [
        name for name in stored if name.endswith(".pdf") and not stress.pdf_is_whole(media / name)
    ]
    assert not broken, f"truncated or unreadable PDFs: {broken}"
    report["files stored"] = dict(
        Counter(
            "orders"
            if "/orders/" in name
            else "sheet wholes"
            if "-all-" in name
            else "sheet parts"
            if "-p-" in name
            else "sheet indexes"
            for name in stored
        )
    )

    # Reminders: one run per organisation, done once, each person's letter once.
    runs = list(ReminderRun.objects.filter(created_at__gte=plan.started).select_related("version"))
    assert len(runs) == len(schools), [(r.version_id, r.number) for r in runs]
    reminded = Counter(
        (entry.object_id, entry.data["run"])
        for entry in AuditEntry.objects.filter(action="version.reminded", at__gte=plan.started)
    )
    rows = []
    for run in runs:
        assert run.finished_at is not None
        assert reminded[(str(run.version_id), run.number)] == 1, (run.pk, reminded)
        for delivery in run.deliveries.select_related("person"):
            if delivery.status == DeliveryStatus.NO_EMAIL:
                assert not delivery.person.email
                continue
            rows.append((delivery.person.email.lower(), delivery.status))
            if delivery.status == DeliveryStatus.UNCONFIRMED:
                # Offered again: a retry run takes exactly those not sent or not confirmed.
                assert delivery.status in UNSENT
        unconfirmed = run.deliveries.filter(status=DeliveryStatus.UNCONFIRMED).count()
        current = DocumentVersion.objects.filter(
            document_id=run.version.document_id, status=VersionStatus.APPROVED
        ).first()
        if unconfirmed and current == run.version:
            page = admin_clients[run.version.document.organisation_id].get("/regulation/remind/")
            assert (
                f"Повторить неотправленные и неподтверждённые ({unconfirmed})"
                in page.content.decode()
            )
        # Everyone asked to read it who has an e-mail is in the run (or read it before).
        readers = set(
            User.objects.filter(
                organisation_id=run.version.document.organisation_id,
                user_roles__role__in=[Role.TEACHER, Role.ADMIN],
                date_joined__lt=plan.started,
            )
            .exclude(acknowledgements__version=run.version)
            .values_list("pk", flat=True)
        )
        assert readers <= set(run.deliveries.values_list("person_id", flat=True)), run.pk
    _letter_check("reminder", rows, letters, report)

    # Invitations: each invited person has one letter in the phase, sent or not confirmed
    # (and then offered again on the mailing's page).
    mailings = list(InvitationMailing.objects.filter(created_at__gte=plan.started))
    invited = {p.pk for school in schools for group in school.invitees[phase] for p in group}
    deliveries = list(InvitationDelivery.objects.filter(mailing__in=mailings))
    assert sorted(d.person_id for d in deliveries) == sorted(invited)
    for mailing in mailings:
        unsent = {d.pk for d in unsent_deliveries(mailing)}
        unconfirmed = {d.pk for d in mailing.deliveries.all() if d.status == "unconfirmed"}
        assert unconfirmed == unsent, mailing.pk
        if unsent:
            page = admin_clients[mailing.organisation_id].get(
                f"/people/invitations/mailings/{mailing.pk}/"
            )
            assert f"не подтверждено ({len(unsent)})" in page.content.decode(), mailing.pk
    emailed = _audits("invitation.emailed", at__gte=plan.started)
    not_confirmed = _audits("invitation.email_unconfirmed", at__gte=plan.started)
    for d in deliveries:
        assert (emailed[str(d.person_id)], not_confirmed[str(d.person_id)]) == (
            (1, 0) if d.status == "sent" else (0, 1)
        ), (d.email, d.status)
    _letter_check("invitation", [(d.email.lower(), d.status) for d in deliveries], letters, report)

    # Staff lists: each added once.
    batches = list(ImportBatch.objects.filter(created_at__gte=plan.started).defer("content"))
    assert len(batches) == sum(len(s.lists.get(phase, [])) for s in schools)
    applied = _audits("import.applied", object_id__in=[str(b.pk) for b in batches])
    for batch in batches:
        assert batch.status == ImportBatch.Status.APPLIED, batch.pk
        assert applied[str(batch.pk)] == 1, batch.pk
        emails = [row["email"] for row in batch.preview["to_add_rows"]]
        assert User.objects.filter(email__in=emails).count() == ROWS
    report["staff lists added"] = len(batches)

    # The registration e-mail: sent once, or not confirmed and offered to send again.
    requests = list(
        RegistrationRequest.objects.filter(
            organisation__in=[s.organisation for s in schools if s.imports_in(phase)]
        )
    )
    rows = []
    for registration in requests:
        assert registration.status in (RequestStatus.SENT, RequestStatus.UNCONFIRMED)
        moved = _audits(f"request.{registration.status}", object_id=str(registration.pk))
        assert moved[str(registration.pk)] == 1
        if registration.status == RequestStatus.UNCONFIRMED:
            registration.require("resend")  # offered again: «Отправить ещё раз»
            page = admin_clients[registration.organisation_id].get("/onboarding/request/")
            assert "?choice=resend" in page.content.decode()
        rows.append((registration.message_id.strip(), registration.status))
    _letter_check("registration", rows, letters, report)

    others = {
        letter: n
        for letter, n in letters.items()
        if letter.kind not in ("reminder", "invitation", "registration")
    }
    assert not others, others


# --- The test ----------------------------------------------------------------------------------


@pytest.fixture
def redis_queue():
    url = stress.redis_url()
    why = stress.redis_reachable(url)
    if why:
        # The suite runs on PostgreSQL in CI and this test must run there: not a skip.
        pytest.fail(f"the stress test needs Redis at {url} (REDIS_URL): {why}")
    name = stress.new_queue_name()
    with stress.views_queue_on_redis(url, name) as storage:
        yield url, name, storage


@pytest.fixture
def mail_server():
    with stress.MailServer(ACCEPT_DELAY) as server:
        yield server


@pytest.fixture
def worker(tmp_path, transactional_db, redis_queue, mail_server, settings):
    url, name, _ = redis_queue
    running = stress.Worker(
        tmp_path, queue=name, redis=url, smtp_port=mail_server.port, media=settings.MEDIA_ROOT
    )
    yield running
    running.kill()


def test_jobs_end_done_once_under_load_and_kills(
    worker, redis_queue, mail_server, settings, tmp_path
):
    from huey.contrib.djhuey import HUEY
    from huey.storage import RedisStorage

    began = time.monotonic()
    rng = random.Random(SEED)
    # The sheets are cut into parts for the worker's two processes (`documents._part_rows`),
    # here as there, so this process finds the files the worker stored.
    settings.HUEY = {**settings.HUEY, "consumer": {"workers": 2}}
    assert isinstance(HUEY.storage, RedisStorage) and not HUEY.immediate
    assert HUEY.storage.queue_key == redis_queue[2].queue_key

    schools = [build_school(n) for n in range(ORGANISATIONS)]
    admin_clients = {}
    for school in schools:
        admin_clients[school.organisation.pk] = client = Client()
        client.force_login(school.admin)
    media = Path(settings.MEDIA_ROOT)
    expected_files: set[str] = set()
    summary: dict = {"setup seconds": round(time.monotonic() - began, 1)}
    stop = threading.Event()

    def run_phase(phase: int, silence: int, kills: int) -> dict:
        report: dict = {}
        first = Job.objects.order_by("-pk").values_list("pk", flat=True).first() or 0
        mail_server.take()
        plan = plan_phase(phase, schools, rng, stop)
        plan.started = timezone.now()
        phase_began = time.monotonic()
        worker.start(silence=silence)
        worker.wait_ready()
        failures: list[str] = []

        def press() -> None:
            # Phase 1 proves the queueing after the commit: the views' commits are slow there.
            with stress.slow_commits(COMMIT_DELAY if kills == 0 else 0):
                failures.extend(stress.press_concurrently(plan.presses, THREADS, stop))

        clients = threading.Thread(target=press)
        clients.start()
        kill_log = []
        try:
            for _ in range(kills):
                # While a job of this start runs, at a random moment: the whole process group.
                since = timezone.now()
                stress.wait_for(
                    lambda since=since: (
                        phase_jobs(first)
                        .filter(status=Job.Status.RUNNING, started_at__gte=since)
                        .exists()
                        or (
                            not clients.is_alive()
                            and not phase_jobs(first).exclude(status=Job.Status.DONE).exists()
                        )
                    ),
                    60,
                    "a job to run before the kill",
                    worker,
                )
                time.sleep(rng.uniform(0.2, 1.5))
                running = Counter(
                    phase_jobs(first)
                    .filter(status=Job.Status.RUNNING)
                    .values_list("kind", flat=True)
                )
                worker.kill()
                kill_log.append(dict(running))
                worker.start(silence=silence)
                worker.wait_ready()
            wait_for_jobs(
                first,
                plan.jobs,
                worker,
                pressing=clients.is_alive,
                stall=10 if kills == 0 else 20,
                deadline=time.monotonic() + 120,
            )
        except AssertionError as failure:
            stop.set()  # the clients stop waiting
            clients.join()
            pressed = "\n".join(["", "--- clients ---", *failures]) if failures else ""
            raise AssertionError(f"{failure}{pressed}") from failure
        except BaseException:
            stop.set()
            raise
        finally:
            clients.join()
            worker.kill()
            report["seconds"] = round(time.monotonic() - phase_began, 1)
            summary[f"phase {phase}"] = report
        assert not failures, "\n".join(failures)
        if kills:
            report["kills (running jobs by kind at each)"] = kill_log
        letters = mail_server.take()
        check_phase(
            phase, first, plan, schools, letters, admin_clients, expected_files, media, report
        )
        return report

    try:
        # Phase 1: no kills, and nothing can be put back (silence 600 s): only queueing after
        # the commit gets every job done.
        first_phase = run_phase(1, silence=600, kills=0)
        assert first_phase["jobs requeued"] == 0
        # Phase 2: killed at random moments, each time started again.
        second_phase = run_phase(2, silence=SILENCE, kills=KILLS)
        assert len(second_phase["kills (running jobs by kind at each)"]) == KILLS
        assert second_phase["jobs requeued"] >= 1, "no job was put back: the kills missed"
        log = worker.log.read_text(errors="replace")
        assert "Traceback" not in log, worker.tail()
    except AssertionError as failure:
        summary["total seconds"] = round(time.monotonic() - began, 1)
        for line in format_summary(summary).splitlines():
            report(line)
        raise AssertionError(f"{failure}\n{format_summary(summary)}") from failure
    summary["total seconds"] = round(time.monotonic() - began, 1)
    for line in format_summary(summary).splitlines():
        report(line)


def format_summary(summary: dict) -> str:
    lines = ["=== stress test: counts ==="]
    for key, value in summary.items():
        if not isinstance(value, dict):
            lines.append(f"{key}: {value}")
            continue
        lines.append(f"{key}:")
        for name, item in value.items():
            if isinstance(item, dict) and item and all(isinstance(v, dict) for v in item.values()):
                lines.append(f"  {name}:")
                lines.extend(f"    {k}: {v}" for k, v in item.items())
            else:
                lines.append(f"  {name}: {item}")
    return "\n".join(lines)
