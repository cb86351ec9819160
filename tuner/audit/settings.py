"""Interpret a Python source's raw occurrences as Celery settings.

Which module-level names Celery reads depends on the file's role:

* a config module (``config_from_object('celeryconfig')``): every module attribute, in old
  UPPERCASE or new lowercase style;
* Django settings read with a namespace (``namespace='CELERY'``): only ``CELERY_`` + the new name in
  upper case; old names are not read at all;
* an app module (it calls ``Celery(...)``): its module-level variables are plain variables; only
  ``app.conf`` writes and ``Celery(broker=..., backend=...)`` are settings.
"""

from __future__ import annotations

from typing import Literal

from tuner.audit import catalog
from tuner.audit.model import Occurrence, SourceFile
from tuner.records import dataclass

Role = Literal["config", "django", "app"]
Status = Literal["valid", "unknown", "removed", "not-read"]
STRICT_ORIGINS = ("conf.update", "conf.attr", "conf.item", "Celery()")


@dataclass(frozen=True)
class Setting:
    """One occurrence read as a setting.

    ``key`` is the name as Celery looks it up (namespace stripped, lower-cased); ``name`` is the
    new-style setting when the key is a real one; ``style`` says how it was written.
    """

    occ: Occurrence
    key: str
    name: str | None
    style: Literal["new", "old"] | None
    status: Status
    namespace: str | None = None


def infer_namespace(source: SourceFile) -> str | None:
    """Django settings that write ``CELERY_<NEW_NAME>`` are read with namespace CELERY."""
    if not source.django_like:
        return None
    for occ in source.occurrences:
        if occ.origin != "module" or not occ.key.startswith("CELERY_"):
            continue
        rest = occ.key[len("CELERY_") :].lower()
        if catalog.get(rest) is not None and not catalog.is_old(occ.key):
            return "CELERY"
    return None


def role_of(source: SourceFile, namespace: str | None) -> Role:
    if namespace:
        return "django"
    if source.has_app and "__name__" not in source.config_refs:
        return "app"
    return "config"


def _classify(occ: Occurrence, key: str, namespace: str | None) -> Setting:
    if catalog.get(key) is not None:
        return Setting(occ, key, key, "new", "valid", namespace)
    if namespace is None:
        new = catalog.new_name(key)
        if new is not None:
            return Setting(occ, key, new, "old", "valid", namespace)
    if catalog.removed(key) is not None or (
        namespace is not None and catalog.removed(key.upper()) is not None
    ):
        return Setting(occ, key, None, None, "removed", namespace)
    return Setting(occ, key, None, None, "unknown", namespace)


def read_settings(source: SourceFile, namespace: str | None) -> list[Setting]:
    """The occurrences of ``source`` that Celery would read (or that look meant to be read)."""
    role = role_of(source, namespace)
    found: list[Setting] = []
    for occ in source.occurrences:
        if occ.origin in STRICT_ORIGINS:
            found.append(_classify(occ, occ.key, None))
            continue
        if role == "app":
            continue
        if role == "django" and namespace:
            prefix = namespace.rstrip("_") + "_"
            if occ.key.startswith(prefix):
                rest = occ.key[len(prefix) :]
                key = rest.lower()
                if (
                    catalog.get(key)
                    or catalog.looks_like_setting(key)
                    or catalog.is_old(rest)
                    or catalog.is_old(occ.key)
                ):
                    found.append(_classify(occ, key, namespace))
            elif catalog.is_old(occ.key):
                # BROKER_URL in namespaced Django settings: Celery never reads it.
                found.append(
                    Setting(occ, occ.key, catalog.new_name(occ.key), "old", "not-read", namespace)
                )
            continue
        if (
            catalog.is_new(occ.key)
            or catalog.is_old(occ.key)
            or catalog.looks_like_setting(occ.key)
        ):
            found.append(_classify(occ, occ.key, None))
    return found
