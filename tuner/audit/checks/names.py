"""Setting names: unknown (typos, folklore), removed, old style, mixed styles, deprecated."""

from __future__ import annotations

import difflib
import re

from tuner.audit import catalog
from tuner.audit.context import Context
from tuner.audit.model import Occurrence, SourceFile, Span
from tuner.audit.settings import STRICT_ORIGINS, Setting, role_of
from tuner.finding import Edit

SURE_MATCH = 0.85


def _rename(s: Setting, new: str) -> Edit:
    span = s.occ.key_span
    return Edit(span.line, span.column, span.end_line, span.end_column, new)


def _written(s: Setting, name: str) -> str:
    """A new-style name as it must be written where ``s`` stands."""
    if s.namespace:
        return s.namespace.rstrip("_") + "_" + name.upper()
    return name


def _suggestion(s: Setting) -> tuple[str | None, bool]:
    """(what to write instead, whether renaming is unambiguous)."""
    if s.namespace:
        old_new = catalog.new_name(s.occ.key) or catalog.new_name(s.key.upper())
        if old_new:
            return _written(s, old_new), True
    guess = catalog.suggest(s.key)
    if guess is None:
        return None, False
    sure = catalog.is_alias(s.key) or (
        difflib.SequenceMatcher(None, s.key, guess).ratio() >= SURE_MATCH
    )
    return _written(s, guess), sure


# The Flask pattern's name: ``Celery(app.import_name, broker=app.config["CELERY_BROKER_URL"])``
# (Flask's Celery pattern before 2.3).  In a module read without a namespace Celery ignores it,
# but the app passes it itself; the run rarely shows which.
FLASK_PASSED = frozenset({"CELERY_BROKER_URL"})


def _read_back(ctx: Context, path: str, s: Setting) -> bool:
    """Whether the project reads ``s``'s name itself: the name on another line of a Python file
    of the run (``result_backend = RESULT_BACKEND_URL``, ``app.config["CELERY_BROKER_URL"]``),
    comments left out.  Such a name is the project's own variable, not a setting Celery misses."""
    word = re.compile(rf"(?<![\w.]){re.escape(s.occ.key)}\b")
    for source in ctx.sources:
        if source.kind != "python":
            continue
        for number, line in enumerate(source.lines, 1):
            if source.path == path and s.occ.span.line <= number <= s.occ.span.end_line:
                continue
            if word.search(line.split("#", 1)[0]):
                return True
    return False


def _project_own(ctx: Context, path: str, s: Setting) -> bool:
    if s.occ.origin in STRICT_ORIGINS:
        return False
    if s.namespace is None and s.occ.key in FLASK_PASSED:
        return True
    if s.occ.key.isupper() and catalog.suggest(s.key) is None:
        # CELERY_TASK_MAP in Django settings: an upper-case name in a project's settings that is
        # no near miss of any setting is the project's own (a lower-case task_max_retries in a
        # config module is written for Celery, and stays reported).
        return True
    return _read_back(ctx, path, s)


def _names_in(source: SourceFile, settings: list[Setting]) -> set[str]:
    return {s.occ.key for s in settings}


def check_names(ctx: Context) -> None:
    for source in ctx.sources:
        settings = ctx.settings.get(source.path, [])
        present = _names_in(source, settings)
        old_names: list[Setting] = []
        # Django settings: Celery reads old names there without a warning (apps/worker.py,
        # Worker.on_start skips it for 'django.conf:settings', #6366), and they may be the
        # project's own: CT501 stays quiet.
        django = bool(ctx.namespaces.get(source.path)) or (
            source.django_like and not source.has_app
        )
        loads_config = _loads_config(source)
        for s in settings:
            key = s.occ.key
            if s.status == "unknown" and _project_own(ctx, source.path, s):
                continue
            if s.status == "unknown":
                guess, sure = _suggestion(s)
                hint = f"; did you mean `{guess}`?" if guess else ""
                ctx.report(
                    "CT101",
                    source.path,
                    s.occ.key_span,
                    f"`{key}` is not a Celery setting; Celery ignores it silently{hint}",
                    setting=key,
                    value=s.occ.value,
                    edit=_rename(s, guess) if guess and sure and guess not in present else None,
                )
            elif s.status == "removed":
                gone = catalog.removed(s.key) or catalog.removed(s.key.upper())
                note = f" {gone.note}" if gone and gone.note else ""
                since = f" in Celery {gone.removed_in}" if gone else ""
                ctx.report(
                    "CT502",
                    source.path,
                    s.occ.key_span,
                    f"`{key}` was removed{since}; Celery 5 ignores it silently.{note}".rstrip(),
                    setting=key,
                    value=s.occ.value,
                )
            elif s.style == "old" and s.name and not django:
                if s.occ.origin in STRICT_ORIGINS and loads_config:
                    continue  # converted silently: Celery checks only the config module's names
                old_names.append(s)
            if s.status == "valid" and s.name:
                info = catalog.get(s.name)
                if info is not None and info.deprecated:
                    removal = f" and removal in {info.removed}" if info.removed else ""
                    ctx.report(
                        "CT503",
                        source.path,
                        s.occ.key_span,
                        f"`{s.name}` is scheduled for deprecation in Celery {info.deprecated}"
                        f"{removal}",
                        setting=s.name,
                        value=s.occ.value,
                    )
        _old_names(ctx, source, old_names, present)


