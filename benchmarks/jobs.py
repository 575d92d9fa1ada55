"""The jobs section of `make bench`: long work through gunicorn, a real huey worker and SMTP.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/cdt_portal .venv/bin/python benchmarks/jobs.py

Needs PostgreSQL (DATABASE_URL names the server; a database of its own is created next to the
named one and dropped at the end) and Redis on 127.0.0.1:6379 (an empty database number is
claimed with a marker key and emptied at the end). Everything runs on 127.0.0.1:

- gunicorn with `deploy/gunicorn.conf.py` (2 sync workers) and PRODUCTION settings
  (REQUIRE_2FA_FOR_MANAGERS=false, no TLS redirect), after collectstatic into a temporary folder;
- `manage.py run_huey` with production settings: 2 process workers (WORKER_PROCESSES=2), Redis;
- an SMTP server in this process (a small threaded socket server, 5 ms per accepted message).

This process seeds the data with the ORM (the local settings on the same database and
MEDIA_ROOT, the way scripts/deploy_check.py loads the demo) and acts as the people: it signs in
through the login form and makes every request over HTTP, timing each answer. It checks the
issue's targets (issue 11: "Targets (in `make bench`, PostgreSQL, 10,000 staff)") and prints
each with its measured value, its limit and PASS/FAIL. Work that the portal still does inside
the request is reported as "not a job yet" with the time the request took.

Worker memory: the huey worker processes' VmHWM (peak RSS, reset per phase through
/proc/<pid>/clear_refs) and their VmRSS sampled every 0.2 s.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import re
import signal
import sys
import time
import traceback
from collections import Counter
from pathlib import Path

# Its parts (jobs_*.py) and run.py sit beside this file and are imported by name: the folder is
# on the path when it runs as a script or is imported by scale.py, added when imported otherwise.
if str(Path(__file__).resolve().parent) not in sys.path:
    sys.path.append(str(Path(__file__).resolve().parent))

from jobs_common import BASE_DIR, STARTED, BenchError, add_service_arguments, say
from jobs_http import Answer
from jobs_report import machine, table
from jobs_services import Services

# Issue 11's targets, made stricter by issue 24 ("Fast under load").
SHEET_1000_LIMIT_S = 2.0
SHEET_10000_LIMIT_S = 20.0
WORKER_RSS_LIMIT_MB = 200.0
REMINDERS = 1000
REMINDERS_LIMIT_S = 60.0

IMPORT_ROWS = 10_000


# --- the bench --------------------------------------------------------------------------------


class JobsBench(Services):
    """The steps, each as the people would take it; what they stand on (the services, the
    targets recorded, jobs followed) is `Services`, in jobs_services.py."""

    # --- the measurements ------------------------------------------------------------------

    def sheet(self, staff: int, limit: float) -> None:
        self.portal.grow_to(staff)
        staff = self.portal.staff_count()
        self.forget_sheets()
        self.memory.phase()
        say(f"{staff} staff: GET /regulation/sheet.pdf cold (director) …")
        before = self.last_job_pk()
        attempts, clicked = self.job_attempts(), dt.datetime.now(dt.UTC)
        started = time.perf_counter()
        first = self.director.get("/regulation/sheet.pdf")
        polls: list[float] = []
        how = ""
        if first.is_pdf:
            ready = first
            how = "not a job yet: rendered inside the request"
        elif first.status != 200:
            self.request_target(f"GET /regulation/sheet.pdf first, cold ({staff} staff)", first)
            self.target(
                f"{staff}-row sheet ready from the click",
                None,
                limit,
                "s",
                how=f"HTTP {first.status}",
                passed=False,
            )
            return
        else:
            page = first
            if not first.job_ids() and re.search(r'<form method="post"', first.text()):
                # Nothing is written on GET: the page offers a button that starts the job
                # with a POST to the same address. The person presses it at once.
                press = self.director.post("/regulation/sheet.pdf")
                self.request_target(
                    f"POST /regulation/sheet.pdf «Сформировать» ({staff} staff)", press
                )
                page = self.director.get(press.location or "/regulation/sheet.pdf")
                self.request_target(f"→ GET /regulation/sheet.pdf while preparing ({staff})", page)
            waited = self.wait_jobs(self.director, before, page, timeout=self.args.sheet_timeout)
            polls = waited["polls"]
            urls = [s.get("result_url") for s in waited["statuses"].values() if s.get("result_url")]
            failed = [s for s in waited["statuses"].values() if s.get("status") == "failed"]
            if failed:
                raise BenchError(f"the sheet job failed: {failed}")
            url = next((u for u in urls if "sheet" in u), "/regulation/sheet.pdf")
            ready = self.director.get(url)
            for _ in range(100):  # the page may still be preparing the join: as a reload does
                if ready.is_pdf:
                    break
                time.sleep(self.args.poll)
                ready = self.director.get(url)
            jobs = self.jobs_after(before)
            how = f"job: {len(jobs)} job row(s) ({', '.join(sorted({j.kind for j in jobs}))})"
            self.runs_once_target(f"{staff}-row sheet job", attempts, clicked)
        total = time.perf_counter() - started
        memory = self.memory.report()
        self.request_target(
            f"GET /regulation/sheet.pdf first, cold ({staff} staff)",
            first,
            "answered with the PDF" if first.is_pdf else "answered «being prepared»",
        )
        if polls:
            self.request_target(
                f"GET /jobs/<pk>/ progress polls, slowest ({staff} staff)",
                Answer(200, {}, b"", max(polls)),
                f"{len(polls)} polls",
            )
        self.target(
            f"{staff}-row sheet ready from the click (PDF downloaded)",
            total if ready.is_pdf else None,
            limit,
            "s",
            ratio=total / self.blank_s,
            kind="÷blank PDF",
            how=f"{how}; {len(ready.body) // 1024} KB",
            passed=ready.is_pdf and total < limit,
        )
        self.memory_target(
            f"peak RSS per worker process, {staff}-row sheet", memory, inside_request=first.is_pdf
        )

    def job_attempts(self) -> dict[int, int]:
        """Every job's attempts so far: what a click adds is counted against this."""
        from cdt_portal.models import Job

        return dict(Job.objects.values_list("pk", "attempt"))

    def runs_once_target(self, name: str, before: dict[int, int], since) -> None:
        """The click's job ran once: one new attempt (a new job, or one done before and started
        again because its result is gone) and no `job.requeued` entry in the audit log since
        (a job taken for lost while it ran is queued again, and a second worker repeats it)."""
        from cdt_portal.models import AuditEntry

        added = {
            pk: attempt - before.get(pk, 0)
            for pk, attempt in self.job_attempts().items()
            if attempt != before.get(pk, 0)
        }
        requeued = AuditEntry.objects.filter(
            action="job.requeued", object_id__in=[str(pk) for pk in added], at__gte=since
        ).count()
        runs = sum(added.values())
        self.target(
            f"{name}: runs of its job",
            runs,
            1,
            "runs",
            how=f"new attempts per job {added}; requeued {requeued}",
            passed=len(added) == 1 and runs == 1 and requeued == 0,
        )

    def memory_target(
        self, name: str, memory: dict, *, inside_request: bool, key: str = "worker_peak_mb"
    ) -> None:
        value = memory.get(key)
        detail = ", ".join(
            f"{pid}: peak {w['peak_mb']:.0f} / now {w['rss_mb']:.0f}"
            for pid, w in sorted(memory["workers"].items())
        )
        how = f"huey processes {{{detail}}}; gunicorn worker peak {memory.get('web_peak_mb')} MB"
        if inside_request:
            how = "not a job yet (the work ran in gunicorn); " + how
        self.target(name, value, WORKER_RSS_LIMIT_MB, "MB", how=how)

    def reminders(self) -> None:
        from accounts.models import User
        from acknowledgements.selectors import pending_readers

        self.portal.grow_to(10000)  # the size, when run alone (--only)
        version = self.portal.version()
        pending = pending_readers(version)
        with_email = pending.exclude(email="").count()
        need = max(REMINDERS - with_email, 0)
        ids = list(pending.filter(email="").order_by("pk").values_list("pk", flat=True)[:need])
        people = list(User.objects.filter(pk__in=ids))
        for person in people:
            person.email = f"bench-{person.pk}@example.test"
        User.objects.bulk_update(people, ["email"], batch_size=500)
        expected = pending.exclude(email="").count()
        staff = self.portal.staff_count()
        say(f"{staff} staff: POST /regulation/remind/ ({expected} people with e-mail pending) …")
        mark = self.smtp.mark()
        before = self.last_job_pk()
        delivery_before = delivery_counts()
        started = time.monotonic()
        answer = self.director.post("/regulation/remind/")
        is_job = bool(self.jobs_after(before))
        follow = self.director.get(answer.location) if answer.location else None
        if is_job:
            self.wait_jobs(
                self.director,
                before,
                follow,
                timeout=self.args.reminder_timeout,
                done=lambda: len(self.smtp.since(mark)) >= expected,
            )
        total = time.monotonic() - started if is_job else answer.elapsed
        time.sleep(1.0)  # late messages would show here: the count must stay put
        received = self.smtp.since(mark)
        recipients = Counter(r for rcpts, _, _, _ in received for r in rcpts)
        duplicates = sum(n - 1 for n in recipients.values() if n > 1)
        delivery_after = delivery_counts()
        recorded = {k: delivery_after.get(k, 0) - delivery_before.get(k, 0) for k in delivery_after}
        self.request_target(
            f"POST /regulation/remind/ ({staff} staff)",
            answer,
            "job" if is_job else f"not a job yet: sent {len(received)} inside the request",
        )
        if follow is not None:
            self.request_target(f"→ GET {answer.location} after reminders", follow)
        sent_rows = sum(v for k, v in recorded.items() if k.endswith(":sent"))
        all_rows = sum(v for k, v in recorded.items() if k.endswith(":*"))
        self.target(
            f"{expected} reminders through SMTP finished",
            total,
            REMINDERS_LIMIT_S,
            "s",
            how=("job" if is_job else "not a job yet (inside the request)")
            + f"; SMTP server received {len(received)}, duplicates {duplicates}",
            passed=total < REMINDERS_LIMIT_S and len(received) == expected and not duplicates,
        )
        self.target(
            "every reminder's result recorded (rows = messages, no duplicates)",
            float(sent_rows if recorded else 0),
            float(len(received)),
            "rows",
            how=(
                f"delivery rows: {recorded}"
                if recorded
                else "not a job yet: no per-person delivery record"
            )
            + f"; received {len(received)}, duplicates {duplicates}, expected {expected}",
            passed=bool(recorded)
            and sent_rows == len(received) == expected
            and not duplicates
            and all_rows >= expected,
        )
        self.info["reminders"] = {
            "expected": expected,
            "received": len(received),
            "duplicates": duplicates,
            "recorded": recorded,
            "smtp_delay_ms": self.args.smtp_delay_ms,
        }

    def staff_import(self) -> None:
        from run_staff import fake_person

        from accounts.models import User

        self.portal.grow_to(10000)  # the size, when run alone (--only)
        rng = self.portal.rng
        # Every row a new person: a staff member without e-mail and of the same name would be
        # taken for them («уже есть»), and the step counts the people added.
        namesakes = {
            " ".join(p for p in names if p).casefold().replace("ё", "е")
            for names in User.objects.filter(
                organisation=self.portal.organisation, email=""
            ).values_list("last_name", "first_name", "patronymic")
        }
        lines = ["Фамилия;Имя;Отчество;Должность;E-mail"]
        while len(lines) <= IMPORT_ROWS:
            last, first, middle, position = fake_person(rng)
            if f"{last} {first} {middle}".casefold().replace("ё", "е") in namesakes:
                continue
            lines.append(f"{last};{first};{middle};{position};import-{len(lines):05d}@example.test")
        content = ("\ufeff" + "\r\n".join(lines) + "\r\n").encode("utf-8")
        staff = self.portal.staff_count()
        say(f"{staff} staff: POST /people/import/ ({IMPORT_ROWS} rows, {len(content) // 1024} KB)")
        before = self.last_job_pk()
        started = time.perf_counter()
        answer = self.admin.post_file(
            "/people/import/", {"role": "teacher"}, "file", "staff.csv", content
        )
        is_job = bool(self.jobs_after(before))
        self.request_target(
            f"POST /people/import/ upload of {IMPORT_ROWS} rows",
            answer,
            "job" if is_job else "not a job yet: parsed inside the request",
        )
        if answer.status != 302:
            say(f"the import answered {answer.status}: {answer.text()[:500]}")
            return
        follow = self.admin.get(answer.location)
        if is_job:
            self.wait_jobs(self.admin, before, follow, timeout=120)
            preview = self.admin.get(answer.location)
            ready = time.perf_counter() - started
            self.request_target(f"→ GET {answer.location} while preparing", follow)
            self.request_target(f"→ GET {answer.location} the preview, ready", preview)
            self.target(
                "import preview ready from the upload (informational)",
                ready,
                None,
                "s",
                how="job",
                passed=True,
            )
        else:
            preview = follow
            self.request_target(f"→ GET {answer.location} the preview", follow)
        self.staff_import_confirm(answer.location, preview)

    def staff_import_confirm(self, page: str, preview: Answer) -> None:
        """Press «Добавить» on the preview as a person would, follow the job to its end and
        count the people added; then remove them, so that later steps still find the
        institution at its size."""
        from accounts.models import ImportBatch, User

        # The preview's form (no action: it posts to the page) with the «Добавить N» button.
        form = re.search(
            r'<form method="post"[^>]*>(?:(?!</form>).)*name="confirm"', preview.text(), re.S
        )
        if form is None:
            raise BenchError(f"no «Добавить» button on {page}: {preview.text()[:500]}")
        action = re.search(r'action="([^"]+)"', form.group(0).split(">", 1)[0])
        target = action.group(1) if action else page
        batch = ImportBatch.objects.get(pk=int(page.rstrip("/").rsplit("/", 1)[1]))
        imported = User.objects.filter(
            organisation=batch.organisation,
            email__endswith="@example.test",
            email__startswith="import-",
        )
        before_people = imported.count()
        before = self.last_job_pk()
        say(f"POST {target} «Добавить» ({IMPORT_ROWS} rows) …")
        started = time.perf_counter()
        answer = self.admin.post(target, {"confirm": ""})
        is_job = bool(self.jobs_after(before))
        state = ImportBatch.objects.get(pk=batch.pk).status
        self.request_target(
            f"POST /people/import/<pk>/ «Добавить» ({IMPORT_ROWS} rows)",
            answer,
            f"job; the list was «{state}» at the answer"
            if is_job
            else f"not a job yet: added inside the request; «{state}» at the answer",
        )
        if answer.status != 302:
            say(f"«Добавить» answered {answer.status}: {answer.text()[:500]}")
            return

        def applied() -> bool:
            return ImportBatch.objects.get(pk=batch.pk).status == ImportBatch.Status.APPLIED

        follow = self.admin.get(answer.location)
        if is_job:
            self.wait_jobs(self.admin, before, follow, timeout=300, done=applied)
        done_s = time.perf_counter() - started
        result = self.admin.get(answer.location)
        self.request_target(f"→ GET {answer.location} while adding", follow)
        self.request_target(f"→ GET {answer.location} the people added", result)
        added = imported.count() - before_people
        state = ImportBatch.objects.get(pk=batch.pk).status
        self.target(
            "import applied from the click (informational)",
            done_s,
            None,
            "s",
            how=("job" if is_job else "not a job yet")
            + f"; people added {added} of {IMPORT_ROWS} rows; list «{state}»",
            passed=state == ImportBatch.Status.APPLIED and added == IMPORT_ROWS,
        )
        removed = imported.delete()[0]
        say(f"removed the {added} imported people ({removed} rows with their roles)")

    def registration_email(self) -> None:
        from django.core.files.base import ContentFile

        from onboarding.models import RequestStatus
        from onboarding.selectors import current_request

        organisation = self.portal.organisation
        registration = current_request(organisation)
        if registration is None:
            from onboarding.models import RegistrationRequest

            registration = RegistrationRequest(organisation=organisation)
        registration.status = RequestStatus.READY
        registration.admin_full_name = registration.admin_full_name or "Иванова Анна Петровна"
        registration.admin_phone = registration.admin_phone or "+79161234567"
        registration.scan_content_type = "application/pdf"
        registration.scan.save("scan.pdf", ContentFile(b"%PDF-1.4\n%bench\n"), save=False)
        registration.save()
        say("POST /onboarding/request/send/ (the registration e-mail) …")
        mark = self.smtp.mark()
        before = self.last_job_pk()
        answer = self.admin.post("/onboarding/request/send/")
        is_job = bool(self.jobs_after(before))
        follow = self.admin.get(answer.location) if answer.location else None
        if is_job:
            self.wait_jobs(
                self.admin, before, follow, timeout=60, done=lambda: len(self.smtp.since(mark)) >= 1
            )
        received = len(self.smtp.since(mark))
        registration.refresh_from_db()
        self.request_target(
            "POST /onboarding/request/send/ (registration e-mail)",
            answer,
            ("job" if is_job else "not a job yet: sent inside the request")
            + f"; SMTP received {received}; request «{registration.status}»",
        )

    def approval(self) -> None:
        from accounts.models import User
        from acknowledgements.models import DocumentVersion, VersionStatus
        from acknowledgements.services import version_create

        self.portal.grow_to(10000)  # the size, when run alone (--only)
        version = self.portal.version()
        director = User.objects.get(username="director")
        draft = version_create(
            organisation=self.portal.organisation,
            actor=director,
            title=version.title,
            text=version.text + "\n\nРедакция для замера утверждения.",
            order_number=f"{version.order_number}-b",
            order_date=dt.date.today(),
            approver_position=version.approver_position,
            approver_name=version.approver_name,
        )
        staff = self.portal.staff_count()
        self.memory.phase()
        say(f"{staff} staff: POST /regulation/versions/{draft.pk}/approve/ (director) …")
        before = self.last_job_pk()
        attempts, clicked = self.job_attempts(), dt.datetime.now(dt.UTC)
        started = time.perf_counter()
        answer = self.director.post(
            f"/regulation/versions/{draft.pk}/approve/", timeout=self.args.approval_timeout
        )
        state = DocumentVersion.objects.get(pk=draft.pk).status
        is_job = bool(self.jobs_after(before)) or state == VersionStatus.APPROVING
        follow = self.director.get(answer.location) if answer.location else None

        def approved() -> bool:
            v = DocumentVersion.objects.get(pk=draft.pk)
            return v.status == VersionStatus.APPROVED and bool(v.order_pdf)

        if is_job:
            self.wait_jobs(
                self.director, before, follow, timeout=self.args.approval_timeout, done=approved
            )
        done_s = time.perf_counter() - started
        memory_peak = self.memory.report()
        time.sleep(2.0)  # what the worker keeps once the job is over
        memory_after = self.memory.report()
        self.request_target(
            f"POST /regulation/versions/<pk>/approve/ ({staff} staff)",
            answer,
            f"job; the version was «{state}» at the answer"
            if is_job
            else f"not a job yet: rendered inside the request; «{state}» at the answer",
        )
        if follow is not None:
            self.request_target("→ GET the version page after approval", follow)
        if is_job:
            self.runs_once_target(f"approval at {staff} staff", attempts, clicked)
        self.target(
            f"approval at {staff} staff completes as a job (informational time)",
            done_s,
            None,
            "s",
            how=("job" if is_job else "not a job yet") + f"; approved: {approved()}",
            passed=is_job and approved(),
        )
        self.memory_target(
            "peak RSS per worker process during approval", memory_peak, inside_request=not is_job
        )
        self.memory_target(
            "worker RSS after approval",
            memory_after,
            inside_request=not is_job,
            key="worker_rss_mb",
        )

    def run(self) -> None:
        self.start()
        self.baselines()
        steps = [
            ("sheet 1000", lambda: self.sheet(1000, SHEET_1000_LIMIT_S)),
            ("sheet 10000", lambda: self.sheet(10000, SHEET_10000_LIMIT_S)),
            ("reminders", self.reminders),
            ("staff import", self.staff_import),
            ("registration e-mail", self.registration_email),
            ("approval", self.approval),
        ]
        for name, step in steps:
            if self.args.only and name not in self.args.only:
                continue
            try:
                step()
            except Exception as exc:
                traceback.print_exc()
                self.errors.append(f"{name}: {type(exc).__name__}: {exc}")
                self.target(f"{name}", None, None, "", how=f"ERROR {exc}", passed=False)
        for name in ("gunicorn", "huey"):
            tail = [
                line
                for line in self.log_tail(name, 20000).splitlines()
                if "Traceback" in line or "Error" in line
            ]
            if tail:
                self.info[f"{name}_log_errors"] = tail[-10:]


