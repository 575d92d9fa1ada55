"""The checks of tests/jobs/test_stress.py: waiting for a phase's jobs (failing at once when
one failed, or when nothing moves while nothing runs), and what each phase must have left:
every job done once, every file stored once and whole, every letter received at most once,
nothing done twice."""

from __future__ import annotations

import datetime as dt
import time
from collections import Counter
from pathlib import Path

from django.utils import timezone

from accounts.models import ImportBatch, InvitationMailing, Role, User
from accounts.selectors import unsent_deliveries
from acknowledgements import sheet
from acknowledgements.models import DocumentVersion, ReminderRun, VersionStatus
from acknowledgements.services import UNSENT
from acknowledgements.services.reminders import VERSION_REPLACED
from cdt_portal import files
from cdt_portal.models import AuditEntry, Delivery, Job
from onboarding.models import RegistrationRequest, RequestStatus
from tests.jobs import stress_support as stress
from tests.jobs.stress_scenario import ROWS, Plan

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
            raise AssertionError(f"jobs failed: {messages}\n--- worker ---\n{worker.tail()}")
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
                f"--- worker ---\n{worker.tail()}"
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


def _final_name(partial: str) -> str:
    folder, _, name = partial.rpartition("/")
    return f"{folder}/{files.PARTIAL.fullmatch(name)[1]}"


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
        plan_ = sheet.sheet_plan(version, blank=blank)
        job = Job.objects.get(key=plan_.job_key)
        assert job.status == Job.Status.DONE and job.pk > first, plan_.job_key
        assert sheet.stored_content_key(plan_) == plan_.content_key
        expected_files.update(
            [plan_.whole_path, plan_.index_path, *(part.path for part in plan_.parts)]
        )
        url = f"/regulation/versions/{version.pk}/sheet.pdf" + ("?blank=1" if blank else "")
        response = admin_clients[version.document.organisation_id].get(url)
        assert response["Content-Type"] == "application/pdf", url
    stored = {
        str(path.relative_to(media)) for path in (media / "documents").rglob("*") if path.is_file()
    }
    # A kill between a file's write and its name leaves the temporary file (never served); the
    # job's next attempt stored the file, and the nightly sweep removes what was left.
    later = timezone.now() + files.STALE_AFTER + dt.timedelta(seconds=1)
    unfinished = files.remove_stale_partials(now=later)
    assert {_final_name(name) for name in unfinished} <= expected_files, unfinished
    report["unfinished writes swept"] = len(unfinished)
    stored -= set(unfinished)
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
        replaced = run.version.status != VersionStatus.APPROVED
        withdrawn = 0
        for delivery in run.deliveries.select_related("person"):
            if delivery.status == Delivery.Status.NO_EMAIL:
                assert not delivery.person.email
                continue
            if delivery.status == Delivery.Status.WITHDRAWN:
                # A version approved while the run sent its letters replaced the run's version:
                # the letters not yet sent are withdrawn, none reaches the mail server (a
                # stranger to `_letter_check` if it did).
                assert replaced and delivery.reason == VERSION_REPLACED, (
                    delivery.email,
                    delivery.reason,
                )
                withdrawn += 1
                continue
            rows.append((delivery.person.email.lower(), delivery.status))
            if delivery.status == Delivery.Status.UNCONFIRMED:
                # Offered again: a retry run takes exactly those not sent or not confirmed.
                assert delivery.status in UNSENT
        unconfirmed = run.deliveries.filter(status=Delivery.Status.UNCONFIRMED).count()
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
        report["reminders withdrawn: their version was replaced"] = (
            report.get("reminders withdrawn: their version was replaced", 0) + withdrawn
        )
    _letter_check("reminder", rows, letters, report)

    # Invitations: each invited person has one letter in the phase, sent or not confirmed
    # (and then offered again on the mailing's page).
    mailings = list(InvitationMailing.objects.filter(created_at__gte=plan.started))
    invited = {p.pk for school in schools for group in school.invitees[phase] for p in group}
    deliveries = list(Delivery.objects.filter(batch__in=[m.batch for m in mailings]))
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


# --- The counts --------------------------------------------------------------------------------


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
