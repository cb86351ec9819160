"""Which files to audit: walk directories the way ``ruff check .`` does, and sniff content cheaply.

A directory is walked recursively, in sorted order.  Skipped: hidden files and folders, virtualenvs
(any folder holding a ``pyvenv.cfg``), the default excluded folder names (``node_modules``,
``site-packages`` ...; ``exclude`` in ``[tool.celery-tune]`` replaces them, ``extend-exclude`` adds
to them), and whatever ``.gitignore`` files ignore (nested ones too, and those above the walked
folder up to the repository's root, plus ``.git/info/exclude``).

Of the rest, only files that can start or configure a worker are read: by name (``*.py``,
Procfiles, Dockerfiles, compose files, ``*.service``, ``*.yml``/``*.yaml``, shell scripts), and of
those only the ones whose bytes say ``celery`` (any of ``celery``, ``Celery``, ``CELERY``) are
audited; a Python module named ``*celery*.py`` (``celeryconfig.py``) always is.  Nothing is parsed
to decide.  YAML holding ``{{`` (Helm or Jinja templates, not YAML until rendered) is skipped.

A file named on the command line is always audited, unless ``force_exclude`` is set (the
pre-commit hook): then the same exclusions and sniffing apply to it.

``exclude`` patterns are gitignore-style, relative to the folder of the ``pyproject.toml`` they
come from.  :mod:`pathspec` (gitignore matching) is imported only when a pattern is in play.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, NamedTuple

from tuner.audit.sources import MAX_BYTES

if TYPE_CHECKING:
    from pathspec import GitIgnoreSpec

DEFAULT_EXCLUDE = (
    "__pycache__",
    "__pypackages__",
    "_build",
    "buck-out",
    "dist",
    "node_modules",
    "site-packages",
    "venv",
)
SNIFF = re.compile(rb"celery|Celery|CELERY")
TEMPLATE = b"{{"
SHELL_SUFFIXES = (".sh", ".bash", ".zsh", ".ksh")
YAML_SUFFIXES = (".yml", ".yaml")

# What a file name says: audit always, audit if its bytes mention Celery, or ignore.
ALWAYS, SNIFFED, YAML, IGNORED = 0, 1, 2, 3


class Found(NamedTuple):
    """A file to audit, with its bytes when the walk already read them."""

    path: str
    data: bytes | None = None


class Discovery(NamedTuple):
    files: list[Found]
    # Directories that were walked (for "nothing found under ..." messages).
    folders: list[str]


def classify(name: str) -> int:
    """What a file's name alone says (no I/O)."""
    lower = name.lower()
    if lower.endswith(".py"):
        return ALWAYS if "celery" in lower else SNIFFED
    if lower.endswith(YAML_SUFFIXES):
        return YAML
    if lower.endswith(SHELL_SUFFIXES) or lower.endswith(".service"):
        return SNIFFED
    if lower.startswith(("procfile", "dockerfile", "containerfile")) or lower.endswith(
        (".procfile", ".dockerfile", ".containerfile")
    ):
        return SNIFFED
    return IGNORED


def relevant(kind: int, data: bytes) -> bool:
    """Whether a file of this name kind, with these bytes, is worth auditing."""
    if kind == ALWAYS:
        return True
    if kind == IGNORED or len(data) > MAX_BYTES or SNIFF.search(data) is None:
        return False
    return not (kind == YAML and TEMPLATE in data)


def _read(path: str) -> bytes | None:
    try:
        with open(path, "rb") as f:
            return f.read(MAX_BYTES + 1)
    except OSError:
        return None


def _compile(lines: Iterable[str]) -> GitIgnoreSpec | None:
    from pathspec import GitIgnoreSpec  # only when a pattern is in play (import cost)

    spec = GitIgnoreSpec.from_lines(list(lines))
    return spec if len(spec) else None


class Spec(NamedTuple):
    """Gitignore-style patterns that apply below ``base`` (an absolute folder, no trailing /)."""

    base: str
    spec: GitIgnoreSpec

    def decides(self, path: str, is_dir: bool) -> bool | None:
        """True: ignored; False: re-included by a ``!`` pattern; None: no pattern matches."""
        if not path.startswith(self.base + os.sep) and self.base != os.sep:
            return None
        rel = path[len(self.base) + 1 :] if self.base != os.sep else path[1:]
        if os.sep != "/":  # pragma: no cover (Windows)
            rel = rel.replace(os.sep, "/")
        include: bool | None = self.spec.check_file(rel + "/" if is_dir else rel).include
        return include


def _git_root(folder: str) -> str | None:
    current = folder
    while True:
        if os.path.exists(os.path.join(current, ".git")):
            return current
        parent = os.path.dirname(current)
        if parent == current:
            return None
        current = parent


