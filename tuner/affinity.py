"""Which CPUs pool children may be pinned to, and which CPU the next child gets.

No Celery here: the CPU set (affinity mask, an explicit list, SMT siblings from ``/sys``) and the
:class:`CpuAssigner` that hands each new child the least-used CPU of the set.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

SYSFS_CPU = Path("/sys/devices/system/cpu")
ENV_CPUS = "CELERY_TUNE_AFFINITY_CPUS"
ENV_PHYSICAL_ONLY = "CELERY_TUNE_AFFINITY_PHYSICAL_ONLY"
SETTING_CPUS = "worker_affinity_cpus"
SETTING_PHYSICAL_ONLY = "worker_affinity_physical_only"

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off", ""}


class AffinityError(ValueError):
    """A bad CPU list or flag; ``str()`` is one line for the log."""


def supported() -> bool:
    """True where processes can be pinned (Linux: ``os.sched_setaffinity``)."""
    return hasattr(os, "sched_setaffinity") and hasattr(os, "sched_getaffinity")


def allowed_cpus() -> list[int]:
    """CPUs this process may run on (respects taskset and cgroup cpusets)."""
    if hasattr(os, "sched_getaffinity"):
        return sorted(os.sched_getaffinity(0))
    return list(range(os.cpu_count() or 1))  # pragma: no cover - non-Linux


def parse_cpulist(value: object, where: str = SETTING_CPUS) -> list[int]:
    """A Linux cpulist (``"0,2,4-7"``) or a list of ints, as sorted unique CPU numbers."""
    items: list[str]
    if isinstance(value, str):
        items = [part.strip() for part in value.split(",")]
    elif isinstance(value, Iterable) and not isinstance(value, (bytes, Mapping)):
        items = [str(part).strip() for part in value]
    elif isinstance(value, int) and not isinstance(value, bool):
        items = [str(value)]
    else:
        raise AffinityError(f"{where}: expected a CPU list like '0,2-3', got {value!r}")
    cpus: set[int] = set()
    for item in items:
        if not item:
            continue
        low, sep, high = item.partition("-")
        try:
            first = int(low)
            last = int(high) if sep else first
        except ValueError:
            raise AffinityError(f"{where}: {item!r} is not a CPU number or range") from None
        if first < 0 or last < first:
            raise AffinityError(f"{where}: {item!r} is not a valid CPU range")
        cpus.update(range(first, last + 1))
    if not cpus:
        raise AffinityError(f"{where}: the CPU list is empty")
    return sorted(cpus)


def parse_flag(value: object, where: str = SETTING_PHYSICAL_ONLY) -> bool:
    if isinstance(value, bool):
        return value
    if value is None:
        return False
    text = str(value).strip().lower()
    if text in _TRUE:
        return True
    if text in _FALSE:
        return False
    raise AffinityError(f"{where}: expected true or false, got {value!r}")


def sibling_groups(cpus: Iterable[int], sysfs: Path = SYSFS_CPU) -> list[list[int]] | None:
    """SMT sibling groups (one per physical core) among ``cpus``, or None if ``/sys`` can't tell."""
    groups: dict[tuple[int, ...], list[int]] = {}
    for cpu in cpus:
        topo = sysfs / f"cpu{cpu}" / "topology"
        text = None
        for name in ("core_cpus_list", "thread_siblings_list"):
            try:
                text = (topo / name).read_text().strip()
                break
            except OSError:
                continue
        if text is None:
            return None
        try:
            key = tuple(parse_cpulist(text, str(topo)))
        except AffinityError:
            return None
        groups.setdefault(key, []).append(cpu)
    return sorted((sorted(g) for g in groups.values()), key=lambda g: g[0])


def physical_only(cpus: Iterable[int], sysfs: Path = SYSFS_CPU) -> list[int] | None:
    """The first CPU of each physical core in ``cpus`` (SMT siblings skipped); None if unknown."""
    groups = sibling_groups(list(cpus), sysfs)
    if groups is None:
        return None
    return sorted(g[0] for g in groups)


@dataclass(frozen=True)
class CpuPlan:
    """The CPUs children are spread over, and what to log about how they were chosen."""

    cpus: tuple[int, ...]
    source: str
    warnings: tuple[str, ...] = ()


