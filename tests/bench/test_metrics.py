from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

from tuner.bench.events import EventLog
from tuner.bench.metrics import CONTRACT, Metrics, Sent, compute, percentile
from tuner.bench.sampler import Sample


def write(path: Path, *records: dict[str, object], partial: str = "") -> None:
    with path.open("a") as f:
        for r in records:
            f.write(json.dumps(r) + "\n")
        f.write(partial)


def task(tid: str, pid: int, s: float, e: float, state: str = "SUCCESS") -> dict[str, object]:
    return {"k": "t", "id": tid, "p": pid, "s": s, "e": e, "c": (e - s) * 0.9, "st": state}


def test_percentile_is_nearest_rank() -> None:
    xs = [float(i) for i in range(1, 101)]
    assert percentile(xs, 0.5) == 50.0
    assert percentile(xs, 0.99) == 99.0
    assert percentile(xs, 1.0) == 100.0
    assert percentile([3.0], 0.99) == 3.0
    assert math.isnan(percentile([], 0.5))


def test_event_log_reads_complete_lines_only_and_counts_each_task_once(tmp_path: Path) -> None:
    log = EventLog(tmp_path)
    f = tmp_path / "events-11.jsonl"
    write(f, {"k": "r", "p": 10, "t": 0.0, "n": "a"}, task("a", 11, 1, 2), partial='{"k": "t", "id')
    assert log.poll() == 1
    with f.open("a") as fh:  # the rest of the partial line, then a redelivery of "a"
        fh.write('": "b", "p": 11, "s": 2, "e": 3, "c": 0.5, "st": "SUCCESS"}\n')
    write(f, task("a", 11, 5, 6), task("c", 11, 3, 4, "RETRY"))
    assert log.poll() == 1
    assert set(log.finished) == {"a", "b"}
    assert log.finished["a"].end == 2


def test_failure_recorded_twice_counts_once_with_timing(tmp_path: Path) -> None:
    log = EventLog(tmp_path)
    write(tmp_path / "events-10.jsonl", {"k": "f", "id": "x", "p": 10, "e": 4.0, "x": "E"})
    write(tmp_path / "events-11.jsonl", task("x", 11, 3.0, 4.0, "FAILURE"))
    log.poll()
    assert len(log.finished) == 1
    assert log.finished["x"].failed and log.finished["x"].start == 3.0


def test_restarts_and_per_worker_counts(tmp_path: Path) -> None:
    log = EventLog(tmp_path)
    # Worker 10 with two prefork children, one replaced; worker 20 runs tasks itself (threads).
    write(
        tmp_path / "events-10.jsonl",
        {"k": "c", "p": 11, "pp": 10, "t": 0.1},
        {"k": "c", "p": 12, "pp": 10, "t": 0.1},
        {"k": "r", "p": 10, "t": 0.2, "n": "a"},
        {"k": "r", "p": 20, "t": 0.2, "n": "b"},
        {"k": "c", "p": 13, "pp": 10, "t": 5.0},
        task("t1", 11, 1, 2),
        task("t2", 13, 1, 2),
        task("t3", 20, 1, 2),
    )
    log.poll()
    assert log.restarts(initial=2) == 1
    assert log.per_worker([10, 20]) == [2, 1]


def test_compute_measures_from_the_scheduled_time(tmp_path: Path) -> None:
    log = EventLog(tmp_path)
    # Scheduled at 10.0; it waited 1 s in the queue and ran 0.5 s: latency 1.5 s, not 0.5 s.
    write(tmp_path / "events-1.jsonl", task("m", 1, 11.0, 11.5), task("w", 1, 9.0, 9.1))
    log.poll()
    sent = {
        "w": Sent(8.9, measured=False, cpu_seconds=0.1),
        "m": Sent(10.0, measured=True, cpu_seconds=0.5),
        "lost": Sent(10.5, measured=True, cpu_seconds=0.5),
    }
    samples = [Sample(10.0, 100.0, 50 * 2**20), Sample(12.0, 102.0, 70 * 2**20)]
    m = compute(
        log=log,
        sent=sent,
        window=(10.0, 12.0),
        cpu=(samples[0], samples[1]),
        samples=samples,
        cpus=2.0,
        cpu_workload=True,
        final=True,
    )
    assert m.p50 == m.p99 == m.max == pytest.approx(1.5)
    assert m.queue_wait_p99 == pytest.approx(1.0) and m.run_p99 == pytest.approx(0.5)
    assert m.throughput == pytest.approx(0.5)  # one task finished inside the 2 s window
    assert m.cpu_util == pytest.approx(0.5)  # 2 CPU-seconds in 2 s on 2 CPUs
    assert m.efficiency == pytest.approx(0.45 / 4)  # task CPU time / (2 s x 2 CPUs)
    assert (m.rss_peak_mb, m.rss_mean_mb) == (70, 60)
    assert (m.tasks_sent, m.tasks_done, m.tasks_failed, m.tasks_lost) == (3, 2, 0, 1)
    assert m.tasks_measured == 2
    d = m.as_dict()
    assert set(CONTRACT) <= set(d)
    # While a run is in progress, unfinished tasks are in flight, not lost.
    partial = compute(
        log=log, sent=sent, window=(10.0, 12.0), cpu=None, samples=[], cpus=2.0,
        cpu_workload=False, final=False,
    )  # fmt: skip
    assert partial.tasks_lost == 0 and partial.efficiency is None
    assert partial.as_dict()["cpu_util"] is None  # NaN becomes null in JSON


