"""celery-tune: audit and tune Celery worker configuration for CPU-bound work."""

from __future__ import annotations

__version__ = "0.1.0"