def _old_names(ctx: Context, source: SourceFile, found: list[Setting], present: set[str]) -> None:
    """CT501: one finding per module listing every old name, fixed as a whole, as
    ``celery upgrade settings`` does.  No fix when a new name is already set (renaming would
    duplicate it)."""
    if not found:
        return
    found = sorted(found, key=lambda s: (s.occ.key_span.line, s.occ.key_span.column))
    targets = [(s, _written(s, s.name or "")) for s in found]
    fixable = all(t not in present for _, t in targets)
    fixable = fixable and len({t for _, t in targets}) == len(targets)
    edits = [_rename(s, t) for s, t in targets] if fixable else []
    listed = ", ".join(f"`{s.occ.key}` -> `{t}` (line {s.occ.span.line})" for s, t in targets)
    plural = "s" if len(found) > 1 else ""
    first, last = found[0].occ.key_span, found[-1].occ.key_span
    ctx.report(
        "CT501",
        source.path,
        Span(first.line, first.column, last.end_line, last.end_column),
        f"{len(found)} old setting name{plural} (Celery warns at worker start; removal is "
        f"scheduled for 6.0): {listed}",
        setting=found[0].name,
        edit=edits[0] if edits else None,
        extra_edits=tuple(edits[1:]),
    )


def _detect_settings_keys(source: SourceFile) -> list[Occurrence]:
    """The names ``detect_settings`` compares for this file: a config module's attributes; for
    an app module that loads no config module, what it writes before loading (``app.conf.update``,
    ``app.conf.x = ...``, ``Celery(...)`` keywords: the pre-configuration)."""
    role = role_of(source, None)
    if role == "config":
        return [o for o in source.occurrences if o.origin == "module"]
    if _loads_config(source) or any("namespace" in line for line in source.lines):
        return []  # Celery then checks the config module (or forces new names), not the app
    # Celery(broker=..., backend=...) keywords are ignore_keys of detect_settings.
    return [o for o in source.occurrences if o.origin in STRICT_ORIGINS and o.origin != "Celery()"]


def _loads_config(source: SourceFile) -> bool:
    """Whether an app module loads a config source (``config_from_object``/``_envvar``,
    ``Celery(config_source=...)``): Celery then checks and warns about that source's names only."""
    return any("config_from_" in line or "config_source" in line for line in source.lines)


def check_mixed_styles(ctx: Context) -> None:
    """CT103, exactly as ``celery.app.utils.detect_settings`` decides (Celery 5.7): the majority
    style wins and a tie goes to new; a key whose counterpart is also set is tolerated; a
    namespace forces new style and never raises."""
    new_keys, to_new, to_old = catalog.celery_keys()
    for source in ctx.sources:
        if source.kind != "python" or source.error is not None or ctx.namespaces.get(source.path):
            continue
        first: dict[str, Occurrence] = {}
        for occ in _detect_settings_keys(source):
            first.setdefault(occ.key, occ)
        have = set(first)
        in_new = have & new_keys
        in_old = have & set(to_new)
        if not in_new or not in_old:
            continue
        if len(in_old) > len(in_new):
            convert, left, style = to_old, in_new, "old"
        else:
            convert, left, style = to_new, in_old, "new"
        for key in sorted(left, key=lambda k: (first[k].span.line, first[k].span.column)):
            target = convert.get(key)
            if target is None or target in have:
                continue
            occ = first[key]
            ctx.report(
                "CT103",
                source.path,
                occ.key_span,
                f"`{key}` is {'new' if style == 'old' else 'old'}-style in a module whose "
                f"setting names are mostly {style}-style ({len(in_old)} old, {len(in_new)} new): "
                f"Celery raises ImproperlyConfigured at start; rename it to `{target}`",
                setting=to_new.get(key, key),
                value=occ.value,
            )
