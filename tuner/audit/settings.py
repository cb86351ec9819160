"""Interpret a Python source's raw occurrences as Celery settings.

Which module-level names Celery reads depends on the file's role:

* a config module (``config_from_object('celeryconfig')``): every module attribute, in old
  UPPERCASE or new lowercase style;
* Django settings read with a namespace (``namespace='CELERY'``): ``CELERY_`` + the new name in
  upper case, and also the bare new and old names (``BROKER_URL``, ``CELERY_TRACK_STARTED``),
  see :func:`_namespaced`; every other name is the project's own;
* an app module (it calls ``Celery(...)``): its module-level variables are plain variables; only
  ``app.conf`` writes and ``Celery(broker=..., backend=...)`` are settings.
"""

from __future__ import annotations

from typing import Literal

from tuner.audit import catalog
from tuner.audit.model import NamespaceHint, Occurrence, SourceFile
from tuner.records import dataclass

Role = Literal["config", "django", "app"]
Status = Literal["valid", "unknown", "removed"]
STRICT_ORIGINS = ("conf.update", "conf.attr", "conf.item", "Celery()")
CELERY_OLD_PREFIXES = ("CELERY_", "CELERYD_", "CELERYBEAT_", "CELERYMON_", "BROKER_")


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


DJANGO_HINTS = frozenset(
    {
        "ALLOWED_HOSTS",
        "ASGI_APPLICATION",
        "AUTH_PASSWORD_VALIDATORS",
        "AUTH_USER_MODEL",
        "CSRF_COOKIE_SECURE",
        "CSRF_TRUSTED_ORIGINS",
        "DATABASES",
        "DEFAULT_AUTO_FIELD",
        "INSTALLED_APPS",
        "LANGUAGE_CODE",
        "MIDDLEWARE",
        "ROOT_URLCONF",
        "SECURE_SSL_REDIRECT",
        "STATICFILES_STORAGE",
        "STATIC_ROOT",
        "STATIC_URL",
        "TEMPLATES",
        "USE_TZ",
        "WSGI_APPLICATION",
        "X_FRAME_OPTIONS",
    }
)
"""Names only Django settings have: a split settings file (``settings/production.py`` doing
``from .base import *``) often has none of the reader's core names but some of these.  Names a
Flask config has too (``SECRET_KEY``, ``SESSION_COOKIE_SECURE``) are no evidence."""


def django_content(source: SourceFile) -> bool:
    """Whether the text of ``source`` shows Django settings (``INSTALLED_APPS``,
    ``DJANGO_SETTINGS_MODULE``, ``ROOT_URLCONF`` ...); its file name alone does not."""
    if source.has_app:
        return False
    if source.django_like:
        return True
    return any(o.origin == "module" and o.key in DJANGO_HINTS for o in source.occurrences)


def _settings_path(source: SourceFile) -> bool:
    parts = source.path.replace("\\", "/").split("/")
    return parts[-1] == "settings.py" or "settings" in parts[:-1]


def _namespace_style(occ_key: str) -> bool:
    """``CELERY_`` + a new name that is not also an old name (``CELERY_WORKER_CONCURRENCY``)."""
    if not occ_key.startswith("CELERY_"):
        return False
    return catalog.get(occ_key[len("CELERY_") :].lower()) is not None and not catalog.is_old(
        occ_key
    )


def infer_namespace(
    source: SourceFile, hints: list[NamespaceHint], plain_refs: set[str]
) -> str | None:
    """The namespace Celery reads ``source`` with, when no ``config_from_object`` names it
    directly; only on evidence, never from a file name alone:

    * the run loads ``django.conf:settings`` with a namespace, and ``source`` is Django settings
      (its text, or a ``settings.py``/``settings/`` file of that project: split settings);
    * the run loads ``django.conf:settings`` without one (``plain_refs``): no namespace;
    * nothing in the run says: Django settings by their text (``INSTALLED_APPS``...) that write
      ``CELERY_<NEW_NAME>`` are read with namespace CELERY, as Celery's Django guide does;
    * another module writing mostly ``CELERY_<NEW_NAME>`` names, when the run has a namespaced
      ``config_from_object``.  A Flask config passed through ``conf.update(app.config)`` has no
      namespace: Celery ignores its ``CELERY_TASK_TIME_LIMIT`` (verified in the tests).
    """
    if source.has_app:
        return None
    keys = [o.key for o in source.occurrences if o.origin == "module"]
    styled = sum(1 for k in keys if _namespace_style(k))
    if not styled:
        return None
    django_hints = [h for h in hints if (h.target or "").startswith("django.conf")]
    content = django_content(source)
    if content or _settings_path(source):
        if django_hints:
            return django_hints[0].namespace
        if any(ref.startswith("django.conf") for ref in plain_refs):
            return None
        if content:
            return "CELERY"
    if source.path.replace("\\", "/").rsplit("/", 1)[-1] == "celeryconfig.py":
        return None
    namespaced = [h for h in hints if h.target]
    if not namespaced:
        return None
    plain = sum(1 for k in keys if catalog.is_new(k) or catalog.is_old(k))
    return namespaced[0].namespace if styled > plain else None


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


