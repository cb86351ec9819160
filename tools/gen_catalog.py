"""Generate ``tuner/data/settings.json``, the Celery settings catalog used by ``celery-tune audit``.

Sources (downloaded with ``pip download`` into a work directory, or reused with ``--work``):

* ``celery/app/defaults.py`` of the newest 5.3, 5.4, 5.5 and 5.6 wheels, and of the installed
  Celery 5.7: each is imported in its own subprocess (``NAMESPACES``, ``flatten``, ``_TO_OLD_KEY``,
  ``_TO_NEW_KEY``);
* ``defaults.py`` of Celery 4.4.7 and 3.1.26 (loaded with stub modules, in a subprocess): which
  settings existed before Celery 5, so which old names are mechanical and which names are gone;
* the Celery 5.7.0 sdist's ``docs/``: documented settings missing from ``defaults.py``, the
  removal history (``docs/internals/deprecation.rst``, ``docs/history/whatsnew-*.rst``), the old
  names the docs list but Celery never reads, and the daemon-script variables.

Every curated fact below carries evidence that the generator checks against those sources.

Usage: ``python tools/gen_catalog.py [--work DIR] [--out PATH] [--check]``.
"""

from __future__ import annotations

import argparse
import itertools
import json
import re
import subprocess
import sys
import tarfile
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "tuner" / "data" / "settings.json"
VERSIONS = ("5.3", "5.4", "5.5", "5.6", "5.7")
INSTALLED = "5.7"
REF4 = "4.4.7"
REF3 = "3.1.26.post2"
SDIST = "5.7.0"

Json = dict[str, Any]

# --- subprocess loaders -------------------------------------------------------------------------

_ENCODE = r'''
import json, math
def encode(value):
    """(JSON value, form): form is "value", "tuple" or "repr"."""
    if isinstance(value, tuple):
        inner = [encode(v) for v in value]
        if all(f == "value" for _, f in inner):
            return [v for v, _ in inner], "tuple"
        return repr(value), "repr"
    if isinstance(value, float) and not math.isfinite(value):
        return repr(value), "repr"
    try:
        json.dumps(value, allow_nan=False)
    except (TypeError, ValueError):
        return repr(value), "repr"
    return value, "value"
def type_name(t):
    return t.__name__ if isinstance(t, type) else str(t)
def dump(d, version, file=None):
    keys = {}
    for key, opt in d.flatten(d.NAMESPACES):
        default, form = encode(opt.default)
        keys[key] = {
            "default": default, "form": form, "type": type_name(opt.type),
            "old": sorted(o.format(key).upper() if "{" in o else o.upper()
                          for o in (getattr(opt, "old", None) or ())),
            "deprecate_by": getattr(opt, "deprecate_by", None),
            "remove_by": getattr(opt, "remove_by", None),
            "alt": getattr(opt, "alt", None),
        }
    print(json.dumps({"version": version, "file": file, "keys": keys,
                      "to_new": getattr(d, "_TO_NEW_KEY", {}),
                      "to_old": getattr(d, "_TO_OLD_KEY", {})}))
'''

# A Celery 5 package, imported for real (the unpacked wheel first on sys.path, else the installed).
_REAL = (
    _ENCODE
    + r"""
import sys
if sys.argv[1]:
    sys.path.insert(0, sys.argv[1])
import celery, celery.app.defaults as d
if sys.argv[1]:
    assert celery.__file__.startswith(sys.argv[1]), celery.__file__
dump(d, celery.__version__, celery.__file__)
"""
)

# Celery 3/4 defaults.py cannot import on Python 3.11 with kombu 5: load the file alone, with
# stubs for the few helpers it imports.  Only NAMESPACES/flatten are used.
_STUBBED = (
    _ENCODE
    + r"""
import sys, types, importlib.util
def mod(name, **kw):
    m = types.ModuleType(name); m.__dict__.update(kw); sys.modules[name] = m
ident = lambda x: x
mod("celery"); mod("celery.utils", strtobool=ident)
mod("celery.utils.functional", memoize=lambda *a, **k: ident)
mod("celery.utils.serialization", strtobool=ident)
mod("celery.five", items=lambda d: d.items(), keys=lambda d: d.keys(),
    python_2_unicode_compatible=ident, string_t=str)
spec = importlib.util.spec_from_file_location("legacy_defaults", sys.argv[1])
d = importlib.util.module_from_spec(spec); spec.loader.exec_module(d)
dump(d, sys.argv[2])
"""
)


