"""Shared helpers for the bench tests: brokers on loopback, fast load specs, leftover checks."""

from __future__ import annotations

import os
import time
from collections.abc import Iterable

import psutil
import pytest

from tuner.bench.broker import Broker, check_reachable
from tuner.bench.errors import BenchError
from tuner.bench.load import LoadSpec

REDIS_URL = os.environ.get("BENCH_TEST_REDIS", "redis://127.0.0.1:6379/15")
AMQP_URL = os.environ.get("BENCH_TEST_AMQP", "amqp://guest:guest@127.0.0.1:5672//")

# Short runs: the suite shares two cores with other work.
QUICK = LoadSpec(mode="saturate", warmup=0.3, duration=None, tasks=40)


def _reachable_or_skip(url: str) -> str:
    try:
        check_reachable(Broker(url), timeout=3.0)
    except BenchError as exc:
        pytest.skip(f"broker server not reachable: {exc}")
    return url


@pytest.fixture
def redis_url() -> str:
    return _reachable_or_skip(REDIS_URL)


@pytest.fixture
def amqp_url() -> str:
    return _reachable_or_skip(AMQP_URL)


def survivors(pgids: Iterable[int]) -> list[psutil.Process]:
    """Live (non-zombie) processes in any of the given process groups."""
    wanted = set(pgids)
    found = []
    for proc in psutil.process_iter(["status"]):
        try:
            if proc.info["status"] == psutil.STATUS_ZOMBIE:
                continue
            if os.getpgid(proc.pid) in wanted:
                found.append(proc)
        except (ProcessLookupError, psutil.Error):
            continue
    return found


def wait_gone(pgids: Iterable[int], within: float = 5.0) -> list[psutil.Process]:
    """Wait until no process of the groups is left; returns what survived ``within`` seconds."""
    pgids = list(pgids)
    deadline = time.monotonic() + within
    left = survivors(pgids)
    while left and time.monotonic() < deadline:
        time.sleep(0.1)
        left = survivors(pgids)
    return left
