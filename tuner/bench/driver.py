"""The inside of one run: start the workers, drive the load, drain, compute, stop.

:class:`Driver` is used by :func:`tuner.bench.runner.run_config`, which owns the broker session
and the run's directory.
"""

from __future__ import annotations

import math
import time
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from tuner.bench.broker import BrokerSession
from tuner.bench.config import WorkerConfig
from tuner.bench.errors import BenchError
from tuner.bench.events import EventLog
from tuner.bench.load import LoadSpec, arrivals, saturation_target
from tuner.bench.metrics import Metrics, Sent, compute
from tuner.bench.producer import Producer
from tuner.bench.sampler import Sample, TreeSampler
from tuner.bench.worker import WorkerGroup
from tuner.bench.workloads import Workload

Progress = Callable[[str, float], None]
OnReady = Callable[[Sequence[int]], None]
OnInterval = Callable[[float, Metrics], None]

START_LEAD = 0.05  # seconds between "ready" and the first scheduled task
POLL = 0.02  # how often the probe's records are read while sending
INTERVAL = 1.0  # on_interval period
AHEAD = 0.25  # saturate: seconds of work (at the observed rate) kept outstanding, at least


@dataclass
class Driver:
    """One run from start to stop: workers, load, drain, metrics (see :func:`run_config`)."""

    config: WorkerConfig
    workload: Workload
    load: LoadSpec
    session: BrokerSession
    queue: str
    run_dir: Path
    run_id: str
    nodes: int
    cpus: float
    timeout: float | None
    ready_timeout: float
    stall_timeout: float
    shutdown_timeout: float
    on_ready: OnReady | None
    on_interval: OnInterval | None
    progress: Progress | None
    pids: list[int] = field(default_factory=list)
    sent: dict[str, Sent] = field(default_factory=dict)
    phase: str = "starting"

    def __post_init__(self) -> None:
        self.began = time.monotonic()
        self.log = EventLog(self.run_dir / "events")
        self.plan = self.workload.plan(self.load.seed)
        self._seq = 0
        self._last_check = 0.0
        self._last_poll = 0.0
        self._last_interval = 0.0

    # -- the run ---------------------------------------------------------------------------------

    def execute(self) -> tuple[Metrics, dict[str, float]]:
        group = WorkerGroup(
            self.config,
            self.session,
            queue=self.queue,
            run_dir=self.run_dir,
            run_id=self.run_id,
            nodes=self.nodes,
            app=self.workload.app,
            events_dir=self.log.directory,
        )
        sampler: TreeSampler | None = None
        phases: dict[str, float] = {}
        try:
            self._report("starting", 0.0)
            group.start()
            ready_timeout = self.ready_timeout
            if self.timeout is not None:
                ready_timeout = min(ready_timeout, max(0.1, self.timeout - self._elapsed()))
            try:
                group.wait_ready(ready_timeout)
            except BenchError:
                self._check_timeout()
                raise
            self.pids = group.pids
            phases["start"] = self._elapsed()
            if self.on_ready is not None:
                self.on_ready(list(self.pids))
            sampler = TreeSampler(self.pids).start()
            with Producer(self.session, self.queue) as producer:
                t_load = time.monotonic()
                window, cpu = self._drive(producer, group, sampler)
                phases["load"] = time.monotonic() - t_load
            t_drain = time.monotonic()
            self._drain(group)
            phases["drain"] = time.monotonic() - t_drain
            sampler.stop()
            metrics = compute(
                log=self.log,
                sent=self.sent,
                window=window,
                cpu=cpu,
                samples=sampler.samples,
                cpus=self.cpus,
                cpu_workload=self.workload.kind == "cpu",
                final=True,
                initial_children=self.config.effective_concurrency(),
                open_loop=self.load.mode == "open",
                until=time.monotonic(),
            )
        finally:
            if sampler is not None:
                sampler.stop()
            self._report("stopping", 0.97)
            t_stop = time.monotonic()
            group.stop(self.shutdown_timeout)
            phases["stop"] = time.monotonic() - t_stop
        return metrics, phases

    def _drive(
        self, producer: Producer, group: WorkerGroup, sampler: TreeSampler
    ) -> tuple[tuple[float, float], tuple[Sample, Sample]]:
        load = self.load
        t0 = time.monotonic() + START_LEAD
        t_m = t0 + load.warmup
        duration_end = t_m + (load.duration or 0.0)
        measured = 0
        cpu_start: Sample | None = None
        last_measured = t_m

        def window_closed(t: float) -> bool:
            if load.tasks is not None:
                return measured >= load.tasks
            return t >= duration_end

        if load.mode == "open":
            assert load.rate is not None
            times = arrivals(load.rate, load.arrivals, t0, load.seed)
            due = next(times)
            while not (due >= t_m and window_closed(due)):
                now = time.monotonic()
                if cpu_start is None and now >= t_m:
                    cpu_start = sampler.sample()
                while due <= now and not (due >= t_m and window_closed(due)):
                    is_measured = due >= t_m
                    self._send(producer, due, is_measured)
                    if is_measured:
                        measured += 1
                        last_measured = due
                    due = next(times)
                self._housekeeping(group, t_m, now, measured)
                wait = due - time.monotonic()
                if wait > 0:
                    time.sleep(min(wait, POLL))
        else:
            base = saturation_target(
                self.config.effective_concurrency(), self.config.prefetch_multiplier, self.nodes
            )
            target = base
            history: deque[tuple[float, int]] = deque()
            while True:
                now = time.monotonic()
                # Short tasks: keep at least AHEAD seconds of work outstanding, whatever the count.
                history.append((now, len(self.log.finished)))
                while now - history[0][0] > 1.0:
                    history.popleft()
                if now - history[0][0] > 0.2:
                    rate = (history[-1][1] - history[0][1]) / (now - history[0][0])
                    target = max(base, math.ceil(rate * AHEAD))
                if now >= t_m:
                    if cpu_start is None:
                        cpu_start = sampler.sample()
                    if window_closed(now):
                        break
                outstanding = len(self.sent) - len(self.log.finished)
                while outstanding < target:
                    now = time.monotonic()
                    is_measured = now >= t_m
                    if is_measured and window_closed(now):
                        break
                    self._send(producer, now, is_measured)
                    outstanding += 1
                    if is_measured:
                        measured += 1
                        last_measured = now
                self._housekeeping(group, t_m, time.monotonic(), measured)
                time.sleep(POLL)
        end = duration_end if load.tasks is None else last_measured
        now = time.monotonic()
        if now < end:  # open loop: the window ends at its last due time
            time.sleep(end - now)
        cpu_end = sampler.sample()
        if cpu_start is None:
            cpu_start = sampler.samples[0]
        if end <= t_m:
            end = max(cpu_end.t, t_m + 1e-3)
        return (t_m, end), (cpu_start, cpu_end)

    def _send(self, producer: Producer, scheduled: float, measured: bool) -> None:
        planned = next(self.plan)
        task_id = f"{self.run_id}-{self._seq}"
        self._seq += 1
        self.sent[task_id] = Sent(scheduled, measured, planned.cpu_seconds)
        producer.send(task_id, planned.name, planned.args, planned.kwargs)

    def _housekeeping(self, group: WorkerGroup, t_m: float, now: float, measured: int) -> None:
        if now - self._last_poll < POLL * 0.9:
            return
        self._last_poll = now
        self.log.poll()
        self._check_events()
        if now - self._last_check >= 0.25:
            self._last_check = now
            group.check_alive()
            self._check_timeout()
        load = self.load
        if now < t_m:
            self._report("warm-up", 0.05 + 0.1 * (1 - (t_m - now) / max(load.warmup, 1e-9)))
            return
        if load.tasks is not None:
            frac = measured / load.tasks
        else:
            frac = (now - t_m) / (load.duration or 1.0)
        self._report("measuring", 0.15 + 0.75 * min(1.0, frac))
        if self.on_interval is not None and now - self._last_interval >= INTERVAL:
            if self._last_interval == 0.0 and now - t_m < INTERVAL:
                return
            self._last_interval = now
            partial = compute(
                log=self.log,
                sent=self.sent,
                window=(t_m, now),
                cpu=None,
                samples=[],
                cpus=self.cpus,
                cpu_workload=self.workload.kind == "cpu",
                final=False,
                initial_children=self.config.effective_concurrency(),
                open_loop=load.mode == "open",
                until=now,
            )
            self.on_interval(now - t_m, partial)

    def _drain(self, group: WorkerGroup) -> None:
        """Wait until every sent task finished, or nothing finished for a while (lost)."""
        self._report("draining", 0.92)
        last = time.monotonic()
        while True:
            now = time.monotonic()
            if self.log.poll() > 0:
                last = now
            self._check_events()
            if len(self.log.finished) >= len(self.sent):  # the log holds this run's tasks only
                return
            stall = max(self.stall_timeout, 2.0 * self.log.max_run)
            if now - last > stall:
                return
            if now - self._last_check >= 0.25:
                self._last_check = now
                group.check_alive()
                self._check_timeout()
            time.sleep(POLL * 2)

    # -- checks ----------------------------------------------------------------------------------

    def _check_events(self) -> None:
        if self.log.unknown:
            app = self.workload.app or "the bench's app"
            raise BenchError(
                f"the worker does not know task {self.log.unknown[0]!r} (not registered in "
                f"{app}; check --task and --app)"
            )
        if self.log.rejected:
            raise BenchError(
                "the worker rejected a message it could not decode (check the app's "
                "accept_content and serializer settings)"
            )

    def _elapsed(self) -> float:
        return time.monotonic() - self.began

    def _check_timeout(self) -> None:
        if self.timeout is not None and self._elapsed() > self.timeout:
            raise BenchError(f"run of {self.config.label} timed out after {self.timeout:g} s")

    def _report(self, phase: str, fraction: float) -> None:
        self.phase = phase
        if self.progress is not None:
            self.progress(phase, fraction)
