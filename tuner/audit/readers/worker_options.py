"""The options of ``celery`` (global), ``celery worker`` and ``celery multi``, as static data.

Written out by hand from Celery 5.7.0's click parameters (``celery.bin.celery.celery.params``,
``celery.bin.worker.worker.params``) and ``celery.bin.multi``, so the audit never imports Celery.

``defers`` lists values for which Celery ignores the option and keeps the configured setting:
``-c 0`` and ``--prefetch-multiplier 0`` (``value or app.conf...`` callbacks), an empty
``--statedb``/``--schedule``, and ``-P prefork`` when ``worker_pool`` is configured (the CLI
cannot tell an explicit ``prefork`` from its default).  Such an option overrides no setting.
"""

from __future__ import annotations

from typing import Literal

from tuner.records import dataclass

Kind = Literal["flag", "int", "float", "str", "choice", "list", "autoscale", "concurrency"]


@dataclass(frozen=True)
class OptionSpec:
    """One click option: its spellings, click name, value kind and the setting it overrides."""

    flags: tuple[str, ...]
    dest: str
    kind: Kind = "str"
    setting: str | None = None
    choices: tuple[str, ...] = ()
    defers: tuple[object, ...] = ()

    @property
    def takes_value(self) -> bool:
        return self.kind != "flag"


def _o(
    flags: str,
    dest: str,
    kind: Kind = "str",
    setting: str | None = None,
    choices: tuple[str, ...] = (),
    defers: tuple[object, ...] = (),
) -> OptionSpec:
    return OptionSpec(tuple(flags.split()), dest, kind, setting, choices, defers)


POOLS = ("prefork", "eventlet", "gevent", "solo", "processes", "threads", "custom")
LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL", "FATAL")

# Options of the ``celery`` group: valid only before the subcommand.
GLOBAL_OPTIONS: tuple[OptionSpec, ...] = (
    _o("-A --app", "app"),
    _o("-b --broker", "broker", setting="broker_url"),
    _o("--result-backend", "result_backend", setting="result_backend"),
    _o("--loader", "loader"),
    _o("--config", "config"),
    _o("--workdir", "workdir"),
    _o("-C --no-color", "no_color", "flag"),
    _o("-q --quiet", "quiet", "flag"),
    _o("--version", "version", "flag"),
    _o("--skip-checks", "skip_checks", "flag"),
    _o("--help", "help", "flag"),
)

WORKER_OPTIONS: tuple[OptionSpec, ...] = (
    _o("-n --hostname", "hostname"),
    _o("-D --detach", "detach", "flag"),
    _o("-S --statedb", "statedb", setting="worker_state_db", defers=("",)),
    _o("-l --loglevel", "loglevel", "choice", choices=LOG_LEVELS),
    _o("-O --optimization", "optimization", "choice", choices=("default", "fair")),
    _o(
        "--prefetch-multiplier",
        "prefetch_multiplier",
        "int",
        "worker_prefetch_multiplier",
        defers=(0,),
    ),
    _o("--disable-prefetch", "disable_prefetch", "flag", "worker_disable_prefetch"),
    _o("-c --concurrency", "concurrency", "concurrency", "worker_concurrency", defers=(0,)),
    _o("-P --pool", "pool", "choice", "worker_pool", POOLS, defers=("prefork",)),
    _o("-E --task-events --events", "task_events", "flag", "worker_send_task_events"),
    _o("--time-limit", "time_limit", "float", "task_time_limit"),
    _o("--soft-time-limit", "soft_time_limit", "float", "task_soft_time_limit"),
    _o("--max-tasks-per-child", "max_tasks_per_child", "int", "worker_max_tasks_per_child"),
    _o(
        "--pool-start-method",
        "pool_start_method",
        "choice",
        "worker_pool_start_method",
        ("fork", "spawn"),
    ),
    _o(
        "--max-memory-per-child",
        "max_memory_per_child",
        "int",
        "worker_max_memory_per_child",
    ),
    _o("--purge --discard", "purge", "flag"),
    _o("--queues -Q", "queues", "list"),
    _o("--exclude-queues -X", "exclude_queues", "list"),
    _o("--include -I", "include", "list"),
    _o("--without-gossip", "without_gossip", "flag"),
    _o("--without-mingle", "without_mingle", "flag"),
    _o("--without-heartbeat", "without_heartbeat", "flag"),
    # The interval of the worker's event heartbeats; no setting behind it.
    _o("--heartbeat-interval", "heartbeat_interval", "int"),
    _o("--autoscale", "autoscale", "autoscale"),
    _o("-B --beat", "beat", "flag"),
    _o(
        "-s --schedule-filename --schedule",
        "schedule_filename",
        setting="beat_schedule_filename",
        defers=("",),
    ),
    _o("--scheduler", "scheduler", setting="beat_scheduler"),
    _o("--logfile -f", "logfile"),
    _o("--pidfile", "pidfile"),
    _o("--uid", "uid"),
    _o("--gid", "gid"),
    _o("--umask", "umask"),
    _o("--executable", "executable"),
    _o("--help", "help", "flag"),
)

