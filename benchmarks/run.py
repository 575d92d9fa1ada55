"""Page and PDF timings at 14, 1,000 and 10,000 staff, as ratios to baselines of the same run.

    .venv/bin/python benchmarks/run.py                       # the default run (make bench)
    .venv/bin/python benchmarks/run.py --sizes 14,200 --repeat 2   # a quick one

Builds its own throw-away database (Django's test database: in-memory SQLite by default, or
`test_<name>` on PostgreSQL when DATABASE_URL points there) and its own temporary MEDIA_ROOT,
so var/db.sqlite3 and var/media are never touched. Prints a table, writes the same as JSON to
var/benchmarks/latest.json. Never asserts a timing: timings belong here, not in tests.
See benchmarks/README.md for how to read the ratios.
"""

from __future__ import annotations

import argparse
import datetime as dt
import gc
import json
import os
import shutil
import statistics
import sys
import tempfile
import time
import traceback
import types
from collections.abc import Callable
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent.parent
if str(BASE_DIR) not in sys.path:
    sys.path.insert(0, str(BASE_DIR))
# run_staff.py and run_report.py sit beside this file and are imported by name: the folder is
# on the path when it runs as a script or the jobs section imports it, added here otherwise.
if str(BASE_DIR / "benchmarks") not in sys.path:
    sys.path.append(str(BASE_DIR / "benchmarks"))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "cdt_portal.settings.test")

import django  # noqa: E402

django.setup()

from django.conf import settings  # noqa: E402
from django.db import connection, reset_queries  # noqa: E402
from django.http import HttpResponse  # noqa: E402
from django.test import Client  # noqa: E402
from django.test.utils import (  # noqa: E402
    CaptureQueriesContext,
    override_settings,
    setup_test_environment,
    teardown_test_environment,
)
from django.urls import include, path  # noqa: E402
from run_report import BASELINE_MIN_SAMPLES, flag_growth, machine, peak_rss_mb, say, table  # noqa: E402
from run_staff import Portal  # noqa: E402

DEFAULT_SIZES = (14, 1000, 10000)
DEFAULT_REPEAT = 5
# From this many staff on, each PDF render is timed once: a 10,000-row sheet takes a while.
LARGE_PDF_FROM = 1000

BARE_URL = "/__bench__/bare/"
BARE_PAGE = "bare Django view"
BLANK_PDF = "blank WeasyPrint page"


# --- the baseline view and the urlconf that serves it beside the portal's own URLs ----------


def bare_view(request):
    return HttpResponse("ok")


bench_urls = types.ModuleType("benchmarks_urls")
bench_urls.urlpatterns = [
    path(BARE_URL.strip("/") + "/", bare_view),
    path("", include("cdt_portal.urls")),
]
sys.modules["benchmarks_urls"] = bench_urls


# --- timing -------------------------------------------------------------------------------


class Run:
    def __init__(self, repeat: int, media_root: Path) -> None:
        self.repeat = repeat
        self.media_root = media_root
        self.errors: list[str] = []

    def time(self, fn: Callable[[], object], *, samples: int, warmup: bool) -> dict:
        """Median wall time of `fn` over `samples` calls. Queries are counted on one call: the
        untimed warm-up when there is one, else the first timed call."""
        gc.collect()
        timed = []
        queries = None
        if warmup:
            queries, result = counted(fn)
        for _ in range(samples):
            start = time.perf_counter()
            if queries is None:
                queries, result = counted(fn)
            else:
                fn()
            timed.append(time.perf_counter() - start)
        return {
            "ms": statistics.median(timed) * 1000,
            "samples": samples,
            **queries,
            "result": result,
        }

    def measure(self, name: str, kind: str, fn, *, samples: int, warmup: bool = True) -> dict:
        row = {
            "name": name,
            "kind": kind,
            "ms": None,
            "samples": samples,
            "queries": None,
            "sql_ms": None,
        }
        try:
            timing = self.time(fn, samples=samples, warmup=warmup)
        except Exception as exc:
            traceback.print_exc()
            row["error"] = f"{type(exc).__name__}: {exc}"
            self.errors.append(f"{name}: {row['error']}")
            return row
        result = timing.pop("result")
        row.update(timing)
        if isinstance(result, (bytes, bytearray)):
            row["bytes"] = len(result)
        elif isinstance(result, tuple) and len(result) == 2 and isinstance(result[1], bytes):
            row["bytes"] = len(result[1])
        elif hasattr(result, "status_code"):
            row["bytes"] = (
                result.bench_bytes if hasattr(result, "bench_bytes") else len(result.content)
            )
            row["status"] = result.status_code
            if result.status_code != 200:
                row["error"] = f"HTTP {result.status_code}"
                self.errors.append(f"{name}: HTTP {result.status_code}")
        return row

    def forget_sheets(self) -> None:
        shutil.rmtree(self.media_root / "documents" / "sheets", ignore_errors=True)


