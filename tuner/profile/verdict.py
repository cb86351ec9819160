"""A verdict in plain words for one worker, from its processes' figures."""

from __future__ import annotations

from collections.abc import Sequence

from tuner.profile.analysis import ProcessProfile

WAIT_BOUND = 20.0  # % of samples with a task thread waiting for the GIL
# A task that holds the GIL keeps one of several threads waiting in nearly every sample; native
# code that releases it waits less (each return from C takes the GIL back), though on a loaded
# machine that still came to about half the samples (docs/profile.md).
HOLDS = 80.0
BUSY = 60.0
IDLE = 60.0
MAIN_BUSY = 50.0


def _mean(values: Sequence[float]) -> float:
    return sum(values) / len(values) if values else 0.0


def verdict(processes: Sequence[ProcessProfile]) -> str:
    """One or two sentences: what limits this worker, and what to do about it."""
    main = next((p for p in processes if p.role == "main"), None)
    kids = [p for p in processes if p.role == "child" and p.samples > 0]
    if not kids:
        if main is None or main.samples == 0:
            return "No samples: the worker exited or py-spy could not read it."
        return _single(main)
    n = len({p.pid for p in kids})
    gil = _mean([p.gil_pct for p in kids])
    idle = _mean([p.idle_pct for p in kids])
    native = _mean([p.native_pct for p in kids])
    wait = max(p.gil_wait_pct for p in kids)
    if wait >= WAIT_BOUND:
        text = (
            f"GIL-bound inside the children: task threads in one child waited for its GIL in "
            f"{wait:.0f}% of samples; run one task per child process."
        )
    elif gil >= BUSY:
        text = (
            f"CPU-bound in {n} processes, each with its own GIL (held {gil:.0f}% of samples per "
            f"child, no GIL wait): the GIL is not the limit; more throughput needs more CPUs "
            f"or cheaper tasks."
        )
    elif native >= BUSY:
        text = (
            f"Busy in native code in {n} processes ({native:.0f}% of samples): the GIL is not "
            f"the limit."
        )
    elif idle >= IDLE:
        text = (
            f"Mostly idle: the {n} children were blocked in {idle:.0f}% of samples (sleeping, "
            f"waiting for I/O or for work). Either the load is light or the tasks are I/O-bound; "
            f"for I/O-bound tasks a threads or gevent pool needs less memory than processes."
        )
    else:
        text = (
            f"Mixed: the {n} children held their GIL in {gil:.0f}% of samples and were idle in "
            f"{idle:.0f}%."
        )
    if main is not None and main.gil_pct >= MAIN_BUSY:
        text += (
            f" The main process held its GIL in {main.gil_pct:.0f}% of samples: receiving and "
            f"dispatching tasks may limit throughput (larger tasks, or more worker nodes)."
        )
    return text


def _single(p: ProcessProfile) -> str:
    threads = p.task_threads
    if WAIT_BOUND <= p.gil_wait_pct < HOLDS and threads >= 2 and p.native_pct >= BUSY:
        return (
            f"Native code, run side by side: task threads were in C in {p.native_pct:.0f}% of "
            f"samples and waited for the GIL in {p.gil_wait_pct:.0f}% (taking it back after each "
            f"C call; more so on a loaded machine). Threads can suit this work: compare with "
            f"prefork (celery-tune bench) for throughput and memory."
        )
    if p.gil_wait_pct >= WAIT_BOUND and threads >= 2:
        return (
            f"GIL-bound: {threads} threads share one GIL; a task thread waited for it in "
            f"{p.gil_wait_pct:.0f}% of samples. Use prefork for CPU-bound tasks (one process, "
            f"with its own GIL, per CPU)."
        )
    if p.gil_pct >= BUSY:
        return (
            f"CPU-bound in 1 process with one GIL (held {p.gil_pct:.0f}% of samples): at most "
            f"one CPU's worth of Python. Use prefork with one child per CPU for CPU-bound tasks."
        )
    if p.native_pct >= BUSY:
        return (
            f"Busy in native code ({p.native_pct:.0f}% of samples), little GIL wait: threads "
            f"can run in parallel here if that code releases the GIL."
        )
    if p.idle_pct >= IDLE:
        return (
            f"Mostly idle: all threads were blocked in {p.idle_pct:.0f}% of samples (sleeping, "
            f"waiting for I/O or for work). No GIL pressure; threads suit I/O-bound tasks."
        )
    return (
        f"Mixed: the GIL was held in {p.gil_pct:.0f}% of samples, a task thread waited for it in "
        f"{p.gil_wait_pct:.0f}%, all threads were idle in {p.idle_pct:.0f}%."
    )
