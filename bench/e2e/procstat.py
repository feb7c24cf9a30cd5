"""CPU used by the processes of a benchmark (server, PostgreSQL backends, the driver), from /proc.

Shared by bench/e2e and bench/load: Linux only, as is the machine the numbers are measured on.
"""
from __future__ import annotations

import os


def cpu_seconds(pid: int) -> float:
    """utime + stime of a process (and its threads), in seconds."""
    with open(f"/proc/{pid}/stat") as f:
        parts = f.read().rsplit(")", 1)[1].split()
    return (int(parts[11]) + int(parts[12])) / os.sysconf("SC_CLK_TCK")


def postgres_cpu_seconds(dbname: str) -> float:
    """CPU of the PostgreSQL backends serving the benchmark database (plus the WAL writer/checkpointer
    are not included: they are shared), from /proc."""
    total = 0.0
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as f:
                cmd = f.read()
            if b"postgres: " in cmd and dbname.encode() in cmd:
                total += cpu_seconds(int(pid))
        except OSError:
            continue
    return total


def machine_busy() -> tuple[float, float, float]:
    """(busy, total, steal) jiffies of the whole machine, from /proc/stat (steal: taken by the hypervisor)."""
    with open("/proc/stat") as f:
        v = [int(x) for x in f.readline().split()[1:]]
    idle = v[3] + v[4]
    return sum(v) - idle, sum(v), v[7]


def main_thread_cpu_seconds(pid: int) -> float:
    """CPU seconds of a process's main thread (in the MyCrypto server: the event loop; the rest of
    the process's CPU is the argon2id pool and the threads libargon2 starts per hash)."""
    try:
        with open(f"/proc/{pid}/task/{pid}/stat") as f:
            parts = f.read().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(parts[11]) + int(parts[12])) / os.sysconf("SC_CLK_TCK")


class CpuSampler:
    """Samples the CPU counters above every `interval` s in a thread, so the CPU of any time window
    of a run can be read afterwards (`window`), e.g. the measured window after a ramp-up."""

    def __init__(self, pids: dict[str, int], dbname: str = "", interval: float = 0.5) -> None:
        import threading

        self.pids = {k: v for k, v in pids.items() if v}
        self.dbname = dbname
        self.interval = interval
        self.samples: list[dict[str, float]] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True)

    def _take(self) -> None:
        import time

        s: dict[str, float] = {"t": time.time()}
        for name, pid in self.pids.items():
            try:
                s[name] = cpu_seconds(pid)
            except OSError:        # the process ended: keep its last value
                s[name] = self.samples[-1].get(name, 0.0) if self.samples else 0.0
        if "server" in self.pids:
            s["server_event_loop"] = main_thread_cpu_seconds(self.pids["server"])
        if self.dbname:
            s["postgres"] = postgres_cpu_seconds(self.dbname)
        busy, total, steal = machine_busy()
        s.update(busy=busy, total=total, steal=steal)
        self.samples.append(s)

    def _loop(self) -> None:
        while not self._stop.wait(self.interval):
            self._take()

    def start(self) -> "CpuSampler":
        self._take()
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()
        self._take()

    def window(self, t0: float, t1: float) -> dict[str, float]:
        """CPU seconds per counter between the samples nearest to t0 and t1 (epoch seconds), and the
        machine's busy and steal percentages over that window."""
        a = min(self.samples, key=lambda s: abs(s["t"] - t0))
        b = min(self.samples, key=lambda s: abs(s["t"] - t1))
        out = {f"{k}_s": round(b[k] - a[k], 2) for k in a if k not in ("t", "busy", "total", "steal")}
        out["wall_s"] = round(b["t"] - a["t"], 2)
        ticks = max(1, b["total"] - a["total"])
        out["machine_busy_pct"] = round(100 * (b["busy"] - a["busy"]) / ticks, 1)
        out["steal_pct"] = round(100 * (b["steal"] - a["steal"]) / ticks, 1)
        return out
