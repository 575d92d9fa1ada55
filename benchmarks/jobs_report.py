"""What the jobs section reports: the machine and services it ran on, and the table of
targets on stdout (everything also goes to var/benchmarks/jobs.json)."""

from __future__ import annotations

import os
import sys

from jobs_services import Services


def machine(bench: Services) -> dict:
    import django
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("show server_version")
        pg = cursor.fetchone()[0]
    import redis

    info = redis.Redis.from_url(bench.redis_url).info("server")
    return {
        "cpus": len(os.sched_getaffinity(0)),
        "python": sys.version.split()[0],
        "django": django.get_version(),
        "postgresql": pg,
        "redis": info.get("redis_version"),
        "gunicorn": "deploy/gunicorn.conf.py, 2 sync workers, production settings",
        "huey": f"run_huey, {bench.args.workers} process workers, RedisHuey db {bench.redis_db}",
        "smtp": f"local threaded server, {bench.args.smtp_delay_ms} ms per message",
    }


def table(report: dict) -> str:
    m = report.get("machine", {})
    lines = [
        f"== jobs: issue 11 targets — {report['started']} ==",
        f"machine: {m.get('cpus')} CPU(s), PostgreSQL {m.get('postgresql')}, Redis "
        f"{m.get('redis')}; gunicorn: {m.get('gunicorn')}; huey: {m.get('huey')}; "
        f"SMTP: {m.get('smtp')}",
        f"baselines: GET /healthz through gunicorn {report.get('bare_request_ms')} ms (÷bare), "
        f"blank WeasyPrint page {report.get('blank_pdf_ms')} ms (÷blank PDF); used = measured "
        "÷ limit",
    ]
    header = f"{'target':<62} {'measured':>11} {'limit':>9} {'used':>6} {'ratio':>15} result"
    lines += [header, "-" * len(header)]
    for row in report["rows"]:
        unit = row["unit"]
        value = "—" if row["value"] is None else f"{row['value']:.2f} {unit}"
        limit = "—" if row["limit"] is None else f"{row['limit']:g} {unit}"
        used = "—" if row["used"] is None else f"{row['used']:.2f}"
        ratio = "—" if row["ratio"] is None else f"{row['ratio']:.0f} {row['ratio_kind']}"
        result = (
            row["result"]
            if row["limit"] is not None
            else ("info" if row["result"] == "PASS" else "FAIL")
        )
        lines.append(
            f"{row['target'][:62]:<62} {value:>11} {limit:>9} {used:>6} {ratio:>15} {result}"
        )
        if row["how"]:
            lines.append(f"    {row['how']}")
    if report.get("errors"):
        lines += ["", "errors:"] + [f"  {e}" for e in report["errors"]]
    failed = sum(1 for r in report["rows"] if r["result"] == "FAIL")
    lines += [
        "",
        f"jobs: {len(report['rows']) - failed} passed, {failed} failed, "
        f"in {report['total_s']:.0f} s",
    ]
    return "\n".join(lines)
