"""Worker command lines in non-Python files: which kind a file is, and the reader for each kind.

Procfiles, systemd units, shell scripts and free text are read here; Dockerfiles in
:mod:`~tuner.audit.readers.dockerfile`, Compose and Kubernetes YAML in
:mod:`~tuner.audit.readers.yamlfiles`.  Nothing is run.  Variables are resolved only from the
same file; anything else stays unknown.
"""

from __future__ import annotations

import posixpath
import re
from collections.abc import Callable

from tuner.audit.model import CommandLine, FileKind, InputError, SourceFile, Span
from tuner.audit.readers.cmdline import Finder, run_script
from tuner.audit.readers.shellwords import (
    ASSIGNMENT,
    FileText,
    Located,
    Token,
    Var,
    concat,
    tokenize,
)

Reader = Callable[[FileText], tuple[list[CommandLine], InputError | None]]

COMPOSE_NAME = re.compile(r"(docker-)?compose([.\-_].*)?\.ya?ml")
SHEBANG_SHELL = re.compile(r"#!.*\b(sh|bash|dash|zsh|ksh|ash)\b")
PROCFILE_LINE = re.compile(r"\s*([A-Za-z0-9_.\-]+)\s*:\s*")
UNIT_KEY = re.compile(r"\s*([A-Za-z][A-Za-z0-9]*)\s*=\s*")
EXEC_PREFIX = re.compile(r"[-@:+!]*")
YAML_KINDS = ("compose", "kubernetes")
# A Compose v1 file: services at the top level, one of them with an image or a build written on
# the same line (Helm values nest ``image:`` over ``repository:``/``tag:``).
COMPOSE_V1 = re.compile(
    r"^[A-Za-z0-9_.\-]+[ \t]*:[ \t]*\n(?:[ \t]+[^\n]*\n)*?[ \t]+(image|build)[ \t]*:[ \t]*[^\s#]",
    re.M,
)


def detect_kind(path: str, text: str) -> FileKind:
    """What kind of file this is: by name first, then by content."""
    name = posixpath.basename(path.replace("\\", "/")).lower()
    is_yaml = name.endswith((".yml", ".yaml"))
    if name.endswith((".py", ".pyi")):
        return "python"
    if name == "procfile" or name.startswith("procfile.") or name.endswith(".procfile"):
        return "procfile"
    if name.startswith(("dockerfile", "containerfile")) or name.endswith(
        (".dockerfile", ".containerfile")
    ):
        return "dockerfile"
    if is_yaml and COMPOSE_NAME.fullmatch(name):
        return "compose"
    if name.endswith(".service"):
        return "systemd"
    if name.endswith((".sh", ".bash", ".zsh", ".ksh")):
        return "shell"
    if is_yaml:
        if re.search(r"^apiVersion\s*:", text, re.M) and re.search(r"^kind\s*:", text, re.M):
            return "kubernetes"
        if re.search(r"^services\s*:", text, re.M) or COMPOSE_V1.search(text):
            return "compose"
        return "text"
    first = text.split("\n", 1)[0]
    if first.startswith("#!"):
        if "python" in first:
            return "python"
        if SHEBANG_SHELL.match(first):
            return "shell"
    if re.search(r"^\[Service\]", text, re.M) and re.search(r"^\s*ExecStart\s*=", text, re.M):
        return "systemd"
    return "text"


def read_commands(path: str, text: str, kind: FileKind) -> SourceFile:
    """Read one non-Python file.  Never raises: a problem is the SourceFile's ``error``."""
    try:
        return extract(path, text, kind)
    except Exception as exc:  # a reader bug must not stop the audit of other files
        return SourceFile(
            path=path,
            kind=kind,
            lines=FileText(text).lines,
            error=InputError(f"could not read commands ({type(exc).__name__}: {exc})"),
        )


def extract(path: str, text: str, kind: FileKind) -> SourceFile:
    """:func:`read_commands` without the safety net (for tests)."""
    ft = FileText(text)
    source = SourceFile(path=path, kind=kind, lines=ft.lines)
    reader = _reader(kind, source)
    # Every form a worker is started with names "celery" somewhere (``celery``, ``celeryd``,
    # ``$CELERY_BIN``); a file without it has none.  YAML is still parsed, for its errors.
    if reader is not None and "celery" not in text.lower() and kind not in YAML_KINDS:
        return source
    if reader is not None:
        source.commands, source.error = reader(ft)
    return source


