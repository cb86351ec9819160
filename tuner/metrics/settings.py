"""The exporter's settings, read from the app's configuration (``app.conf``)."""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

DEFAULT_PORT = 9809  # celery-exporter uses 9808; both can run on one host
DEFAULT_ADDR = "0.0.0.0"


@dataclass(frozen=True)
class Settings:
    port: int = DEFAULT_PORT
    addr: str = DEFAULT_ADDR
    directory: str | None = None  # None: $PROMETHEUS_MULTIPROC_DIR, else a fresh temp dir
    gil: bool = True
    gil_interval_us: int = 1000
    update_interval: float = 1.0  # seconds between two GIL/CPU/RSS updates in a process

    @classmethod
    def from_conf(cls, conf: Any) -> Settings:
        """From ``app.conf`` (``metrics_port``...), else the environment
        (``CELERY_TUNE_METRICS_PORT``...), else the defaults."""

        def get(key: str, default: Any) -> Any:
            value = conf.get(key)
            if value is None:
                value = os.environ.get(f"CELERY_TUNE_{key.upper()}")
                if value is not None and isinstance(default, bool):
                    value = value.strip().lower() not in ("0", "false", "no", "off", "")
            return default if value is None else value

        return cls(
            port=int(get("metrics_port", DEFAULT_PORT)),
            addr=str(get("metrics_addr", DEFAULT_ADDR)),
            directory=get("metrics_multiproc_dir", None),
            gil=bool(get("metrics_gil", True)),
            gil_interval_us=int(get("metrics_gil_interval_us", 1000)),
            update_interval=float(get("metrics_update_interval", 1.0)),
        )
