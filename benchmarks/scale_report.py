"""What the scale section prints: its progress on stderr, and the table of targets on stdout
(everything also goes to var/benchmarks/scale.json)."""

from __future__ import annotations

import sys
import time

STARTED = time.monotonic()


def say(message: str) -> None:
    print(f"[scale {time.monotonic() - STARTED:6.1f}s] {message}", file=sys.stderr, flush=True)


def fmt(value, spec: str) -> str:
    return "—" if value is None else format(value, spec)


def fmt_mb(value) -> str:
    return "—" if value is None else f"{value:.1f} MB"


def fmt_value(row: dict) -> str:
    value, unit = row["value"], row["unit"]
    if isinstance(value, tuple):
        if unit == "× bare":
            return " / ".join("—" if v is None else f"{v:.1f}" for v in value)
        if unit == "queries":
            sign = "=" if value[0] == value[1] else "≠"
            return f"{value[0][1]} {sign} {value[1][1]}"
        if unit == "/s":
            return f"{value[0]:.2f} vs {value[1]:.2f}/s"
        return f"{value[0]:.1f} → {value[1]:.1f} {unit}"
    if unit in ("of /healthz", "× the few"):
        return "—" if value is None else f"{value:.2f}"
    return "—" if value is None else f"{value:.0f} {unit}"


def fmt_limit(row: dict) -> str:
    limit, unit = row["limit"], row["unit"]
    if limit is None:
        return "equal"
    if unit == "× bare":
        return f"≤ {limit:g}×"
    if unit in ("MB", "KB"):
        return f"≤ ×{limit:g}"
    if unit == "/s":
        return f"≥ {100 - limit * 100:.0f} %"
    if unit == "of /healthz":
        return f"≥ {limit:g}"
    if unit == "× the few":
        return f"< {limit:g}×"
    return f"< {limit:g} {unit}"


def table(report: dict) -> str:
    info = report.get("info", {})
    m = report.get("machine", {})
    dep = info.get("department", {})
    lines = [
        f"== scale: issue 14 and 24 targets — {report['started']} ==",
        f"machine: {m.get('cpus')} CPU(s), PostgreSQL {m.get('postgresql')}; gunicorn "
        "deploy/gunicorn.conf.py (2 sync workers, production settings, CONN_MAX_AGE on); "
        f"wrk -c{report['args']['connections']} -d{report['args']['wrk_seconds']:g}s",
        f"data: a department of {dep.get('institutions')} institutions, {dep.get('people')} "
        f"people (built in {dep.get('build_s')} s), and outside it an institution of "
        f"{report['args']['big']} staff ({report.get('big_staff')} on the sheet) and one of a "
        f"tenth of that; ANALYZE run after each load "
        f"({', '.join(f'{s} s' for s in info.get('analyze', []))})",
        f"baselines: bare Django view in-process {report.get('bare_ms', 0):.2f} ms; GET /healthz "
        f"through gunicorn p50 {report.get('healthz_p50_ms', 0):.2f} ms "
        f"({report.get('healthz_rps', 0):.0f} req/s). Ratios: in-process ms ÷ bare view / "
        "gunicorn p50 ÷ /healthz p50",
    ]
    header = f"{'target':<66} {'measured':>20} {'limit':>8}  result"
    section = None
    for row in report["targets"]:
        if row["section"] != section:
            section = row["section"]
            lines += ["", f"-- {section} --", header, "-" * len(header)]
        lines.append(
            f"{row['target'][:66]:<66} {fmt_value(row):>20} {fmt_limit(row):>8}  {row['result']}"
        )
        if row["how"]:
            lines.append(f"    {row['how']}")
    if report.get("errors"):
        lines += ["", "errors:"] + [f"  {e}" for e in report["errors"]]
    failed = sum(1 for r in report["targets"] if r["result"] == "FAIL")
    lines += [
        "",
        f"scale: {len(report['targets']) - failed} met, {failed} not met, "
        f"in {report['total_s']:.0f} s",
    ]
    return "\n".join(lines)
