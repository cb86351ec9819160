"""How many CPUs a worker may use, and where that figure came from (for messages).

Without psutil: the affinity mask and the cgroup v2/v1 CPU quota, as ``--concurrency auto`` does.
"""

from __future__ import annotations

import math
import os

from tuner.records import dataclass


@dataclass(frozen=True)
class Cpus:
    count: float
    source: str

    def __str__(self) -> str:
        shown = f"{self.count:g}"
        return f"{shown} CPU{'s' if self.count != 1 else ''} ({self.source})"


def _read(*parts: str) -> str:
    with open(os.path.join(*parts)) as f:
        return f.read()


def _cgroup_quota(root: str = "/sys/fs/cgroup") -> float | None:
    try:
        quota, period = _read(root, "cpu.max").split()[:2]
        if quota != "max":
            return int(quota) / int(period)
    except (OSError, ValueError):
        pass
    try:
        q = int(_read(root, "cpu", "cpu.cfs_quota_us"))
        p = int(_read(root, "cpu", "cpu.cfs_period_us"))
        if q > 0 and p > 0:
            return q / p
    except (OSError, ValueError):
        pass
    return None


def detect() -> Cpus:
    """CPUs available to a process started here: affinity mask, capped by the cgroup quota."""
    try:
        count: float = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):  # pragma: no cover - non-Linux
        count = os.cpu_count() or 1
    quota = _cgroup_quota()
    if quota is not None and quota < count:
        return Cpus(max(1, math.ceil(quota)), f"cgroup CPU quota {quota:g} on this machine")
    return Cpus(count, "detected on this machine; set --cpus for the target")