def delivery_counts() -> dict[str, int]:
    """Rows of every model that records a delivery (its name has «remind» or «deliver»):
    `Model:*` counts all rows, `Model:<status>` rows per status when it has one."""
    from django.apps import apps
    from django.db.models import Count

    counts: dict[str, int] = {}
    for model in apps.get_models():
        name = model.__name__.lower()
        if "remind" not in name and "deliver" not in name:
            continue
        label = model._meta.label
        counts[f"{label}:*"] = model.objects.count()
        fields = {f.name for f in model._meta.fields}
        for field in ("status", "result", "outcome"):
            if field in fields:
                for row in model.objects.values(field).annotate(n=Count("pk")):
                    counts[f"{label}:{row[field]}"] = row["n"]
                break
    return counts


def parse_args(argv):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    add_service_arguments(parser)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--smtp-delay-ms", type=float, default=5.0)
    parser.add_argument("--poll", type=float, default=0.2, help="progress poll interval, s")
    parser.add_argument("--sheet-timeout", type=float, default=240)
    parser.add_argument("--approval-timeout", type=float, default=300)
    parser.add_argument("--reminder-timeout", type=float, default=240)
    parser.add_argument(
        "--only",
        type=lambda s: [x.strip() for x in s.split(",")],
        default=None,
        help="steps: sheet 1000, sheet 10000, reminders, staff import, "
        "registration e-mail, approval",
    )
    parser.add_argument("--keep", action="store_true", help="keep the temporary folder (logs)")
    parser.add_argument(
        "--json",
        default=str(BASE_DIR / "var" / "benchmarks" / "jobs.json"),
    )
    return parser.parse_args(argv)


def main(argv=None) -> int:
    args = parse_args(argv)
    report = {
        "started": dt.datetime.now().astimezone().isoformat(timespec="seconds"),
        "rows": [],
        "errors": [],
    }
    try:
        bench = JobsBench(args)
    except BenchError as exc:
        print(f"== jobs: skipped — {exc} ==")
        return 0

    def stop_on_signal(signum, frame):
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, stop_on_signal)
    try:
        bench.run()
        report["machine"] = machine(bench)
    except (Exception, KeyboardInterrupt) as exc:
        traceback.print_exc()
        bench.errors.append(f"the jobs run stopped early: {type(exc).__name__}: {exc}")
    finally:
        bench.stop()
    report.update(bench.info)
    report["rows"] = bench.rows
    report["errors"] = bench.errors
    report["total_s"] = round(time.monotonic() - STARTED, 1)
    print(table(report))
    out = Path(args.json)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(
        json.dumps(report, ensure_ascii=False, indent=2, default=str) + "\n", encoding="utf-8"
    )
    say(f"written: {out}")
    return 1 if bench.errors else 0


if __name__ == "__main__":
    sys.exit(main())
