"""The department-scale section of `make bench` (issue 14, "Fast at any size").

    .venv/bin/python benchmarks/scale.py --database-url postgres://postgres@127.0.0.1:5432/cdt_portal
    .venv/bin/python benchmarks/scale.py --database-url postgres://… --institutions 3 --big 1000 \
        --wrk-seconds 1 --confirms 6 --repeat 2 --keep     # a quick look

Builds on PostgreSQL, in a database of its own (`<name>_bench_scale_<pid>`, dropped at the end;
`--keep` keeps it and the temporary folder), a department of 100 institutions × 100 staff with
their groups, students and parents (50,000 people), and outside it an institution of 10,000
staff and one of 1,000, all with the same builder (bulk_create only); runs ANALYZE; then
measures every page twice in the same run:

- in this process, with Django's test client, as `benchmarks/run.py` does: the median of a few
  calls, queries counted, ÷ the bare Django view (`HttpResponse("ok")` through the full
  middleware stack) measured here too;
- through gunicorn with production settings (started by `benchmarks/jobs.py`'s `JobsBench`:
  2 sync workers, CONN_MAX_AGE on, the huey worker beside it) and `wrk` on 127.0.0.1:
  requests/s, p50 and p99, ÷ `GET /healthz` measured with wrk the same way in the same run.

Prints each of the issue's targets with its ratio and PASS/FAIL, and writes everything to
var/benchmarks/scale.json. Timings never fail the run; an error (a non-200, an exception) does.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import signal
import sys
import time
import traceback
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(BASE_DIR / "benchmarks"))

from jobs import JobsBench  # noqa: E402  (benchmarks/jobs.py: gunicorn, huey, sign-ins over HTTP)
from jobs_common import BenchError, add_service_arguments  # noqa: E402
from jobs_http import Person  # noqa: E402
from jobs_report import machine  # noqa: E402
from scale_build import BuildMixin  # noqa: E402
from scale_measure import MeasureMixin  # noqa: E402
from scale_report import STARTED, say, table  # noqa: E402
from scale_rush import RushMixin  # noqa: E402
from scale_signin import SigninMixin  # noqa: E402

# --- the bench ------------------------------------------------------------------------------


class ScaleBench(SigninMixin, RushMixin, MeasureMixin, BuildMixin, JobsBench):
    """JobsBench's services (database, Redis, gunicorn, huey, sign-ins), another database name,
    and the issue 14 measurements instead of the jobs: the data from `BuildMixin`
    (scale_build.py), the measurements from `MeasureMixin` (scale_measure.py)."""

    def __init__(self, args: argparse.Namespace) -> None:
        args.workers = 2
        args.smtp_delay_ms = 0.0
        args.poll = 0.2
        super().__init__(args)
        base_name = self.database.rsplit("_bench_jobs_", 1)[0]
        self.database = f"{base_name}_bench_scale_{os.getpid()}"
        self.targets: list[dict] = []
        self.measured: dict = {"in_process": {}, "gunicorn": {}}

    def drop_database(self) -> None:
        if self.args.keep:
            say(f"kept the database {self.database}")
            return
        super().drop_database()

    # --- clients ---------------------------------------------------------------------------

    def clients(self) -> None:
        """In-process test clients (force_login) and HTTP sign-ins (the login form) for every
        person who signs in: admin, director, teacher, parent of each size; the officer."""
        from django.test import Client

        from accounts.models import User

        self.personas = {
            size: {
                role: User.objects.get(username=f"{organisation.slug}-{role}")
                for role in ("admin", "director", "teacher", "parent")
            }
            for size, organisation in self.organisations.items()
        }
        self.personas["department"] = {"department": self.officer}
        self.local = {}
        self.http = {}
        for size, people in self.personas.items():
            for role, user in people.items():
                client = Client()
                client.force_login(user)
                self.local[(size, role)] = client
                person = Person(self.app_port, user.username)
                person.sign_in(user.username)
                self.http[(size, role)] = person
        say(f"signed in over HTTP: {', '.join(p.name for p in self.http.values())}")

    def cookie(self, size: str, role: str) -> str:
        return "; ".join(f"{k}={v}" for k, v in self.http[(size, role)].cookies.items())

    def run_all(self) -> None:
        self.start()
        import warnings

        from django.db import connection

        # WhiteNoise in this process (local settings) looks for var/static, which it does not need.
        warnings.filterwarnings("ignore", message="No directory at")
        from django.test.utils import override_settings, setup_test_environment

        # As production keeps it (CONN_MAX_AGE): the in-process pages reuse this connection
        # instead of opening one per request, like gunicorn's workers.
        connection.close()
        connection.settings_dict["CONN_MAX_AGE"] = 600
        setup_test_environment()  # the test client's host; mail kept in memory here
        self.timer = self.bench_run.Run(self.args.repeat, self.tmp / "media")
        with override_settings(ROOT_URLCONF="benchmarks_urls"):
            self.signin_before()
            say("building the department and the two large institutions …")
            self.build()
            self.analyze()
            self.clients()
            self.baselines()  # JobsBench's: /healthz and the blank PDF, for its sheet rows
            tenth = self.csv_and_pending("tenth")
            big = self.csv_and_pending("big")
            self.csv_targets(tenth, big)
            confirmed = self.confirm_share(self.organisations["big"])
            say(f"{confirmed} of the {self.args.big} staff confirmed")
            self.analyze()
            self.measure_pages()
            self.measure_department()
            self.measure_sheet()
            self.measure_confirm()
            self.measure_rush()
            self.measure_signin()


def parse_args(argv):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    add_service_arguments(parser)
    parser.add_argument("--institutions", type=int, default=100)
    parser.add_argument("--staff", type=int, default=100, help="staff per institution")
    parser.add_argument("--groups", type=int, default=10, help="groups per institution")
    parser.add_argument("--big", type=int, default=10_000, help="staff of the large institution")
    parser.add_argument("--repeat", type=int, default=5, help="in-process calls per page (median)")
    parser.add_argument(
        "--cold", type=int, default=3, help="in-process calls per page with the cache emptied"
    )
    parser.add_argument("--wrk-seconds", type=float, default=4.0)
    parser.add_argument("--connections", type=int, default=2, help="wrk's connections")
    parser.add_argument(
        "--confirm-connections", type=int, default=1, help="confirmations at a time"
    )
    parser.add_argument("--confirms", type=int, default=40, help="people who confirm")
    parser.add_argument("--hash-seconds", type=float, default=4.0)
    parser.add_argument("--sheet-timeout", type=float, default=300)
    parser.add_argument("--keep", action="store_true", help="keep the database and the folder")
    parser.add_argument("--json", default=str(BASE_DIR / "var" / "benchmarks" / "scale.json"))
    return parser.parse_args(argv)


def main(argv=None) -> int:
    args = parse_args(argv)
    report = {
        "started": dt.datetime.now().astimezone().isoformat(timespec="seconds"),
        "args": vars(args),
        "targets": [],
        "errors": [],
    }
    try:
        bench = ScaleBench(args)
    except BenchError as exc:
        print(f"== scale: skipped — {exc} ==")
        return 0

    def stop_on_signal(signum, frame):
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, stop_on_signal)
    try:
        bench.run_all()
        report["machine"] = machine(bench)
        report["big_staff"] = bench.staff_count("big")
    except (Exception, KeyboardInterrupt) as exc:
        traceback.print_exc()
        bench.errors.append(f"the scale run stopped early: {type(exc).__name__}: {exc}")
    finally:
        bench.stop()
    bare = bench.measured["in_process"].get("bare:pages", {})
    healthz = bench.measured["gunicorn"].get("healthz:pages", {})
    report.update(
        info=bench.info,
        measured=bench.measured,
        jobs_rows=bench.rows,
        targets=bench.targets,
        errors=bench.errors,
        bare_ms=bare.get("ms") or 0,
        healthz_p50_ms=healthz.get("p50_ms") or 0,
        healthz_rps=healthz.get("rps") or 0,
        total_s=round(time.monotonic() - STARTED, 1),
    )
    print(table(report), flush=True)
    out = Path(args.json)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(
        json.dumps(report, ensure_ascii=False, indent=2, default=str) + "\n", encoding="utf-8"
    )
    say(f"written: {out}")
    return 1 if bench.errors else 0


if __name__ == "__main__":
    sys.exit(main())
