"""Issue 24's rush: many people at once. Each page is hammered through gunicorn by wrk with 8
connections for 15 seconds, taken as 15 runs of one second, so that a second in which nothing
was answered (both workers being replaced, say) shows as such. Its targets: p99 under 500 ms for
every page and no second without answers; the pages many people open (a teacher's /regulation/,
a parent's /my/, the joining page) at least half of /healthz's requests per second in the same
run, the managers' pages at least a quarter."""

from __future__ import annotations

from scale_report import say
from scale_tools import wrk

RUSH_SECONDS = 15
RUSH_CONNECTIONS = 8
P99_LIMIT_MS = 500.0
MANY = 0.5  # share of /healthz's requests per second: pages many people open
MANAGERS = 0.25  # managers' pages

# (path, institution, who: a signed-in role, or "" for nobody, share of /healthz)
RUSH_PAGES = [
    ("/regulation/", "big", "teacher", MANY),
    ("/my/", "big", "parent", MANY),
    ("/join/big/", "big", "", MANY),
    ("/dashboard/", "big", "admin", MANAGERS),
    ("/people/", "big", "admin", MANAGERS),
    ("/regulation/acknowledgements/", "big", "admin", MANAGERS),
    ("/department/", "department", "department", MANAGERS),
]


class RushMixin:
    """For ScaleBench: `measure_rush` after the other measurements."""

    def rush(self, path: str, cookie: str) -> dict:
        answered, p99, bad = [], [], 0
        for _ in range(RUSH_SECONDS):
            run = wrk(self.app_port, path, cookie, seconds=1, connections=RUSH_CONNECTIONS)
            answered.append(run["requests"])
            p99.append(run["p99_ms"] if run["p99_ms"] is not None else float("inf"))
            bad += run["bad"]
        result = {
            "path": path,
            "per_second": answered,
            "rps": sum(answered) / RUSH_SECONDS,
            "p99_ms": max(p99),  # the worst second's p99: no second may be slow
            "silent_seconds": answered.count(0),
            "bad": bad,
        }
        self.measured.setdefault("rush", {})[path] = result
        say(f"rush {path}: {result['rps']:.0f} req/s, worst p99 {result['p99_ms']:.0f} ms, "
            f"{result['silent_seconds']} silent seconds, {bad} bad")  # fmt: skip
        return result

    def measure_rush(self) -> None:
        healthz = self.rush("/healthz", "")
        for path, institution, who, share in RUSH_PAGES:
            cookie = self.cookie(institution, who) if who else ""
            run = self.rush(path, cookie)
            label = f"{path} ({who or 'anonymous'}, wrk -c{RUSH_CONNECTIONS}, {RUSH_SECONDS} s)"
            steady = not run["silent_seconds"] and not run["bad"]
            self.goal(
                f"{label}: worst p99",
                value=run["p99_ms"],
                limit=P99_LIMIT_MS,
                unit="ms",
                passed=steady and run["p99_ms"] < P99_LIMIT_MS,
                how=f"answers each second {run['per_second']}; seconds with none: "
                f"{run['silent_seconds']}; not 2xx/3xx: {run['bad']}",
                section="rush",
            )
            ratio = run["rps"] / healthz["rps"] if healthz["rps"] else None
            self.goal(
                f"{label}: requests/s ÷ /healthz's",
                value=ratio,
                limit=share,
                unit="of /healthz",
                passed=ratio is not None and ratio >= share,
                how=f"{run['rps']:.0f} vs /healthz {healthz['rps']:.0f} req/s in the same run",
                section="rush",
            )