def counted(fn: Callable[[], object]) -> tuple[dict, object]:
    """({queries run by `fn`, their time in ms}, its result).

    The log is emptied first: a request empties it when it starts (Django's request_started
    signal), which would otherwise cut the count short."""
    spent = [0.0]

    def timer(execute, sql, params, many, context):
        start = time.perf_counter()
        try:
            return execute(sql, params, many, context)
        finally:
            spent[0] += time.perf_counter() - start

    reset_queries()
    with CaptureQueriesContext(connection) as queries, connection.execute_wrapper(timer):
        result = fn()
    return {"queries": len(queries), "sql_ms": spent[0] * 1000}, result


def get(client: Client, url: str):
    def fn():
        response = client.get(url)
        if response.streaming:
            # A streamed answer costs its whole body: read it inside the timing.
            response.bench_bytes = len(b"".join(response.streaming_content))
        return response

    return fn


def measure_size(run: Run, portal: Portal, size: int, large_pdf_from: int) -> dict:
    from weasyprint import HTML

    from acknowledgements.documents import render_order, render_sheet, sheet_context

    started = time.perf_counter()
    portal.grow_to(size)
    setup_s = time.perf_counter() - started
    staff = portal.staff_count()
    version = portal.version()
    say(f"  {staff} staff ready in {setup_s:.1f} s; measuring …")

    admin, director, teacher = Client(), Client(), Client()
    admin.force_login(portal.admin)
    director.force_login(portal.director)
    teacher.force_login(portal.teacher)

    n = run.repeat
    pdf_n = 1 if staff >= large_pdf_from else n
    pdf_warmup = staff < large_pdf_from
    # Baselines are cheap: more samples make the ratios steadier on a busy machine.
    base_n = max(4 * n, BASELINE_MIN_SAMPLES)
    rows = [run.measure(BARE_PAGE, "baseline-page", get(admin, BARE_URL), samples=base_n)]
    pages = [
        ("/dashboard/ (admin)", admin, "/dashboard/"),
        ("/dashboard/ (director)", director, "/dashboard/"),
        ("/regulation/acknowledgements/ (admin)", admin, "/regulation/acknowledgements/"),
        ("/regulation/ (teacher)", teacher, "/regulation/"),
        ("/people/ (admin)", admin, "/people/"),
    ]
    for name, client, url in pages:
        rows.append(run.measure(name, "page", get(client, url), samples=n))
    rows.append(
        run.measure(
            "/regulation/acknowledgements.csv (admin)",
            "export",
            get(admin, "/regulation/acknowledgements.csv"),
            samples=n,
        )
    )

    rows.append(
        run.measure(
            BLANK_PDF,
            "baseline-pdf",
            lambda: HTML(string="<p></p>").write_pdf(),
            samples=base_n,
        )
    )
    rows.append(
        run.measure(
            "sheet data only: sheet_context()",
            "pdf-data",
            lambda: sheet_context(version),
            samples=n,
        )
    )
    rows.append(
        run.measure(
            "render_sheet(version), uncached",
            "pdf",
            lambda: render_sheet(version),
            samples=pdf_n,
            warmup=pdf_warmup,
        )
    )

    def build_and_get():
        # A GET of a sheet not stored answers with the «Сформировать» page: the POST starts the
        # job (run at once here) and the GET after it gets the PDF, as a person's second click.
        director.post("/regulation/sheet.pdf")
        return get(director, "/regulation/sheet.pdf")()

    def sheet_cold():
        run.forget_sheets()
        return build_and_get()

    rows.append(
        run.measure(
            "GET /regulation/sheet.pdf cold (director)",
            "pdf",
            sheet_cold,
            samples=pdf_n,
            warmup=pdf_warmup,
        )
    )
    # The cold request above stored the sheet: these read it back.
    rows.append(
        run.measure(
            "GET /regulation/sheet.pdf warm (director)",
            "pdf",
            get(director, "/regulation/sheet.pdf"),
            samples=n,
        )
    )

    # What a confirmation costs the next print: one new acknowledgement per call, then the
    # sheet; only the stored part holding that row is rendered again.
    from accounts.models import User
    from acknowledgements.selectors import pending_readers
    from acknowledgements.services import acknowledgement_record_paper

    waiting = iter(list(pending_readers(version).values_list("pk", flat=True)[:50]))

    def sheet_after_one_more():
        # Through the service, which raises the sheet's revision counter as every real change does.
        acknowledgement_record_paper(
            version=version,
            person=User.objects.get(pk=next(waiting)),
            paper_date=dt.date.today(),
            recorded_by=portal.admin,
        )
        return build_and_get()

    rows.append(
        run.measure(
            "GET /regulation/sheet.pdf after one more acknowledgement",
            "pdf",
            sheet_after_one_more,
            samples=min(n, 3),
            warmup=False,
        )
    )
    rows.append(
        run.measure(
            "GET /regulation/order.pdf (director, stored)",
            "pdf",
            get(director, "/regulation/order.pdf"),
            samples=n,
        )
    )
    rows.append(
        run.measure(
            "render_order(version)",
            "pdf",
            lambda: render_order(version),
            samples=pdf_n,
            warmup=pdf_warmup,
        )
    )

    bare = next((r["ms"] for r in rows if r["name"] == BARE_PAGE), None)
    blank = next((r["ms"] for r in rows if r["name"] == BLANK_PDF), None)
    for row in rows:
        base = blank if row["kind"].startswith(("pdf", "baseline-pdf")) else bare
        row["ratio"] = row["ms"] / base if row["ms"] is not None and base else None
    return {
        "requested_staff": size,
        "staff": staff,
        "setup_s": round(setup_s, 2),
        "measure_s": round(time.perf_counter() - started - setup_s, 2),
        "pdf_samples": pdf_n,
        "peak_rss_mb": round(peak_rss_mb()),
        "rows": rows,
    }


