"""What the readers produce: raw, position-carrying facts about one file.

Readers only *read*.  Interpreting names (namespaces, old vs new style, typos) and judging values
happens later, in :mod:`tuner.audit.settings` and the checks.
"""

from __future__ import annotations

from typing import Literal

from tuner.records import dataclass, field

ValueKind = Literal["known", "env", "unknown"]
Origin = Literal["module", "conf.update", "conf.attr", "conf.item", "Celery()", "cmdline"]
FileKind = Literal[
    "python", "procfile", "dockerfile", "compose", "kubernetes", "systemd", "shell", "text"
]


@dataclass(frozen=True)
class Span:
    """A region of a file.  All numbers are 1-based; ``end_column`` is exclusive."""

    line: int
    column: int
    end_line: int
    end_column: int


@dataclass(frozen=True)
class Value:
    """A statically resolved value.

    ``known``: ``value`` is what Celery would see.
    ``env``: read from the environment; ``value`` is the default used when the variable is unset.
    ``unknown``: cannot be resolved statically; ``value`` is None and must never be judged.
    """

    kind: ValueKind
    value: object = None
    text: str = ""
    env: str | None = None

    @property
    def judgeable(self) -> bool:
        return self.kind != "unknown"

    def describe(self) -> str:
        shown = repr(self.value) if isinstance(self.value, str) else str(self.value)
        if self.kind == "env":
            return f"{shown} (the default of ${self.env})"
        if self.kind == "unknown":
            return f"{self.text or '?'} (unknown statically)"
        return shown


UNKNOWN = Value("unknown")


@dataclass(frozen=True)
class Occurrence:
    """One place that assigns a setting-like name in Python source.

    ``key`` is the name exactly as written (``CELERYD_CONCURRENCY``, ``CELERY_WORKER_CONCURRENCY``,
    ``worker_num_processes``); ``key_span`` covers just that name (inside the quotes for a string
    key), so a fix can rename it in place.
    """

    key: str
    value: Value
    span: Span
    key_span: Span
    origin: Origin


@dataclass(frozen=True)
class Option:
    """One option on a ``celery worker`` command line.

    ``dest`` is the click parameter name (``concurrency``, ``prefetch_multiplier``, ``pool`` ...),
    or ``""`` when the option is not one ``celery worker`` knows.  ``setting`` is the Celery setting
    the option overrides, if any.  Flags carry ``Value("known", True)``.
    """

    flag: str
    dest: str
    value: Value
    span: Span
    setting: str | None = None
    # For an unknown value: the shell text it comes from when that differs from what is written
    # at the option (``-c $CONC`` with ``CONC=$(nproc)`` earlier: ``$(nproc)``).
    source_text: str = ""


@dataclass(frozen=True)
class CommandLine:
    """A ``celery ... worker`` / ``celery ... multi start`` invocation found in a file.

    ``misplaced`` holds global options written after the subcommand (``celery worker -A proj``),
    which Celery 5 rejects.  ``unknown`` holds options ``celery worker`` does not have.
    ``legacy`` names a removed command form (``celeryd``, ``manage.py celery worker``).
    ``cpu_limit`` is a CPU limit stated next to the command (Kubernetes ``resources.limits.cpu``),
    in CPUs.  ``context`` says where the command came from, for messages.
    """

    span: Span
    subcommand: str
    options: tuple[Option, ...] = ()
    app: str | None = None
    config_module: str | None = None
    misplaced: tuple[Option, ...] = ()
    unknown: tuple[Option, ...] = ()
    legacy: str | None = None
    cpu_limit: Value | None = None
    context: str = ""
    # Kubernetes: the object the container belongs to (``Deployment/worker``), and the
    # container's environment variables with their values (None: not known statically;
    # ``envFrom`` adds ``("*", None)``: any name may be set).
    owner: str = ""
    env: tuple[tuple[str, str | None], ...] = ()
    # ``celery multi ... -- name.key=value``: the words after ``--`` that Celery parses as
    # extra configuration, with their spans.
    extra_config: tuple[tuple[str, Span], ...] = ()

    def get(self, dest: str) -> Option | None:
        """The last occurrence of an option, as click would take it."""
        found = None
        for opt in self.options:
            if opt.dest == dest:
                found = opt
        return found


@dataclass(frozen=True)
class Trigger:
    """One ``spec.triggers`` item of a KEDA ScaledObject."""

    type: str
    span: Span
    metadata: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True)
class Manifest:
    """A Kubernetes object, as far as the deployment checks need it.

    For a workload (Deployment, StatefulSet, ...): ``grace`` is the pod's
    ``terminationGracePeriodSeconds`` (None when unset: Kubernetes' default is 30 s).
    For a KEDA ``ScaledObject``: ``target_kind``/``target`` are its ``scaleTargetRef``
    (``kind`` defaults to Deployment) and ``triggers`` its triggers.
    """

    kind: str
    name: str
    span: Span
    namespace: str | None = None
    grace: Value | None = None
    grace_span: Span | None = None
    target_kind: str | None = None
    target: str | None = None
    target_span: Span | None = None
    triggers: tuple[Trigger, ...] = ()


@dataclass(frozen=True)
class InputError:
    """Why a file could not be read or parsed, and where."""

    message: str
    line: int = 1
    column: int = 1


@dataclass(frozen=True)
class NamespaceHint:
    """A ``config_from_object(obj, namespace="CELERY")`` call seen in the source."""

    namespace: str
    target: str | None
    span: Span


@dataclass
class SourceFile:
    """Everything one reader learnt from one file."""

    path: str
    kind: FileKind
    lines: list[str] = field(default_factory=list)
    occurrences: list[Occurrence] = field(default_factory=list)
    commands: list[CommandLine] = field(default_factory=list)
    namespaces: list[NamespaceHint] = field(default_factory=list)
    config_refs: list[str] = field(default_factory=list)
    has_app: bool = False
    django_like: bool = False
    error: InputError | None = None
    # Not Python 3 source at all (a template, Python 2): reported as CT004, not audited.
    skipped: InputError | None = None
    # Procfile: every ``name:`` in order, with the span of the name.
    process_types: list[tuple[str, Span]] = field(default_factory=list)
    # Kubernetes: the objects of the file that the deployment checks read.
    manifests: list[Manifest] = field(default_factory=list)