class Rules:
    """Everything that decides whether a path is skipped."""

    def __init__(
        self,
        exclude: Sequence[str] | None = None,
        extend_exclude: Sequence[str] = (),
        config_dir: str | None = None,
    ) -> None:
        base = os.path.abspath(config_dir or os.getcwd())
        names = DEFAULT_EXCLUDE if exclude is None else ()
        patterns = [*(exclude or ()), *extend_exclude]
        self.skip_names = frozenset(names)
        self._exclude_base, self._exclude_patterns = base, patterns
        self._exclude: Spec | bool | None = False  # compiled on first use (pathspec's import)
        self._gitignores: dict[str, tuple[Spec, ...]] = {}
        self._stops: set[str] = set()

    @property
    def exclude(self) -> Spec | None:
        """``exclude``/``extend-exclude`` as one spec, or None; a command line that names files
        and does not force exclusion never needs it."""
        if self._exclude is False:
            patterns = self._exclude_patterns
            compiled = _compile(patterns) if patterns else None
            self._exclude = Spec(self._exclude_base, compiled) if compiled is not None else None
        assert self._exclude is not True
        return self._exclude

    def _own_gitignore(self, folder: str, has_file: bool | None = None) -> Spec | None:
        if has_file is False:
            return None
        path = os.path.join(folder, ".gitignore")
        try:
            with open(path, encoding="utf-8", errors="replace") as f:
                lines = f.read().splitlines()
        except OSError:
            return None
        compiled = _compile(lines)
        return Spec(folder, compiled) if compiled is not None else None

    def gitignores(self, folder: str, has_file: bool | None = None) -> tuple[Spec, ...]:
        """The .gitignore specs that apply inside ``folder`` (absolute), deepest last; cached.
        Above a walk's start they are followed up to the repository root."""
        cached = self._gitignores.get(folder)
        if cached is not None:
            return cached
        parent = os.path.dirname(folder)
        if os.path.exists(os.path.join(folder, ".git")) or parent == folder:
            inherited: tuple[Spec, ...] = ()
            info = os.path.join(folder, ".git", "info", "exclude")
            if os.path.isfile(info):
                try:
                    with open(info, encoding="utf-8", errors="replace") as f:
                        compiled = _compile(f.read().splitlines())
                except OSError:
                    compiled = None
                if compiled is not None:
                    inherited = (Spec(folder, compiled),)
        elif folder in self._stops:
            inherited = ()
        else:
            inherited = self.gitignores(parent)
        own = self._own_gitignore(folder, has_file)
        result = (*inherited, own) if own is not None else inherited
        self._gitignores[folder] = result
        return result

    def start(self, folder: str) -> None:
        """Where an upward search for .gitignore files ends when ``folder`` is in no repository:
        .gitignore files above a walked folder count only inside a git repository."""
        if _git_root(folder) is None:
            self._stops.add(folder)

    def skipped_dir(self, path: str, name: str, specs: tuple[Spec, ...]) -> bool:
        if name.startswith(".") or name in self.skip_names:
            return True
        return self._matched(path, True, specs)

    def skipped_file(self, path: str, name: str, specs: tuple[Spec, ...]) -> bool:
        if name.startswith("."):
            return True
        return self._matched(path, False, specs)

    def _matched(self, path: str, is_dir: bool, specs: tuple[Spec, ...]) -> bool:
        if self.exclude is not None and self.exclude.decides(path, is_dir):
            return True
        for spec in reversed(specs):
            decision = spec.decides(path, is_dir)
            if decision is not None:
                return decision
        return False

    def excludes(self, path: str) -> bool:
        """Whether a file named explicitly would be skipped by a walk (for ``force_exclude``)."""
        full = os.path.abspath(path)
        folder = os.path.dirname(full)
        # Every folder between the repository root (outside one: the current folder) and the
        # file must be kept, as a walk from there would.
        root = _git_root(folder)
        top = root or os.getcwd()
        if root is None:
            inside = folder == top or folder.startswith(top + os.sep)
            self._stops.add(top if inside else folder)
        chain = []
        current = folder
        while current.startswith(top + os.sep):
            chain.append(current)
            current = os.path.dirname(current)
        for sub in reversed(chain):
            parent_specs = self.gitignores(os.path.dirname(sub))
            if self.skipped_dir(sub, os.path.basename(sub), parent_specs) or _is_venv(sub):
                return True
        return self.skipped_file(full, os.path.basename(full), self.gitignores(folder))


def _is_venv(folder: str) -> bool:
    return os.path.isfile(os.path.join(folder, "pyvenv.cfg"))


def walk(folder: str, rules: Rules, out: list[Found]) -> None:
    """Append the relevant files under ``folder`` (as given, relative or absolute) to ``out``."""
    top = os.path.abspath(folder)
    rules.start(top)
    stack = [(folder, top)]
    while stack:
        shown, full = stack.pop()
        try:
            with os.scandir(full) as it:
                entries = sorted(it, key=lambda e: e.name)
        except OSError:
            continue
        names = {e.name for e in entries}
        if "pyvenv.cfg" in names and full != top:
            continue
        specs = rules.gitignores(full, ".gitignore" in names)
        subdirs = []
        for entry in entries:
            name = entry.name
            path = os.path.join(full, name)
            rel = name if shown == "." else os.path.join(shown, name)
            try:
                is_dir = entry.is_dir(follow_symlinks=False)
                is_file = not is_dir and entry.is_file()
            except OSError:
                continue
            if is_dir:
                if not rules.skipped_dir(path, name, specs):
                    subdirs.append((rel, path))
                continue
            if not is_file:
                continue
            kind = classify(name)
            if kind == IGNORED or rules.skipped_file(path, name, specs):
                continue
            data = _read(path)
            if data is not None and relevant(kind, data):
                out.append(Found(rel, data))
        stack.extend(reversed(subdirs))


def discover(
    paths: Sequence[str],
    rules: Rules,
    *,
    force_exclude: bool = False,
) -> Discovery:
    """The files to audit for ``paths`` (files and folders; none means the current folder)."""
    files: list[Found] = []
    folders: list[str] = []
    seen: set[str] = set()
    for path in paths or ["."]:
        if path != "-" and os.path.isdir(path):
            folders.append(path)
            found: list[Found] = []
            walk(path, rules, found)
            for item in found:
                key = os.path.realpath(item.path)
                if key not in seen:
                    seen.add(key)
                    files.append(item)
            continue
        if path != "-" and force_exclude:
            kind = classify(os.path.basename(path))
            if rules.excludes(path):
                continue
            data = _read(path)
            if data is not None and not relevant(kind, data):
                continue
            files.append(Found(path, data))
            continue
        files.append(Found(path))
    return Discovery(files, folders)