def resolve(
    setting_cpus: object = None,
    setting_physical: object = None,
    *,
    environ: Mapping[str, str] | None = None,
    allowed: Collection[int] | None = None,
    sysfs: Path = SYSFS_CPU,
) -> CpuPlan:
    """The CPU set from the environment (first), else the config, within the allowed CPUs.

    Raises :class:`AffinityError` for a malformed list or flag, or a list with no allowed CPU.
    """
    env = os.environ if environ is None else environ
    allowed_set = sorted(allowed) if allowed is not None else allowed_cpus()
    warnings: list[str] = []
    raw_cpus: object = env.get(ENV_CPUS) or None
    where = ENV_CPUS
    if raw_cpus is None:
        raw_cpus, where = setting_cpus, SETTING_CPUS
    raw_physical: object = env.get(ENV_PHYSICAL_ONLY)
    physical_where = ENV_PHYSICAL_ONLY
    if raw_physical is None:
        raw_physical, physical_where = setting_physical, SETTING_PHYSICAL_ONLY
    want_physical = parse_flag(raw_physical, physical_where)

    if raw_cpus is None or raw_cpus == "":
        cpus = list(allowed_set)
        source = f"allowed set {format_cpulist(cpus)}"
    else:
        listed = parse_cpulist(raw_cpus, where)
        cpus = [c for c in listed if c in set(allowed_set)]
        dropped = [c for c in listed if c not in set(allowed_set)]
        if not cpus:
            raise AffinityError(
                f"{where}={format_cpulist(listed)}: none of these CPUs is allowed for this worker "
                f"(allowed: {format_cpulist(allowed_set)})"
            )
        if dropped:
            warnings.append(
                f"{where}: CPUs {format_cpulist(dropped)} are outside this worker's allowed set "
                f"{format_cpulist(allowed_set)} and are skipped"
            )
        source = f"{where}={format_cpulist(cpus)}"
    if want_physical:
        phys = physical_only(cpus, sysfs)
        if phys is None:
            warnings.append(
                f"{physical_where}: cannot read the SMT topology from {sysfs}; using all CPUs"
            )
        else:
            if len(phys) < len(cpus):
                source += f", physical cores only: {format_cpulist(phys)}"
            cpus = phys
    return CpuPlan(tuple(cpus), source, tuple(warnings))


def format_cpulist(cpus: Iterable[int]) -> str:
    """``[0, 1, 2, 5]`` -> ``"0-2,5"``."""
    ordered = sorted(set(cpus))
    parts: list[str] = []
    i = 0
    while i < len(ordered):
        j = i
        while j + 1 < len(ordered) and ordered[j + 1] == ordered[j] + 1:
            j += 1
        parts.append(str(ordered[i]) if i == j else f"{ordered[i]}-{ordered[j]}")
        i = j + 1
    return ",".join(parts)


class CpuAssigner:
    """Hands each new child the CPU with the fewest live children (ties: lowest in the set).

    The parent calls :meth:`pick` and :meth:`assign` under :attr:`lock`, around the fork, with the
    pids of the children still alive: dead children's CPUs are freed at that moment, so a
    replacement takes a free CPU and no two live children share one while another CPU is idle.
    """

    def __init__(self, cpus: Iterable[int]) -> None:
        self.cpus: tuple[int, ...] = tuple(cpus)
        if not self.cpus:
            raise AffinityError("no CPU to pin to")
        self.lock = threading.RLock()
        self.warned_shared = False  # "more children than CPUs" is logged once
        self._by_pid: dict[int, int] = {}

    def pick(self, live_pids: Iterable[int]) -> int:
        """The CPU for the next child, given the pids of the live children."""
        live = set(live_pids)
        with self.lock:
            for pid in [p for p in self._by_pid if p not in live]:
                del self._by_pid[pid]
            load = dict.fromkeys(self.cpus, 0)
            for cpu in self._by_pid.values():
                if cpu in load:
                    load[cpu] += 1
            return min(self.cpus, key=lambda c: (load[c], self.cpus.index(c)))

    def assign(self, pid: int, cpu: int) -> None:
        with self.lock:
            self._by_pid[pid] = cpu

    def load(self, cpu: int) -> int:
        """Live children currently recorded on ``cpu``."""
        with self.lock:
            return sum(1 for c in self._by_pid.values() if c == cpu)

    def assignments(self) -> dict[int, int]:
        """pid -> CPU of the children recorded as alive."""
        with self.lock:
            return dict(self._by_pid)
