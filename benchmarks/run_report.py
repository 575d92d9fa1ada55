"""What run.py reports: progress on stderr, the machine, the rows that grow with staff, and
the table on stdout (the same data goes to the JSON report)."""

from __future__ import annotations

import os
import platform
import resource
import sys

import django
from django.db import connection

BASELINE_MIN_SAMPLES = 20
# A measurement whose time grows this much from the smallest size to the largest is flagged.
GROWTH_FLAG = 3.0


# --- report -------------------------------------------------------------------------------


def peak_rss_mb() -> float:
    """The process's peak memory so far (Linux reports KB, macOS bytes)."""
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / 1024 / (1024 if sys.platform == "darwin" else 1)


def say(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def machine() -> dict:
    import weasyprint

    info = {
        "cpus": len(os.sched_getaffinity(0))
        if hasattr(os, "sched_getaffinity")
        else os.cpu_count(),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "django": django.get_version(),
        "weasyprint": weasyprint.__version__,
        "db_vendor": connection.vendor,
        "settings": os.environ["DJANGO_SETTINGS_MODULE"],
    }
    with connection.cursor() as cursor:
        if connection.vendor == "sqlite":
            cursor.execute("select sqlite_version()")
            info["db_version"] = f"SQLite {cursor.fetchone()[0]}"
            info["db_name"] = str(connection.settings_dict["NAME"])
        elif connection.vendor == "postgresql":
            cursor.execute("show server_version")
            info["db_version"] = f"PostgreSQL {cursor.fetchone()[0]}"
            info["db_name"] = str(connection.settings_dict["NAME"])
    return info


def fmt(value, spec: str, empty: str = "—") -> str:
    return empty if value is None else format(value, spec)


def flag_growth(sizes: list[dict]) -> list[str]:
    """Rows whose queries or time grow with staff (informational: nothing fails)."""
    if len(sizes) < 2:
        return []
    first, last = sizes[0], sizes[-1]
    flags = []
    for row in first["rows"]:
        other = next((r for r in last["rows"] if r["name"] == row["name"]), None)
        if other is None or row["ms"] is None or other["ms"] is None:
            continue
        for size in sizes[1:]:
            later = next(r for r in size["rows"] if r["name"] == row["name"])
            if later["queries"] is not None and later["queries"] > row["queries"]:
                flags.append(
                    f"QUERIES GROW: {row['name']}: {row['queries']} at {first['staff']} staff, "
                    f"{later['queries']} at {size['staff']}"
                )
                break
        growth = other["ms"] / row["ms"] if row["ms"] else 0
        if growth >= GROWTH_FLAG and not row["kind"].startswith("baseline"):
            flags.append(
                f"TIME GROWS ×{growth:.1f}: {row['name']} ({row['kind']}): "
                f"{row['ms']:.1f} ms at {first['staff']} staff, "
                f"{other['ms']:.1f} ms at {last['staff']}"
            )
    return flags


def table(report: dict) -> str:
    m = report["machine"]
    lines = [
        "CDT portal benchmark — " + report["started"],
        f"machine: {m['cpus']} CPU(s), Python {m['python']}, Django {m['django']}, "
        f"WeasyPrint {m['weasyprint']}, {m.get('db_version', m['db_vendor'])} "
        f"({m.get('db_name', '')}), {m['platform']}",
        f"settings: {m['settings']}. ms: median of {report['repeat']} timed runs (baselines: "
        f"at least {BASELINE_MIN_SAMPLES}) after one untimed warm-up that counts the queries; "
        f"at {report['large_pdf_from']}+ staff each PDF render is timed once, without a "
        "warm-up (n = 1).",
        "ratio: pages ÷ bare Django view, PDFs ÷ blank WeasyPrint page, both measured at the "
        "same size in this run. ×first: time ÷ the same row at the smallest size. "
        "queries, sql ms: on one call (↑ = more than at the smallest size).",
    ]
    firsts = {r["name"]: r for r in report["sizes"][0]["rows"]} if report["sizes"] else {}
    header = (
        f"{'measurement':<46} {'ms':>10} {'ratio':>8} {'×first':>7} {'n':>3} "
        f"{'queries':>7} {'sql ms':>8} {'KB':>8}"
    )
    for size in report["sizes"]:
        lines += [
            "",
            f"== {size['staff']} staff (setup {size['setup_s']:.2f} s, "
            f"measured in {size['measure_s']:.1f} s, peak memory so far "
            f"{size['peak_rss_mb']} MB) ==",
            header,
            "-" * len(header),
        ]
        for row in size["rows"]:
            first = firsts.get(row["name"])
            growth = (
                row["ms"] / first["ms"] if row["ms"] is not None and first and first["ms"] else None
            )
            queries = row["queries"]
            if first and queries is not None and first["queries"] is not None:
                queries = f"{queries}{' ↑' if queries > first['queries'] else ''}"
            lines.append(
                f"{row['name'][:46]:<46} {fmt(row['ms'], '10.1f'):>10} "
                f"{fmt(row.get('ratio'), '8.1f'):>8} {fmt(growth, '7.1f'):>7} "
                f"{row['samples']:>3} {fmt(queries, ''):>7} {fmt(row['sql_ms'], '8.1f'):>8} "
                f"{fmt(row.get('bytes') and row['bytes'] / 1024, '8.1f'):>8}"
                + (f"  ERROR {row['error']}" if row.get("error") else "")
            )
    lines += ["", "growth (informational; nothing fails):"]
    lines += [f"  {flag}" for flag in report["flags"]] or ["  nothing grows"]
    if report["errors"]:
        lines += ["", "errors:"] + [f"  {e}" for e in report["errors"]]
    lines += ["", f"total: {report['total_s']:.1f} s"]
    return "\n".join(lines)