# ``celery multi``'s own options (celery.bin.multi): not passed on to the workers.
MULTI_OPTIONS: tuple[OptionSpec, ...] = (
    _o("--range-prefix", "range_prefix"),
    _o("--cmd", "cmd"),
    _o("--append", "append"),
    _o("--nosplash", "nosplash", "flag"),
    _o("--verbose", "verbose", "flag"),
)

# django-celery's ``manage.py`` options, which are not worth a finding on a legacy command.
DJANGO_OPTIONS: tuple[OptionSpec, ...] = (
    _o("--settings", "settings"),
    _o("--pythonpath", "pythonpath"),
    _o("--traceback", "traceback", "flag"),
    _o("-v --verbosity", "verbosity"),
    _o("--no-color", "no_color", "flag"),
    _o("--force-color", "force_color", "flag"),
)


def _index(table: tuple[OptionSpec, ...]) -> dict[str, OptionSpec]:
    return {flag: spec for spec in table for flag in spec.flags}


GLOBAL = _index(GLOBAL_OPTIONS)
WORKER = _index(WORKER_OPTIONS)
MULTI = _index(MULTI_OPTIONS)
DJANGO = _index(DJANGO_OPTIONS)


def is_short(flag: str) -> bool:
    """A one-letter option (``-c``), which click lets take an attached value (``-c4``)."""
    return len(flag) == 2 and flag[0] == "-" and flag[1] != "-"


# The other subcommands of ``celery`` (Celery 5.7.0, ``celery.bin.celery.celery.commands``), with
# the options of each that take a value (so that a value is not taken for an option).  None of
# them has an option spelt like a global one, so a global option after any of them is click's
# "No such option" (verified on 5.7.0: ``celery beat -A proj`` exits 2 with that message).
# ``multi`` is not here: it ignores unknown options and passes them on to the workers; nor are
# the groups (``amqp``, ``graph``, ``list``, ``logtool``, ``upgrade``), whose own subcommands
# have options of their own.
SUBCOMMAND_VALUE_OPTIONS: dict[str, frozenset[str]] = {
    name: frozenset(flags.split())
    for name, flags in {
        "beat": "--executable --gid --hostname --logfile --loglevel --max-interval --pidfile "
        "--schedule --scheduler --uid --umask -S -f -l -n -s",
        "call": "--args --countdown --eta --exchange --expires --kwargs --queue --routing-key "
        "--serializer -a -k",
        "control": "--destination --timeout -d -t",
        "events": "--camera --executable --freq --frequency --gid --logfile --loglevel --maxrate "
        "--pidfile --uid --umask -F -c -f -l -r",
        "inspect": "--destination --timeout -d -t",
        "migrate": "--limit --queues --tasks --timeout -Q -T -n -t",
        "purge": "--exclude-queues --queues -Q -X",
        "report": "",
        "result": "--task -t",
        "shell": "",
        "status": "--destination --timeout -d -t",
    }.items()
}
