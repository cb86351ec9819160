"""The Celery settings catalog (``tuner/data/settings.json``, made by ``tools/gen_catalog.py``).

Covers Celery 5.3 to 5.7: every setting of ``celery/app/defaults.py``, the documented settings
missing from it, and celery-tune's own; the old UPPERCASE names Celery maps to them; settings
removed since Celery 2.0; and a did-you-mean alias table.  Stdlib only: never imports Celery.

``looks_like_setting`` decides whether a module-level name of a config module was meant as a
Celery setting (so an unknown one is worth reporting).  In order:

1. known names are settings: new and old names, and aliases; removed names too, except those also
   common outside Celery (Django's ``ADMINS``, ``EMAIL_HOST``; a project's ``REDIS_HOST``);
2. names Celery's init scripts and environment use (``CELERYD_OPTS``, ``CELERY_APP``,
   ``CELERY_CONFIG_MODULE``) and private or mixed-case names are not;
3. lowercase: a Celery namespace prefix (``worker_``, ``task_``, ``broker_``, ``result_``,
   ``beat_``, or an old one such as ``celeryd_``) or an old name in lower case is enough; any
   other name must closely match a new-style setting (so the backend prefixes such as ``redis_``
   need one: helper variables like ``redis_url`` are common);
4. UPPERCASE: ``CELERYD_``, ``CELERYBEAT_``, ``CELERYMON_`` and ``BROKER_`` are enough;
   ``CELERY_`` needs a namespace prefix after it (``CELERY_TASK_...``) or a close match, so a
   project's ``CELERY_CONFIG`` is not a setting; ``WORKER_``-style names must closely match a
   new-style name, and any other name an old one (Django's ``DEBUG``, ``INSTALLED_APPS``,
   ``DATABASE_URL`` or ``REDIS_URL`` match nothing).
"""

from __future__ import annotations

import json
import os
from functools import lru_cache
from typing import Any

from tuner.records import dataclass

DATA = os.path.join(
    os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "data", "settings.json"
)

SUGGEST_CUTOFF = 0.84
"""difflib ratio for a did-you-mean suggestion."""
LOOKS_CUTOFF = 0.85
"""difflib ratio for an unprefixed name to count as a misspelt setting (few false positives)."""

NAMESPACES = frozenset({"worker", "task", "broker", "result", "beat"})
"""New-style prefixes strong enough on their own; the other catalog prefixes need a close match."""
OLD_NAMESPACES = frozenset({"CELERYD", "CELERYBEAT", "CELERYMON", "BROKER"})
"""Old-style prefixes strong enough on their own (``CELERY_`` is handled apart)."""


@dataclass(frozen=True)
class SettingInfo:
    """One valid setting (new-style name).  ``default`` is a repr string when
    ``default_is_repr`` (e.g. ``result_expires``'s timedelta); do not mutate dict defaults."""

    name: str
    default: Any
    type: str
    old_names: tuple[str, ...]
    added: str | None
    deprecated: str | None
    removed: str | None
    source: str
    default_is_repr: bool = False
    generated_old_names: tuple[str, ...] = ()
    alt: str | None = None
    note: str | None = None
    changes: tuple[str, ...] = ()


@dataclass(frozen=True)
class RemovedInfo:
    """A setting Celery no longer has (it ignores it silently)."""

    name: str
    removed_in: str
    replacement: str | None
    note: str
    evidence: tuple[str, ...]
    common_name: bool = False


class _Catalog:
    """The parsed JSON; ``SettingInfo`` records are built on first use."""

    __slots__ = (
        "aliases",
        "families",
        "info",
        "new_names",
        "not_settings",
        "old_names",
        "prefixes",
        "raw",
        "removed",
        "to_new",
    )

    def __init__(self, data: dict[str, Any]) -> None:
        self.raw: dict[str, dict[str, Any]] = data["settings"]
        self.info: dict[str, SettingInfo] = {}
        self.to_new: dict[str, str] = {
            old: name for name, raw in self.raw.items() for old in raw["old_names"]
        }
        self.removed: dict[str, dict[str, Any]] = data["removed"]
        self.aliases: dict[str, str] = {n: a["target"] for n, a in data["aliases"].items()}
        self.not_settings = frozenset(data["not_settings"])
        self.new_names = tuple(sorted(self.raw))
        self.old_names = tuple(sorted(self.to_new))
        self.prefixes = frozenset(n.split("_", 1)[0] for n in self.raw if "_" in n)
        self.families: dict[bool, dict[str, list[str]]] = {True: {}, False: {}}
        for upper, pool in ((True, self.old_names), (False, self.new_names)):
            for n in pool:
                self.families[upper].setdefault(n.split("_", 1)[0], []).append(n)

    def get(self, name: str) -> SettingInfo | None:
        info = self.info.get(name)
        if info is None:
            raw = self.raw.get(name)
            if raw is None:
                return None
            info = self.info[name] = _setting(name, raw)
        return info


