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