def _namespaced(occ: Occurrence, namespace: str) -> Setting | None:
    """A name of Django settings read with ``namespace``.  Celery looks a setting up as
    ``CELERY_`` + the new name in upper case, then the bare new name, then the bare old name
    (``ConfigurationView._to_keys`` in ``celery/utils/collections.py``, with the
    ``_new_key_to_old`` key function of ``celery/app/utils.py``): so ``CELERY_TRACK_STARTED``
    and even ``BROKER_URL`` are read (old names, which Celery warns about).  Celery also reads
    generated old names such as ``S3_BUCKET`` or ``REDIS_HOST``, but in Django settings those
    are the project's own (django-storages, its cache): only old names that are plainly
    Celery's (``CELERY``/``CELERYD``/``CELERYBEAT``/``BROKER_``) count.  Any other name without
    the prefix is the project's own."""
    prefix = namespace.rstrip("_") + "_"
    key = occ.key
    rest = key[len(prefix) :] if key.startswith(prefix) else None
    if rest is not None and rest.isupper() and catalog.get(rest.lower()) is not None:
        return Setting(occ, rest.lower(), rest.lower(), "new", "valid", namespace)
    if catalog.is_new(key):
        return Setting(occ, key, key, "new", "valid", namespace)
    if catalog.is_old(key) and key.startswith(CELERY_OLD_PREFIXES):
        return Setting(occ, key, catalog.new_name(key), "old", "valid", namespace)
    if rest is None:
        return None
    lowered = rest.lower()
    if (
        catalog.looks_like_setting(lowered)
        or catalog.is_old(rest)
        or catalog.removed(key) is not None
        or catalog.removed(rest) is not None
    ):
        if catalog.removed(key) is not None:
            return Setting(occ, key, None, None, "removed", namespace)
        if catalog.removed(rest) is not None:
            return Setting(occ, rest, None, None, "removed", namespace)
        return Setting(occ, lowered, None, None, "unknown", namespace)
    return None


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
            setting = _namespaced(occ, namespace)
            if setting is not None:
                found.append(setting)
            continue
        if (
            catalog.is_new(occ.key)
            or catalog.is_old(occ.key)
            or catalog.looks_like_setting(occ.key)
        ):
            found.append(_classify(occ, occ.key, None))
    return found


TEST_NAMES = (
    "settings_test.py",
    "test_settings.py",
    "testsettings.py",
    "test.py",
    "tests.py",
    "testing.py",
    "conftest.py",
)
TEST_DIRS = frozenset({"tests", "test", "testing"})
DEV_NAMES = (
    "dev.py",
    "development.py",
    "local.py",
    "settings_dev.py",
    "dev_settings.py",
    "local_settings.py",
    "settings_local.py",
)


def is_test_only(source: SourceFile, settings: list[Setting]) -> str | None:
    """Why ``source`` configures tests or development rather than a worker (None when it does
    not): a test settings file name, a file under ``tests/``, eager mode with a ``memory://``
    broker, or eager mode in a development settings file (``dev.py``, ``local.py``).  Eager mode
    runs every task in the caller, so such a module is never what a worker runs with."""
    parts = source.path.replace("\\", "/").split("/")
    name = parts[-1]
    if name in TEST_NAMES or name.endswith("_test.py") or name.startswith("test_"):
        return f"{name} is a test settings file"
    if TEST_DIRS.intersection(parts[:-1]):
        return "it is under a tests folder"
    values = {s.name: s.occ.value.value for s in settings if s.name and s.occ.value.judgeable}
    if values.get("task_always_eager") is not True:
        return None
    broker = values.get("broker_url")
    if isinstance(broker, str) and broker.startswith("memory://"):
        return "it runs tasks eagerly with a memory:// broker"
    if name in DEV_NAMES:
        return f"{name} is a development settings file that runs tasks eagerly"
    return None
