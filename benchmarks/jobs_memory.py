"""The processes the jobs and scale sections start (huey's and gunicorn's workers) and their
memory, read from /proc."""

from __future__ import annotations

import os
import threading

# --- processes and their memory -------------------------------------------------------------


def proc_children(pid: int) -> list[int]:
    found = []
    try:
        for task in os.listdir(f"/proc/{pid}/task"):
            with open(f"/proc/{pid}/task/{task}/children") as f:
                found += [int(p) for p in f.read().split()]
    except OSError:
        pass
    return found


def proc_mb(pid: int) -> dict[str, float]:
    values = {}
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith(("VmRSS:", "VmHWM:")):
                    key, kb = line.split()[:2]
                    values[key.rstrip(":")] = int(kb) / 1024
    except OSError:
        pass
    return values


def reset_hwm(pid: int) -> None:
    """Reset a process's peak RSS (VmHWM) to its current RSS (Linux: clear_refs 5)."""
    try:
        with open(f"/proc/{pid}/clear_refs", "w") as f:
            f.write("5")
    except OSError:
        pass


class MemorySampler(threading.Thread):
    """Samples the RSS of the huey worker processes (children of `run_huey`) and of the
    gunicorn workers every 0.2 s; `phase()` starts a new peak."""

    def __init__(self, huey_pid: int, gunicorn_pid: int) -> None:
        super().__init__(daemon=True)
        self.huey_pid, self.gunicorn_pid = huey_pid, gunicorn_pid
        self.stop = threading.Event()
        self.lock = threading.Lock()
        self.peak: dict[int, float] = {}
        self.web_peak: dict[int, float] = {}

    def workers(self) -> list[int]:
        return proc_children(self.huey_pid)

    def web_workers(self) -> list[int]:
        return proc_children(self.gunicorn_pid)

    def phase(self) -> None:
        with self.lock:
            self.peak, self.web_peak = {}, {}
            for pid in self.workers() + self.web_workers():
                reset_hwm(pid)

    def run(self) -> None:
        while not self.stop.wait(0.2):
            with self.lock:
                for pid in self.workers():
                    rss = proc_mb(pid).get("VmRSS", 0.0)
                    self.peak[pid] = max(self.peak.get(pid, 0.0), rss)
                for pid in self.web_workers():
                    rss = proc_mb(pid).get("VmRSS", 0.0)
                    self.web_peak[pid] = max(self.web_peak.get(pid, 0.0), rss)

    def report(self) -> dict:
        """Peak RSS per huey worker process since `phase()` (VmHWM or the sampled maximum,
        whichever is higher), their RSS now, and the gunicorn workers' peak."""
        with self.lock:
            workers = {}
            for pid in self.workers():
                mb = proc_mb(pid)
                workers[pid] = {
                    "peak_mb": round(max(mb.get("VmHWM", 0.0), self.peak.get(pid, 0.0)), 1),
                    "rss_mb": round(mb.get("VmRSS", 0.0), 1),
                }
            web = {}
            for pid in self.web_workers():
                mb = proc_mb(pid)
                web[pid] = round(max(mb.get("VmHWM", 0.0), self.web_peak.get(pid, 0.0)), 1)
        return {
            "workers": workers,
            "worker_peak_mb": max((w["peak_mb"] for w in workers.values()), default=None),
            "worker_rss_mb": max((w["rss_mb"] for w in workers.values()), default=None),
            "web_peak_mb": max(web.values(), default=None),
        }
