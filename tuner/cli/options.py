"""Option definitions shared by the measuring subcommands (bench, optimize, profile, ...).

One definition per option, so that ``-w/--workload``, ``--cpus`` (a float), ``--kind`` (a choice)
and the others read and check the same everywhere.  Each helper returns a click decorator::

    @click.command()
    @workload_option()
    @app_options()
    @cpus_option("CPUs available (default: affinity and cgroup quota).")
    def bench(workload: str, app: str | None, ...): ...

Only click is imported here (the audit's start-up path stays light).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any, Protocol, TypeVar

import click

from tuner.hints import did_you_mean

__all__ = [
    "KINDS",
    "PRESET_NAMES",
    "app_options",
    "broker_option",
    "cpus_option",
    "did_you_mean",
    "scale_option",
    "warmup_option",
    "workload_option",
]

F = TypeVar("F", bound=Callable[..., Any])


class Decorator(Protocol):
    """A click option decorator (keeps the decorated function's type)."""

    def __call__(self, f: F, /) -> F: ...


PRESET_NAMES = ("cpu", "cpu-heavy-tail", "io", "mixed", "leaky", "native", "native-mixed")
KINDS = ("cpu", "io", "mixed")


def _stack(*decorators: Any) -> Decorator:
    def apply(f: F) -> F:
        for decorator in reversed(decorators):
            f = decorator(f)
        return f

    return apply


def _positive(ctx: click.Context, param: click.Parameter, value: float | None) -> float | None:
    if value is not None and not (value > 0 and math.isfinite(value)):
        raise click.BadParameter(f"must be a positive number, got {value:g}")
    return value


def workload_option(default: str | None = "cpu", help: str | None = None) -> Decorator:
    """``-w/--workload``: a preset or a workload TOML file (checked by the command)."""
    text = help or f"A preset ({', '.join(PRESET_NAMES)}) or a workload TOML file."
    return click.option(
        "--workload", "-w", default=default, show_default=default is not None, help=text
    )


def app_options(
    kind_help: str = "What --task is bound by (efficiency is reported for cpu).",
) -> Decorator:
    """``--app``, ``--task``, ``--args-file`` and ``--kind``: the user's own task as workload."""
    return _stack(
        click.option("--app", help="Your app as module:app (with --task, or in a workload file)."),
        click.option("--task", help="Name of the task of --app to run."),
        click.option(
            "--args-file", type=click.Path(dir_okay=False), help="JSONL arguments for --task."
        ),
        click.option(
            "--kind", type=click.Choice(KINDS), default="cpu", show_default=True, help=kind_help
        ),
    )


def broker_option(
    help: str = "redis://... or amqp://... (default: embedded, no server).",
) -> Decorator:
    return click.option("--broker", help=help)


def cpus_option(
    help: str = "CPUs available (default: affinity and cgroup quota).",
) -> Decorator:
    """``--cpus``: a positive float (a cgroup quota can be 1.5 CPUs)."""
    return click.option("--cpus", type=float, callback=_positive, help=help)


def scale_option() -> Decorator:
    return click.option(
        "--scale",
        type=float,
        default=1.0,
        show_default=True,
        callback=_positive,
        help="Multiply preset task costs.",
    )


def warmup_option(default: float = 2.0) -> Decorator:
    return click.option(
        "--warmup", type=float, default=default, show_default=True, help="Seconds not counted."
    )