def _run_json(script: str, *args: str) -> Json:
    proc = subprocess.run(
        [sys.executable, "-I", "-c", script, *args],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    if proc.returncode != 0:
        raise SystemExit(f"loader failed for {args}: {proc.stderr.strip()}")
    result: Json = json.loads(proc.stdout)
    return result


def _pip_download(spec: str, dest: Path, sdist: bool = False) -> Path:
    dest.mkdir(parents=True, exist_ok=True)
    found = sorted(dest.glob("celery-*"))
    if not found:
        cmd = [sys.executable, "-m", "pip", "download", "-q", "--no-deps", "-d", str(dest), spec]
        if sdist:
            cmd[5:5] = ["--no-binary", ":all:"]
        subprocess.run(cmd, check=True, timeout=600)
        found = sorted(dest.glob("celery-*"))
    if len(found) != 1:
        raise SystemExit(f"expected one celery archive in {dest}, found {found}")
    return found[0]


def _unpack_wheel(spec: str, dest: Path) -> Path:
    """Unpack the wheel's ``celery/`` package into ``dest/pkg``; returns that directory."""
    wheel = _pip_download(spec, dest / "dl")
    pkg = dest / "pkg"
    if not (pkg / "celery" / "app" / "defaults.py").exists():
        with zipfile.ZipFile(wheel) as zf:
            zf.extractall(pkg, [n for n in zf.namelist() if n.startswith("celery/")])
    return pkg


def _unpack_sdist(spec: str, dest: Path) -> Path:
    archive = _pip_download(spec, dest / "dl", sdist=True)
    root = dest / "src"
    if not root.exists():
        with tarfile.open(archive) as tf:
            tf.extractall(root, filter="data")
    (top,) = list(root.iterdir())
    return top


# --- curated facts (checked against the sources) -------------------------------------------------

# Settings Celery reads but that are missing from defaults.py (docs/userguide/configuration.rst).
# name -> (default, type, probe file (None: any file) and probe string showing Celery reads it).
DAEMON_PROBE = ("celery/bin/base.py", "daemon_setting")
DOCS_SETTINGS: dict[str, tuple[Any, str, tuple[str | None, str]]] = {
    "redis_backend_credential_provider": (None, "any", (None, "redis_backend_credential_provider")),
    "redis_backend_health_check_interval": (
        None,
        "int",
        (None, "redis_backend_health_check_interval"),
    ),
    "redis_client_name": (None, "string", (None, "redis_client_name")),
    "result_backend_thread_safe": (False, "bool", (None, "result_backend_thread_safe")),
    "override_backends": (None, "dict", (None, "override_backends")),
    "cassandra_secure_bundle_path": (None, "string", (None, "cassandra_secure_bundle_path")),
}
for _cmd in ("worker", "beat", "events"):
    for _opt, _type in (
        ("pidfile", "string"),
        ("logfile", "string"),
        ("uid", "any"),
        ("gid", "any"),
        ("umask", "any"),
        ("executable", "string"),
    ):
        DOCS_SETTINGS[f"{_cmd}_{_opt}"] = (None, _type, DAEMON_PROBE)

DOCS_NOTES = {
    "cassandra_secure_bundle_path": "read by the Cassandra backend; defaults.py has an unused "
    "cassandra_bundle_path instead",
    "worker_affinity_cpus": "celery-tune AffinityPool (tuner.pools.prefork:AffinityPool): CPUs "
    "to pin the pool children to, a list of ints or a string like '0-3,6'; Celery itself "
    "ignores it",
    "worker_affinity_physical_only": "celery-tune AffinityPool (tuner.pools.prefork:AffinityPool): "
    "use one logical CPU per physical core; Celery itself ignores it",
}

TUNE_SETTINGS: dict[str, tuple[Any, str]] = {
    "worker_affinity_cpus": (None, "any"),
    "worker_affinity_physical_only": (False, "bool"),
}

SETTING_NOTES = {
    "cassandra_bundle_path": "in defaults.py but never read; the Cassandra backend reads "
    "cassandra_secure_bundle_path",
}

DOC = "docs/"  # evidence paths starting with this are checked in the 5.7.0 sdist
D3 = f"celery {REF3} celery/app/defaults.py"
D4 = f"celery {REF4} celery/app/defaults.py"
R3 = f"celery {REF3} celery/backends/redis.py"


@dataclass(frozen=True)
class Removed:
    name: str
    removed_in: str
    replacement: str | None
    note: str
    evidence: tuple[tuple[str, str], ...]  # (file, text it contains)
    common: bool = False  # also a common non-Celery name (Django's ADMINS, a project's REDIS_HOST)


_EMAIL_NOTE = (
    "Celery 4.0 stopped sending task error e-mails; use the task_failure signal or an error "
    "tracker."
)
_WN40 = "docs/history/whatsnew-4.0.rst"
_WN31 = "docs/history/whatsnew-3.1.rst"
_DEPR = "docs/internals/deprecation.rst"
_EMAILS = ("tasks no longer sends error emails",)

REMOVED: list[Removed] = [
    Removed(
        "CELERY_SEND_TASK_ERROR_EMAILS",
        "4.0",
        None,
        _EMAIL_NOTE,
        ((_WN40, _EMAILS[0]), (D3, "CELERY_SEND_TASK_ERROR_EMAILS")),
    ),
    *(
        Removed(n, "4.0", None, _EMAIL_NOTE, ((_WN40, _EMAILS[0]), (D3, n)), common=True)
        for n in (
            "ADMINS",
            "SERVER_EMAIL",
            "EMAIL_HOST",
            "EMAIL_HOST_USER",
            "EMAIL_HOST_PASSWORD",
            "EMAIL_PORT",
            "EMAIL_TIMEOUT",
            "EMAIL_USE_SSL",
            "EMAIL_USE_TLS",
        )
    ),
    Removed(
        "CELERY_CHORD_PROPAGATES",
        "4.0",
        None,
        "Chord errors always propagate since Celery 4.0.",
        ((_WN40, "``CELERY_CHORD_PROPAGATES``"), (D3, "CELERY_CHORD_PROPAGATES")),
    ),
    Removed(
        "CELERYD_LOG_LEVEL",
        "4.0",
        None,
        "Use `celery worker --loglevel`.",
        ((_WN40, "``CELERYD_LOG_LEVEL``"), (D3, "CELERYD_LOG_LEVEL")),
    ),
    Removed(
        "CELERYD_LOG_FILE",
        "4.0",
        "worker_logfile",
        "Use `celery worker --logfile` (or worker_logfile, Celery 5.4+).",
        ((_WN40, "``CELERYD_LOG_FILE``"), (D3, "CELERYD_LOG_FILE")),
    ),
    Removed(
        "CELERYBEAT_LOG_LEVEL",
        "4.0",
        None,
        "Use `celery beat --loglevel`.",
        ((_WN40, "``CELERYBEAT_LOG_LEVEL``"), (D3, "CELERYBEAT_LOG_LEVEL")),
    ),
    Removed(
        "CELERYBEAT_LOG_FILE",
        "4.0",
        "beat_logfile",
        "Use `celery beat --logfile` (or beat_logfile, Celery 5.4+).",
        ((_WN40, "``CELERYBEAT_LOG_FILE``"), (D3, "CELERYBEAT_LOG_FILE")),
    ),
    *(
        Removed(
            n,
            "4.0",
            None,
            "celerymon is gone; use Flower.",
            ((_WN40, f"``{n}``"), (D3, n)),
        )
        for n in ("CELERYMON_LOG_LEVEL", "CELERYMON_LOG_FILE", "CELERYMON_LOG_FORMAT")
    ),
    Removed(
        "CELERYD_FORCE_EXECV",
        "4.0",
        None,
        "force_execv is no longer supported; Celery 4.0+ ignores it.",
        ((_WN40, "``CELERYD_FORCE_EXECV`` setting"), (D3, "CELERYD_FORCE_EXECV")),
    ),
    Removed(
        "CELERYD_AUTORELOADER",
        "4.0",
        None,
        "The autoreload feature was removed in Celery 4.0.",
        ((_WN40, "The ``--autoreload`` feature has been removed"), (D3, "CELERYD_AUTORELOADER")),
    ),
    Removed(
        "CELERY_ENABLE_UTC",
        "4.0",
        "enable_utc",
        "Celery 4+ reads only enable_utc (old style: ENABLE_UTC); configuration.rst wrongly "
        "lists CELERY_ENABLE_UTC as its old name.",
        (
            (D3, "CELERY_ENABLE_UTC"),
            (D4, "enable_utc"),
            ("docs/userguide/configuration.rst", "``CELERY_ENABLE_UTC``"),
        ),
    ),
    Removed(
        "CASSANDRA_COLUMN_FAMILY",
        "4.0",
        "cassandra_table",
        "Celery 4.0 replaced the Cassandra backend; the table is cassandra_table (old style: "
        "CASSANDRA_TABLE).",
        ((_WN40, "Brand new Cassandra result backend"), (D3, "CASSANDRA_COLUMN_FAMILY")),
    ),
    Removed(
        "CASSANDRA_DETAILED_MODE",
        "4.0",
        None,
        "Celery 4.0 replaced the Cassandra backend; detailed mode is gone.",
        ((_WN40, "Brand new Cassandra result backend"), (D3, "CASSANDRA_DETAILED_MODE")),
    ),
    *(
        Removed(n, "4.0", None, "No replacement setting.", ((D3, n),))
        for n in (
            "CELERY_BROADCAST_QUEUE",
            "CELERY_BROADCAST_EXCHANGE",
            "CELERY_BROADCAST_EXCHANGE_TYPE",
        )
    ),
    *(
        Removed(
            n,
            "5.0",
            None,
            "Queue mirroring is a RabbitMQ policy now; or use quorum queues "
            "(task_default_queue_type).",
            (("docs/history/changelog-5.0.rst", "Remove `ha_policy` from queue definition"),)
            + (((D3, n),) if n.isupper() else ((D4, n),)),
        )
        for n in ("CELERY_QUEUE_HA_POLICY", "task_queue_ha_policy")
    ),
    *(
        Removed(
            n,
            "5.0",
            None,
            "The Riak result backend was removed in Celery 5.0.",
            (("docs/history/whatsnew-5.0.rst", "The Riak result backend has been removed"),),
        )
        for n in ("CELERY_RIAK_BACKEND_SETTINGS", "riak_backend_settings")
    ),
    Removed(
        "BROKER_INSIST",
        "3.1",
        None,
        "No longer supported since Celery 3.1.",
        ((_WN31, "The ``BROKER_INSIST`` setting"),),
    ),
    Removed(
        "CELERY_AMQP_TASK_RESULT_CONNECTION_MAX",
        "3.1",
        "broker_pool_limit",
        "Use broker_pool_limit.",
        ((_WN31, "``CELERY_AMQP_TASK_RESULT_CONNECTION_MAX`` setting is no longer"),),
    ),
    Removed(
        "CELERY_TASK_ERROR_WHITELIST",
        "3.1",
        None,
        "Error e-mails themselves were removed in Celery 4.0.",
        ((_WN31, "The ``CELERY_TASK_ERROR_WHITELIST`` setting is no longer supported"),),
    ),
    Removed(
        "CELERY_AMQP_TASK_RESULT_EXPIRES",
        "3.1",
        "result_expires",
        "Use result_expires.",
        ((_DEPR, "``CELERY_AMQP_TASK_RESULT_EXPIRES``    :setting:`result_expires`"),),
    ),
    *(
        Removed(n, "2.0", repl, f"Use {repl}.", ((_DEPR, f"`{n}`"),))
        for n, repl in (
            ("CELERY_AMQP_CONSUMER_QUEUES", "task_queues"),
            ("CELERY_AMQP_EXCHANGE", "task_default_exchange"),
            ("CELERY_AMQP_EXCHANGE_TYPE", "task_default_exchange_type"),
            ("CELERY_AMQP_CONSUMER_ROUTING_KEY", "task_queues"),
            ("CELERY_AMQP_PUBLISHER_ROUTING_KEY", "task_default_routing_key"),
        )
    ),
    *(
        Removed(
            n,
            "4.0",
            "result_backend",
            "Put it in the result_backend URL.",
            ((_DEPR, f"``{n}``"), (R3, "'REDIS_{0}'")),
            common=True,
        )
        for n in ("REDIS_HOST", "REDIS_PORT", "REDIS_DB", "REDIS_PASSWORD")
    ),
    Removed(
        "REDIS_MAX_CONNECTIONS",
        "4.0",
        "redis_max_connections",
        "Use redis_max_connections (old style: CELERY_REDIS_MAX_CONNECTIONS).",
        ((R3, "'REDIS_{0}'"),),
        common=True,
    ),
]

# Curated folklore: names people write that are not textual typos of the setting they mean.
# Keys are matched case-insensitively; an UPPERCASE name gets the target's old name.
FOLKLORE: dict[str, str] = {
    "worker_num_processes": "worker_concurrency",
    "worker_processes": "worker_concurrency",
    "worker_num_workers": "worker_concurrency",
    "worker_count": "worker_concurrency",
    "celeryd_processes": "worker_concurrency",
    "celeryd_num_processes": "worker_concurrency",
    "celery_worker_processes": "worker_concurrency",
    "celery_concurrency": "worker_concurrency",
    "concurrency": "worker_concurrency",
    "worker_prefetch": "worker_prefetch_multiplier",
    "worker_prefetch_count": "worker_prefetch_multiplier",
    "prefetch_multiplier": "worker_prefetch_multiplier",
    "celery_prefetch_multiplier": "worker_prefetch_multiplier",
    "task_soft_limit": "task_soft_time_limit",
    "task_soft_timeout": "task_soft_time_limit",
    "task_hard_time_limit": "task_time_limit",
    "task_hard_limit": "task_time_limit",
    "task_timeout": "task_time_limit",
    "worker_max_tasks": "worker_max_tasks_per_child",
    "max_tasks_per_child": "worker_max_tasks_per_child",
    "celery_max_tasks_per_child": "worker_max_tasks_per_child",
    "worker_max_memory": "worker_max_memory_per_child",
    "max_memory_per_child": "worker_max_memory_per_child",
    "broker_uri": "broker_url",
    "broker": "broker_url",
    "backend": "result_backend",
    "result_backend_url": "result_backend",
    "acks_late": "task_acks_late",
    "worker_acks_late": "task_acks_late",
    "send_events": "worker_send_task_events",
    "result_ttl": "result_expires",
    "task_result_expires": "result_expires",
    "broker_visibility_timeout": "broker_transport_options",
    "visibility_timeout": "broker_transport_options",
    "broker_heartbeat_interval": "broker_heartbeat",
    "always_eager": "task_always_eager",
    "database_db_names": "database_table_names",
}

# The docs' old-name tables point at a few settings that do not exist.
DOC_TARGET_FIX = {"database_db_names": "database_table_names"}
DOC_OLD_TABLES = ("docs/userguide/configuration.rst", "docs/history/whatsnew-4.0.rst")
DOC_ROW = re.compile(r"^``([A-Z0-9_]+)``\s+(?:Use )?:setting:`(\w+)`", re.MULTILINE)
DEPR_ROW = re.compile(r"^``?([A-Z0-9_]+)``?\s+:setting:`(\w+)`", re.MULTILINE)
DAEMON_VAR = re.compile(r"^\* ``([A-Z][A-Z0-9_]+)``", re.MULTILINE)
ENV_READ = re.compile(r"""(?:environ(?:\.get)?[\[(]|getenv\()\s*['"]([A-Z][A-Z0-9_]+)['"]""")


# --- build ----------------------------------------------------------------------------------------


def _evidence_ok(ev: tuple[str, str], docs: Path, d3: Json, d4: Json, src3: Path) -> bool:
    where, text = ev
    if where.startswith(DOC):
        return text.lower() in (docs.parent / where).read_text(encoding="utf-8").lower()
    if where == D3:
        return text in d3["keys"]
    if where == D4:
        return text in d4["keys"]
    if where == R3:
        return text in (src3 / "celery" / "backends" / "redis.py").read_text(encoding="utf-8")
    raise AssertionError(where)


def _probe(pkg: Path, probe: tuple[str | None, str]) -> bool:
    rel, needle = probe
    if rel is not None:
        path = pkg / rel
        return path.exists() and needle in path.read_text(encoding="utf-8")
    defaults = pkg / "celery" / "app" / "defaults.py"
    return any(
        needle in p.read_text(encoding="utf-8")
        for p in (pkg / "celery").rglob("*.py")
        if p != defaults
    )


def build(work: Path) -> Json:
    dumps: dict[str, Json] = {}
    pkgs: dict[str, Path] = {}
    for v in VERSIONS:
        if v == INSTALLED:
            dumps[v] = _run_json(_REAL, "")
            pkgs[v] = Path(dumps[v]["file"]).resolve().parent.parent
        else:
            pkgs[v] = _unpack_wheel(f"celery=={v}.*", work / v)
            dumps[v] = _run_json(_REAL, str(pkgs[v]))
        if not dumps[v]["version"].startswith(v + "."):
            raise SystemExit(f"expected Celery {v}.x, got {dumps[v]['version']}")
    src4 = _unpack_wheel(f"celery=={REF4}", work / "4")
    src3 = _unpack_wheel(f"celery=={REF3}", work / "3")
    d4 = _run_json(_STUBBED, str(src4 / "celery" / "app" / "defaults.py"), REF4)
    d3 = _run_json(_STUBBED, str(src3 / "celery" / "app" / "defaults.py"), REF3)
    sdist = _unpack_sdist(f"celery=={SDIST}", work / "sdist")
    docs = sdist / "docs"
    latest = dumps[INSTALLED]

    settings: dict[str, Json] = {}
    all_keys = sorted(set().union(*(d["keys"] for d in dumps.values())))
    for key in all_keys:
        present = [v for v in VERSIONS if key in dumps[v]["keys"]]
        if present[-1] != INSTALLED:
            raise SystemExit(f"{key} is gone from Celery {INSTALLED}: handle it")
        opt = latest["keys"][key]
        old = opt["old"] or [key.upper()]
        if sorted(k for k, n in latest["to_new"].items() if n == key) != old:
            raise SystemExit(f"{key}: old names disagree with _TO_NEW_KEY")
        changes = []
        for a, b in itertools.pairwise(present):
            for f in ("default", "type", "deprecate_by"):
                if dumps[a]["keys"][key][f] != dumps[b]["keys"][key][f]:
                    before, after = dumps[a]["keys"][key][f], dumps[b]["keys"][key][f]
                    changes.append(f"{b}: {f} {before!r} -> {after!r}")
        settings[key] = {
            "default": opt["default"],
            "default_form": opt["form"],
            "type": opt["type"],
            "old_names": old,
            "generated_old_names": old if key not in d4["keys"] else [],
            "added": present[0] if present[0] != VERSIONS[0] else None,
            "deprecated": opt["deprecate_by"],
            "removed": opt["remove_by"],
            "alt": opt["alt"],
            "source": "defaults.py",
            "note": SETTING_NOTES.get(key),
            "changes": changes,
        }

    documented = set(
        re.findall(
            r"^\.\. setting:: (\S+)",
            (docs / "userguide" / "configuration.rst").read_text(encoding="utf-8"),
            re.MULTILINE,
        )
    )
    missing = documented - set(settings)
    if missing != set(DOCS_SETTINGS):
        raise SystemExit(
            f"documented-but-missing settings changed: new {sorted(missing - set(DOCS_SETTINGS))},"
            f" gone {sorted(set(DOCS_SETTINGS) - missing)}"
        )
    for name, (default, type_, probe) in DOCS_SETTINGS.items():
        present = [v for v in VERSIONS if _probe(pkgs[v], probe)]
        if not present or present[-1] != INSTALLED:
            raise SystemExit(f"{name}: Celery {INSTALLED} does not read it ({probe})")
        settings[name] = {
            "default": default,
            "default_form": "value",
            "type": type_,
            "old_names": [],
            "generated_old_names": [],
            "added": present[0] if present[0] != VERSIONS[0] else None,
            "deprecated": None,
            "removed": None,
            "alt": None,
            "source": "docs",
            "note": DOCS_NOTES.get(name),
            "changes": [],
        }
    for name, (default, type_) in TUNE_SETTINGS.items():
        settings[name] = {
            "default": default,
            "default_form": "value",
            "type": type_,
            "old_names": [],
            "generated_old_names": [],
            "added": None,
            "deprecated": None,
            "removed": None,
            "alt": None,
            "source": "celery-tune",
            "note": DOCS_NOTES.get(name),
            "changes": [],
        }

    old_names = {o for s in settings.values() for o in s["old_names"]}
    valid = set(settings) | old_names

    # deprecation.rst schedules some still-read settings for removal: note it on the setting.
    depr_text = (docs / "internals" / "deprecation.rst").read_text(encoding="utf-8")
    removed_names = {r.name for r in REMOVED}
    for old, repl in DEPR_ROW.findall(depr_text):
        new = latest["to_new"].get(old)
        if new is not None:
            settings[new]["note"] = (
                f"docs/internals/deprecation.rst schedules {old} for removal (use {repl}); "
                f"Celery {INSTALLED} still reads it"
            )
        elif old not in removed_names:
            raise SystemExit(f"deprecation.rst lists {old}: add it to REMOVED")

    removed: dict[str, Json] = {}
    for r in REMOVED:
        if r.name in valid:
            raise SystemExit(f"{r.name} is valid in Celery {INSTALLED}, not removed")
        if r.replacement is not None and r.replacement not in settings:
            raise SystemExit(f"{r.name}: replacement {r.replacement} is not a setting")
        for ev in r.evidence:
            if not _evidence_ok(ev, docs, d3, d4, src3):
                raise SystemExit(f"{r.name}: evidence not found: {ev}")
        removed[r.name] = {
            "removed_in": r.removed_in,
            "replacement": r.replacement,
            "note": r.note,
            "evidence": [f"{w}: {t!r}" for w, t in r.evidence],
            "common_name": r.common,
        }
    gone = (set(d3["keys"]) | set(d4["keys"]) | set(d4["to_new"])) - valid
    if gone - set(removed):
        raise SystemExit(
            f"settings of Celery 3.1/4.4 missing from REMOVED: {sorted(gone - set(removed))}"
        )

    aliases: dict[str, Json] = {}
    for rel in DOC_OLD_TABLES:
        text = (docs.parent / rel).read_text(encoding="utf-8")
        for name, target in DOC_ROW.findall(text):
            target = DOC_TARGET_FIX.get(target, target)
            if name in valid or name in removed or name.lower() in aliases:
                continue
            if target not in settings:
                raise SystemExit(f"{rel}: {name} -> {target}: not a setting")
            aliases[name.lower()] = {"target": target, "why": f"listed in {rel}; never read"}
    for name, target in FOLKLORE.items():
        aliases.setdefault(name, {"target": target, "why": "folklore"})
    for name, alias in aliases.items():
        if name in valid or name.upper() in valid or name.upper() in removed:
            raise SystemExit(f"alias {name} is a real or removed setting")
        if alias["target"] not in settings:
            raise SystemExit(f"alias {name}: target {alias['target']} is not a setting")

    # Names of daemon-script and environment variables: Celery never reads them as settings.
    not_settings = set(
        DAEMON_VAR.findall((docs / "userguide" / "daemonizing.rst").read_text(encoding="utf-8"))
    )
    for p in (pkgs[INSTALLED] / "celery").rglob("*.py"):
        not_settings.update(
            n for n in ENV_READ.findall(p.read_text(encoding="utf-8")) if n.startswith("C")
        )
    not_settings = {
        n
        for n in not_settings
        if n not in valid
        and n not in removed
        and n.lower() not in aliases
        and n.removeprefix("CELERY_").lower() not in settings  # Django namespace style
    }

    return {
        "about": "Celery settings catalog for celery-tune audit. Generated by "
        "tools/gen_catalog.py; do not edit by hand.",
        "celery_versions": {v: dumps[v]["version"] for v in VERSIONS},
        "reference_versions": {"3": REF3, "4": REF4, "docs": SDIST},
        "settings": settings,
        "removed": removed,
        "aliases": aliases,
        "not_settings": sorted(not_settings),
    }


def render(data: Json) -> str:
    return json.dumps(data, indent=1, sort_keys=True, ensure_ascii=False) + "\n"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    ap.add_argument("--work", type=Path, help="download/unpack directory (kept; reused)")
    ap.add_argument("--out", type=Path, default=OUT)
    ap.add_argument("--check", action="store_true", help="exit 1 if --out is not up to date")
    args = ap.parse_args(argv)
    if args.work is not None:
        data = build(args.work)
    else:
        with tempfile.TemporaryDirectory(prefix="gen_catalog_") as tmp:
            data = build(Path(tmp))
    text = render(data)
    if args.check:
        current = args.out.read_text(encoding="utf-8") if args.out.exists() else ""
        if current != text:
            print(f"{args.out} is out of date: run tools/gen_catalog.py", file=sys.stderr)
            return 1
        return 0
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(text, encoding="utf-8")
    counts = {k: len(data[k]) for k in ("settings", "removed", "aliases", "not_settings")}
    print(f"wrote {args.out}: {counts}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
