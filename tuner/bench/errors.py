"""The one error type of the bench: a clear message, shown without a traceback (exit 2)."""

from __future__ import annotations


class BenchError(Exception):
    """Bad input or a run that cannot go on; ``str()`` is the message for the user."""


class Terminated(BaseException):
    """Raised in the bench process on SIGTERM so that ``finally`` blocks stop the workers."""