def _setting(name: str, raw: dict[str, Any]) -> SettingInfo:
    form = raw["default_form"]
    default = raw["default"]
    if form == "tuple":
        default = tuple(default)
    return SettingInfo(
        name=name,
        default=default,
        type=raw["type"],
        old_names=tuple(raw["old_names"]),
        added=raw["added"],
        deprecated=raw["deprecated"],
        removed=raw["removed"],
        source=raw["source"],
        default_is_repr=form == "repr",
        generated_old_names=tuple(raw["generated_old_names"]),
        alt=raw["alt"],
        note=raw["note"],
        changes=tuple(raw["changes"]),
    )


def _read(path: str) -> str:
    with open(path, encoding="utf-8") as f:
        return f.read()


@lru_cache(maxsize=1)
def _load() -> _Catalog:
    try:
        return _Catalog(json.loads(_read(DATA)))
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise RuntimeError(f"celery-tune settings catalog unreadable ({DATA}): {exc}") from exc


# --- lookups ----------------------------------------------------------------------------------


def get(name: str) -> SettingInfo | None:
    """The setting with this new-style name."""
    return _load().get(name)


def names() -> tuple[str, ...]:
    """All new-style setting names, sorted."""
    return _load().new_names


def new_name(old: str) -> str | None:
    """The new-style name of an old UPPERCASE name Celery still maps."""
    return _load().to_new.get(old)


def old_name(new: str) -> str | None:
    """The old UPPERCASE name Celery maps to ``new`` (None for settings without one)."""
    raw = _load().raw.get(new)
    return str(raw["old_names"][0]) if raw is not None and raw["old_names"] else None


@lru_cache(maxsize=1)
def celery_keys() -> tuple[frozenset[str], dict[str, str], dict[str, str]]:
    """Celery's own ``SETTING_KEYS``, ``_TO_NEW_KEY`` and ``_TO_OLD_KEY``
    (``celery/app/defaults.py``): only settings of ``defaults.py``, which is what
    ``detect_settings`` compares."""
    cat = _load()
    new = frozenset(n for n, raw in cat.raw.items() if raw["source"] == "defaults.py")
    to_new = {old: n for n in new for old in cat.raw[n]["old_names"]}
    to_old = {n: cat.raw[n]["old_names"][0] for n in new if cat.raw[n]["old_names"]}
    return new, to_new, to_old


def is_new(name: str) -> bool:
    return name in _load().raw


def is_old(name: str) -> bool:
    return name in _load().to_new


def removed(name: str) -> RemovedInfo | None:
    """A setting that Celery 5 no longer has (exact old or new-style name)."""
    raw = _load().removed.get(name)
    if raw is None:
        return None
    return RemovedInfo(
        name=name,
        removed_in=raw["removed_in"],
        replacement=raw["replacement"],
        note=raw["note"],
        evidence=tuple(raw["evidence"]),
        common_name=raw["common_name"],
    )


def is_alias(name: str) -> bool:
    """Whether ``name`` is in the curated did-you-mean table (folklore, docs errata)."""
    cat = _load()
    return name.lower() in cat.aliases and name not in cat.raw and name not in cat.to_new


def prefixes() -> frozenset[str]:
    """First ``_``-separated parts of the new-style names (``worker``, ``redis``, ...)."""
    return _load().prefixes


# --- did you mean ----------------------------------------------------------------------------


@lru_cache(maxsize=4096)
def _close(name: str, upper: bool, cutoff: float) -> str | None:
    """difflib's best match among the old (``upper``) or new names."""
    import difflib  # only when a name is unknown (import cost)

    cat = _load()
    found = difflib.get_close_matches(name, cat.old_names if upper else cat.new_names, 1, cutoff)
    return found[0] if found else None