def _reader(kind: FileKind, source: SourceFile) -> Reader | None:
    if kind == "procfile":
        return lambda ft: read_procfile(ft, source.process_types)
    if kind == "dockerfile":
        from tuner.audit.readers.dockerfile import read_dockerfile

        return read_dockerfile
    if kind == "compose":
        from tuner.audit.readers.yamlfiles import read_compose

        return read_compose
    if kind == "kubernetes":
        from tuner.audit.readers.yamlfiles import read_kubernetes

        return lambda ft: read_kubernetes(ft, source.manifests)
    readers: dict[FileKind, Reader] = {
        "systemd": read_systemd,
        "shell": read_shell,
        "text": read_text,
    }
    return readers.get(kind)


# --------------------------------------------------------------------------- line-based kinds


def read_procfile(
    ft: FileText, names: list[tuple[str, Span]] | None = None
) -> tuple[list[CommandLine], InputError | None]:
    """``name: command`` lines; each command runs in a shell of its own.  ``names`` receives
    every process type with its span, in order."""
    names = [] if names is None else names
    found: list[CommandLine] = []
    for number, line in enumerate(ft.lines, start=1):
        m = PROCFILE_LINE.match(line)
        if not m or line.lstrip().startswith("#"):
            continue
        base = ft.line_start(number)
        command = ft.located(base + m.end(), base + len(line))
        found += run_script(ft, command, {}, "shell", f"Procfile process '{m.group(1)}'")
        start = base + m.start(1)
        names.append((m.group(1), ft.span(start, start + len(m.group(1)))))
    return found, None


def _line_context(ft: FileText) -> Callable[[list[Token]], str]:
    def context(cmd: list[Token]) -> str:
        return f"line {ft.position(cmd[0].site[0])[0]}"

    return context


def read_shell(ft: FileText) -> tuple[list[CommandLine], InputError | None]:
    """A shell script: ``VAR=value`` / ``export VAR=value`` define variables for later lines."""
    return run_script(ft, ft.whole(), {}, "shell", _line_context(ft)), None


def read_text(ft: FileText) -> tuple[list[CommandLine], InputError | None]:
    """Any other text (README, supervisord, Makefile): a command may stand anywhere on a line,
    after ``key=`` or inside Markdown backticks."""
    return run_script(ft, ft.whole(), {}, "text", _line_context(ft), lenient=True), None


def _unit_lines(ft: FileText) -> list[Located]:
    """A unit file's logical lines: a trailing backslash joins the next line with a space."""
    lines = ft.lines
    found: list[Located] = []
    i = 0
    while i < len(lines):
        parts: list[Located] = []
        while i < len(lines):
            line = lines[i]
            base = ft.line_start(i + 1)
            i += 1
            stripped = line.rstrip()
            if parts and line.lstrip().startswith(("#", ";")):
                continue  # a comment inside a continued line
            if stripped.endswith("\\"):
                end = base + len(stripped) - 1
                parts += [ft.located(base, end), Located(" ", [end])]
                continue
            parts.append(ft.located(base, base + len(line)))
            break
        found.append(concat(parts))
    return found


def read_systemd(ft: FileText) -> tuple[list[CommandLine], InputError | None]:
    """``ExecStart=`` of a unit, with ``$VAR``/``${VAR}`` from its ``Environment=`` lines.
    ``EnvironmentFile=`` is not read: what it defines stays unknown."""
    env: dict[str, Var] = {}
    starts: list[Located] = []
    for line in _unit_lines(ft):
        m = UNIT_KEY.match(line.text)
        if not m or line.text.lstrip().startswith(("#", ";")):
            continue
        key, value = m.group(1), line.slice(m.end())
        if key == "Environment":
            for word in (t for cmd in tokenize(value, {}, "plain") for t in cmd):
                m2 = ASSIGNMENT.match(word.text)
                if m2:
                    env[m2.group()[:-1]] = Var(word.loc.after_plain(m2.end()))
        elif key == "ExecStart":
            if not value.text.strip():
                starts = []  # an empty ExecStart= resets the list
            else:
                starts.append(value)
    found: list[CommandLine] = []
    for value in starts:
        prefix = EXEC_PREFIX.match(value.text)
        skip = prefix.end() if prefix else 0
        for cmd in tokenize(value.slice(skip), env, "systemd"):
            words = cmd[1:] if prefix and "@" in prefix.group() else cmd
            found += Finder(ft, env, "systemd ExecStart").find(words)
    return found, None
