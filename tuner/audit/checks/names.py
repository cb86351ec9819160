"""Setting names: unknown (typos, folklore), removed, old style, mixed styles, deprecated."""

from __future__ import annotations

import difflib

from tuner.audit import catalog
from tuner.audit.context import Context
from tuner.audit.model import SourceFile
from tuner.audit.settings import Setting
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


def _names_in(source: SourceFile, settings: list[Setting]) -> set[str]:
    return {s.occ.key for s in settings}


def check_names(ctx: Context) -> None:
    for source in ctx.sources:
        settings = ctx.settings.get(source.path, [])
        present = _names_in(source, settings)
        for s in settings:
            key = s.occ.key
            if s.status == "not-read":
                target = _written(s, s.name or key.lower())
                ctx.report(
                    "CT101",
                    source.path,
                    s.occ.key_span,
                    f"`{key}` is never read: with namespace {s.namespace!r}, Celery reads "
                    f"`{target}`",
                    setting=key,
                    value=s.occ.value,
                    edit=None if target in present else _rename(s, target),
                )
            elif s.status == "unknown":
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
            elif s.style == "old" and s.name:
                ctx.report(
                    "CT501",
                    source.path,
                    s.occ.key_span,
                    f"`{key}` is the old name of `{s.name}`",
                    setting=s.name,
                    value=s.occ.value,
                    edit=None if s.name in present else _rename(s, s.name),
                )
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


def check_mixed_styles(ctx: Context) -> None:
    """Replicates ``celery.app.utils.detect_settings``: the majority style wins, ties go new."""
    for source in ctx.sources:
        settings = [
            s
            for s in ctx.settings.get(source.path, [])
            if s.status == "valid" and s.name and not s.namespace
        ]
        new = {s.occ.key for s in settings if s.style == "new"}
        old = {s.occ.key for s in settings if s.style == "old"}
        if not new or not old:
            continue
        minority_style = "old" if len(new) >= len(old) else "new"
        have = new | old
        for s in settings:
            if s.style != minority_style:
                continue
            counterpart = s.name if s.style == "old" else catalog.old_name(s.occ.key)
            if counterpart in have:
                continue
            target = counterpart or s.occ.key
            ctx.report(
                "CT103",
                source.path,
                s.occ.key_span,
                f"`{s.occ.key}` mixes {s.style} and {'new' if s.style == 'old' else 'old'} "
                f"setting names; Celery raises ImproperlyConfigured at start: use `{target}`",
                setting=s.name,
                value=s.occ.value,
            )