@lru_cache(maxsize=1024)
def _family(head: str, upper: bool) -> tuple[str, ...]:
    """The old (``upper``) or new names whose first part is ``head`` or close to it."""
    import difflib

    return tuple(
        n
        for family, members in _load().families[upper].items()
        if family == head or difflib.SequenceMatcher(None, head, family).ratio() >= 0.75
        for n in members
    )


@lru_cache(maxsize=4096)
def _near(name: str, upper: bool) -> bool:
    """A close match (``LOOKS_CUTOFF``) whose first part is close too, so that
    ``AWS_ACCESS_KEY_ID`` is not taken for ``S3_ACCESS_KEY_ID``.  Comparing first parts first
    also keeps this fast for the many unrelated names of a Django settings module."""
    import difflib

    pool = _family(name.split("_", 1)[0], upper)
    return bool(pool) and bool(difflib.get_close_matches(name, pool, 1, LOOKS_CUTOFF))


def _styled(new: str, upper: bool) -> str:
    """``new`` as written in an old-style config when ``upper`` (if Celery has an old name)."""
    return (old_name(new) or new) if upper else new


def suggest(name: str) -> str | None:
    """Did-you-mean for a name that is not a setting: aliases first, then close matches.

    An UPPERCASE name gets an old name (or a new one when the setting has no old name), any
    other name a new one.
    """
    cat = _load()
    if not name or name in cat.raw or name in cat.to_new:
        return None
    upper = name.isupper()
    key = name.lower()
    bare = key.removeprefix("celery_")
    for cand in (key, bare):
        if cand in cat.aliases:
            return _styled(cat.aliases[cand], upper)
    if upper:
        if bare in cat.raw:  # WORKER_CONCURRENCY, CELERY_WORKER_CONCURRENCY
            return _styled(bare, True)
        old = _close(name, True, SUGGEST_CUTOFF)
        if old is not None:
            return old
    elif name.upper() in cat.to_new:  # an old name in lower case
        return cat.to_new[name.upper()]
    for cand in dict.fromkeys((key, bare)):
        new = _close(cand, False, SUGGEST_CUTOFF)
        if new is not None:
            return _styled(new, upper)
    return None


# --- is it meant as a setting? -----------------------------------------------------------------


def looks_like_setting(name: str) -> bool:
    """Whether a module-level name of a config module was meant as a Celery setting.

    See the module docstring for the rules.
    """
    cat = _load()
    if name in cat.raw or name in cat.to_new:
        return True
    if not name or name.startswith("_") or name in cat.not_settings:
        return False
    gone = cat.removed.get(name)
    if gone is not None:
        return not gone["common_name"]
    lower, upper = name.islower(), name.isupper()
    if not (lower or upper):
        return False
    key = name.lower()
    if key in cat.aliases:
        return True
    head, _, tail = key.partition("_")
    if lower:
        if (head in NAMESPACES or head.upper() in OLD_NAMESPACES) and tail:
            return True  # worker_..., and old names written in lower case: celeryd_...
        if name.upper() in cat.to_new:
            return True
        return _near(key, False)
    if name.split("_", 1)[0] in OLD_NAMESPACES and tail:
        return True
    if head == "celery":
        rest_head, _, rest_tail = tail.partition("_")
        if (rest_head in NAMESPACES and rest_tail) or tail in cat.aliases:
            return True
        if _near(tail, False):
            return True
    elif head in NAMESPACES and _near(key, False):
        return True
    return _near(name, True)


# --- versions ----------------------------------------------------------------------------------


def version_note(name: str) -> str | None:
    """What the Celery version matters for this setting (new, old or removed name), if anything:
    ``"added in Celery 5.6"``, a scheduled deprecation, a removal."""
    info = get(name) or get(new_name(name) or "")
    if info is None:
        gone = removed(name)
        return f"removed in Celery {gone.removed_in}" if gone is not None else None
    parts: list[str] = []
    if info.source == "celery-tune":
        parts.append("a celery-tune setting; Celery itself ignores it")
    if info.added:
        parts.append(f"added in Celery {info.added}")
    if info.deprecated or info.removed:
        text = "scheduled for "
        if info.deprecated:
            text += f"deprecation in Celery {info.deprecated}"
        if info.removed:
            text += (" and " if info.deprecated else "") + f"removal in Celery {info.removed}"
        if info.alt:
            text += f"; use {info.alt}"
        parts.append(text)
    return "; ".join(parts) or None
