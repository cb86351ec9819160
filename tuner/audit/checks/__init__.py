"""The checks.  Each module holds the checks of one kind; ``ALL`` runs them in order."""

from __future__ import annotations

from collections.abc import Callable

from tuner.audit.checks import commands, deploy, names, values, workers
from tuner.audit.context import Context

Check = Callable[[Context], None]

ALL: tuple[Check, ...] = (
    names.check_names,
    names.check_mixed_styles,
    values.check_values,
    commands.check_commands,
    workers.check_workers,
    deploy.check_extra_config,
    deploy.check_transport_options,
    deploy.check_procfile,
    deploy.check_keda,
    deploy.check_grace,
)