# --- main ---------------------------------------------------------------------------------


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--sizes",
        default=",".join(str(s) for s in DEFAULT_SIZES),
        help="staff counts, comma-separated (default: %(default)s; 14 is the demo itself)",
    )
    parser.add_argument(
        "--repeat", type=int, default=DEFAULT_REPEAT, help="timed runs per measurement (median)"
    )
    parser.add_argument(
        "--large-pdf-from",
        type=int,
        default=LARGE_PDF_FROM,
        help="from this many staff on, PDF renders are timed once (default: %(default)s)",
    )
    parser.add_argument(
        "--jobs",
        choices=("auto", "on", "off"),
        default="auto",
        help="the jobs section (benchmarks/jobs.py: gunicorn, huey, SMTP; needs PostgreSQL "
        "from DATABASE_URL or BENCH_JOBS_DATABASE_URL): auto runs it when one is a "
        "postgres:// URL (default: %(default)s)",
    )
    parser.add_argument(
        "--scale",
        choices=("auto", "on", "off"),
        default="auto",
        help="the department-scale section (benchmarks/scale.py, issue 14; the same PostgreSQL "
        "URL as the jobs section): auto runs it when there is one (default: %(default)s)",
    )
    parser.add_argument(
        "--json",
        default=str(BASE_DIR / "var" / "benchmarks" / "latest.json"),
        help="where to write the JSON report (default: %(default)s)",
    )
    args = parser.parse_args(argv)
    args.sizes = sorted({int(s) for s in args.sizes.split(",") if s.strip()})
    if args.repeat < 1 or not args.sizes:
        parser.error("--repeat must be at least 1 and --sizes must name at least one size")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    started = time.perf_counter()
    media_root = Path(tempfile.mkdtemp(prefix="cdt-bench-media-"))
    report = {
        "started": dt.datetime.now().astimezone().isoformat(timespec="seconds"),
        "repeat": args.repeat,
        "large_pdf_from": args.large_pdf_from,
        "sizes": [],
    }
    setup_test_environment()
    old_name = connection.creation.create_test_db(verbosity=0, autoclobber=True, serialize=False)
    run = Run(args.repeat, media_root)
    try:
        with override_settings(ROOT_URLCONF="benchmarks_urls", MEDIA_ROOT=str(media_root)):
            report["machine"] = machine()
            say(f"database: {report['machine'].get('db_version')}; loading the demo …")
            portal = Portal()
            for size in args.sizes:
                say(f"size {size}:")
                report["sizes"].append(measure_size(run, portal, size, args.large_pdf_from))
    except Exception:
        traceback.print_exc()
        run.errors.append("the run stopped early: " + traceback.format_exc().splitlines()[-1])
    finally:
        connection.creation.destroy_test_db(old_name, verbosity=0)
        teardown_test_environment()
        shutil.rmtree(media_root, ignore_errors=True)
        _remove_empty_test_media()

    report["flags"] = flag_growth(report["sizes"])
    report["errors"] = run.errors
    report.setdefault("machine", {})
    if report["sizes"]:
        report["total_s"] = round(time.perf_counter() - started, 1)
        print(table(report), flush=True)
    jobs = run_jobs_section(args)
    if jobs is not None:
        report["jobs"] = jobs
        if jobs.get("errors") or jobs.get("exit", 0):
            run.errors.append("jobs section: " + "; ".join(jobs.get("errors") or ["failed"]))
    scale = run_jobs_section(args, "scale")
    if scale is not None:
        report["scale"] = scale
        if scale.get("errors") or scale.get("exit", 0):
            run.errors.append("scale section: " + "; ".join(scale.get("errors") or ["failed"]))
    report["total_s"] = round(time.perf_counter() - started, 1)
    print(f"\ntotal (with the jobs and scale sections): {report['total_s']:.1f} s")
    out = Path(args.json)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(report, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    say(f"written: {out}")
    return 1 if run.errors else 0


def run_jobs_section(args: argparse.Namespace, section: str = "jobs") -> dict | None:
    """benchmarks/jobs.py (the issue 11 targets) or, for section "scale", benchmarks/scale.py
    (issue 14) in its own process (production settings, its own database). Its table goes to
    stdout after the ratio table; None when skipped."""
    import subprocess

    postgres = ("postgres://", "postgresql://")
    url = os.environ.get("DATABASE_URL", "")
    if not url.startswith(postgres):
        url = os.environ.get("BENCH_JOBS_DATABASE_URL", "")
    if getattr(args, section) == "off":
        return None
    if not url.startswith(postgres):
        print(
            f"\n== {section}: skipped — the {section} section needs PostgreSQL: set DATABASE_URL "
            "(or BENCH_JOBS_DATABASE_URL) to postgres://user@host:5432/name; `make bench` sets "
            "BENCH_JOBS_DATABASE_URL=postgres://postgres@127.0.0.1:5432/cdt_portal ==",
            flush=True,
        )
        return None
    out = Path(args.json).with_name(f"{section}.json")
    print("", flush=True)
    say(f"{section} section: benchmarks/{section}.py …")
    result = subprocess.run(
        [
            sys.executable,
            str(Path(__file__).with_name(f"{section}.py")),
            "--database-url",
            url,
            "--json",
            str(out),
        ],
        env={k: v for k, v in os.environ.items() if k != "DJANGO_SETTINGS_MODULE"},
    )
    try:
        jobs = json.loads(out.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        jobs = {"errors": [f"benchmarks/{section}.py exited with {result.returncode}, no report"]}
    jobs["exit"] = result.returncode
    return jobs


def _remove_empty_test_media() -> None:
    """The test settings make a temporary MEDIA_ROOT on import; this run used its own."""
    original = Path(settings.MEDIA_ROOT)
    if original.name.startswith("cdt-test-media-"):
        try:
            original.rmdir()  # only if empty
        except OSError:
            pass


if __name__ == "__main__":
    sys.exit(main())
