"""What the current process knows: its metrics, samplers and running tasks (reset after fork)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from tuner.metrics.gil import Concurrency, GilSampler

if TYPE_CHECKING:
    from tuner.metrics.process import ProcessStats
    from tuner.metrics.registry import Metrics
    from tuner.metrics.settings import Settings


@dataclass
class State:
    metrics: Metrics | None = None
    settings: Settings | None = None
    directory: str = ""
    created_directory: bool = False
    hostname: str = ""
    main_pid: int = 0
    started: dict[str, float] = field(default_factory=dict)
    concurrency: Concurrency = field(default_factory=Concurrency)
    stats: ProcessStats | None = None
    gil: GilSampler | None = None

    def after_fork(self) -> None:
        """In a new pool child: nothing of the parent's per-process state is valid."""
        self.started = {}
        self.concurrency = Concurrency()
        self.stats = None
        self.gil = None


STATE = State()
