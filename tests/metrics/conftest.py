from __future__ import annotations

import sys
from pathlib import Path

import pytest

# celery_live (the live-worker harness) lives in tests/.
TESTS = str(Path(__file__).resolve().parent.parent)
if TESTS not in sys.path:
    sys.path.insert(0, TESTS)

from celery_live import redis_reachable  # type: ignore[import-not-found, unused-ignore]  # noqa: E402


@pytest.fixture
def live() -> None:
    if not redis_reachable():
        pytest.skip("Redis is not reachable on 127.0.0.1:6379")