def _compute(log: EventLog, sent: dict[str, Sent], **kw: object) -> object:
    args: dict[str, object] = {
        "log": log, "sent": sent, "window": (0.0, 10.0), "cpu": None, "samples": [],
        "cpus": 2.0, "cpu_workload": False, "final": True,
    }  # fmt: skip
    args.update(kw)
    return compute(**args)  # type: ignore[arg-type]


def test_unfinished_tasks_are_censored_at_their_age_not_dropped(tmp_path: Path) -> None:
    log = EventLog(tmp_path)
    # 100 measured tasks: 96 finish after 0.1 s, 4 never finish (2 of them never started).
    done = [task(f"d{i}", 1, i * 0.1, i * 0.1 + 0.1) for i in range(96)]
    write(tmp_path / "events-1.jsonl", *done)
    log.poll()
    sent = {f"d{i}": Sent(i * 0.1, measured=True, cpu_seconds=None) for i in range(96)}
    sent |= {f"u{i}": Sent(1.0 + i, measured=True, cpu_seconds=None) for i in range(4)}
    m = _compute(log, sent, until=20.0)
    assert isinstance(m, Metrics)
    assert m.tasks_censored == 4 and m.tasks_lost == 4
    # Dropping the four would give p99 = 0.1 s; counted at their ages (19, 18, 17, 16 s)...
    assert m.max == pytest.approx(19.0)
    assert m.p99 > 15.0  # ...the 4% of tasks that never finished are the tail.
    assert m.p50 == pytest.approx(0.1)
    # In progress (final=False), the same tasks count at their age so far, and are not lost.
    partial = _compute(log, sent, final=False, until=6.0)
    assert isinstance(partial, Metrics)
    assert partial.tasks_censored == 4 and partial.tasks_lost == 0
    assert partial.max == pytest.approx(5.0)  # u0 was due at 1.0: 5 s old at 6.0
    # A task not yet due when observation ended is not in the latencies at all.
    early = _compute(log, sent, final=False, until=2.5)
    assert isinstance(early, Metrics) and early.tasks_censored == 2


def test_overload_is_flagged_with_offered_and_served_rates(tmp_path: Path) -> None:
    log = EventLog(tmp_path)
    # 280 tasks due over 10 s (28/s); the workers finish one every 0.0806 s (12.4/s): a backlog.
    sent = {f"t{i}": Sent(i / 28, measured=True, cpu_seconds=None) for i in range(280)}
    ends = [(f"t{i}", 0.0806 * (i + 1)) for i in range(280)]
    write(tmp_path / "events-1.jsonl", *(task(t, 1, e - 0.0806, e) for t, e in ends))
    log.poll()
    m = _compute(log, sent, open_loop=True, until=30.0)
    assert isinstance(m, Metrics)
    assert m.offered_rate == pytest.approx(28.0)
    assert m.served_rate == pytest.approx(12.4, abs=0.2)
    assert m.overloaded
    assert m.overload_text().startswith("served 12.4 of 28/s offered; latency measures")
    d = m.as_dict()
    assert d["overloaded"] is True and d["offered_rate"] == pytest.approx(28.0)
    # The same schedule served in time is not overloaded.
    fast = tmp_path / "fast"
    fast.mkdir()
    log2 = EventLog(fast)
    write(fast / "events-1.jsonl", *(task(f"t{i}", 1, i / 28, i / 28 + 0.05) for i in range(280)))
    log2.poll()
    ok = _compute(log2, sent, open_loop=True)
    assert isinstance(ok, Metrics) and not ok.overloaded and ok.overload_text() == ""
    # A saturating run (closed loop) has no offered rate.
    closed = _compute(log2, sent)
    assert isinstance(closed, Metrics) and closed.offered_rate is None and not closed.overloaded


def test_harrell_davis_is_smoother_than_one_order_statistic() -> None:
    from tuner.bench.quantiles import harrell_davis

    xs = [float(i) for i in range(1, 101)]
    assert harrell_davis(xs, 0.5) == pytest.approx(50.5)  # symmetric: the middle
    assert 98.0 < harrell_davis(xs, 0.99) < 100.0
    assert harrell_davis([3.0], 0.99) == 3.0 and math.isnan(harrell_davis([], 0.5))
    # Moving one value near the top moves the nearest-rank p99 by the whole jump, HD by a part.
    ys = [*xs[:98], 1000.0, 1000.0]
    assert percentile(ys, 0.99) == 1000.0
    assert harrell_davis(xs, 0.99) < harrell_davis(ys, 0.99) < 1000.0
