"""Worker command lines in a Dockerfile: ``CMD``/``ENTRYPOINT``, combined as Docker combines them.

Each stage that sets ``CMD`` or ``ENTRYPOINT`` gives the command its container runs.  ``ENV``
values expand ``$VAR`` in a shell-form command (as ``/bin/sh -c`` would at run time), as
``env`` values: ``docker run -e`` can replace them.  ``ARG`` values exist only while building,
so they reach a command only through an ``ENV`` (``ENV CONC=$CONC``).  Exec form (a JSON
array) is not expanded.  A malformed JSON array is run by Docker as a shell command, which is
almost never what was meant: it is reported as an input error.
"""

from __future__ import annotations

import json
import re

from tuner.audit.model import CommandLine, InputError
from tuner.audit.readers.cmdline import Finder, run_script
from tuner.audit.readers.shellwords import (
    FileText,
    Located,
    Token,
    Var,
    align,
    assignment,
    concat,
    expand_word,
    tokenize,
)
from tuner.records import dataclass, field

DIRECTIVE = re.compile(r"#\s*([A-Za-z][A-Za-z0-9_]*)\s*=\s*(\S+)\s*$")
INSTRUCTION = re.compile(r"\s*([A-Za-z]+)(?:\s+|$)")
JSON_STRING = re.compile(r'"(?:[^"\\]|\\.)*"')


@dataclass(frozen=True)
class _Form:
    """A ``CMD`` or ``ENTRYPOINT``: exec form (``items``) or shell form (``args``)."""

    keyword: str
    args: Located
    items: tuple[Located, ...] | None
    start: int


@dataclass
class _Stage:
    name: str | None
    env: dict[str, Var] = field(default_factory=dict)
    args: dict[str, Var] = field(default_factory=dict)
    cmd: _Form | None = None
    entrypoint: _Form | None = None
    own: bool = False  # CMD or ENTRYPOINT set in this stage
    cmd_own: bool = False  # CMD set in this stage


def _instructions(ft: FileText) -> list[Located]:
    """Logical instructions: continuation lines joined, comments and parser directives dropped."""
    lines = ft.lines
    escape = "\\"
    i = 0
    while i < len(lines):
        m = DIRECTIVE.match(lines[i])
        if not m:
            break
        if m.group(1).lower() == "escape" and m.group(2) in ("\\", "`"):
            escape = m.group(2)
        i += 1
    found: list[Located] = []
    while i < len(lines):
        line = lines[i]
        if not line.strip() or line.lstrip().startswith("#"):
            i += 1
            continue
        parts: list[Located] = []
        while i < len(lines):
            line = lines[i]
            base = ft.line_start(i + 1)
            stripped = line.rstrip()
            i += 1
            if not stripped.endswith(escape):
                parts.append(ft.located(base, base + len(line)))
                break
            parts.append(ft.located(base, base + len(stripped) - 1))
            while i < len(lines) and (not lines[i].strip() or lines[i].lstrip().startswith("#")):
                i += 1
        found.append(concat(parts))
    return found


def _exec_items(
    ft: FileText, args: Located
) -> tuple[tuple[Located, ...] | None, InputError | None]:
    """The strings of an exec-form (JSON array) argument, or None for shell form."""
    if not args.text.lstrip().startswith("["):
        return None, None
    try:
        value = json.loads(args.text)
    except json.JSONDecodeError as exc:
        offset = args.offsets[min(exc.pos, len(args.offsets) - 1)] if args.offsets else 0
        line, column = ft.position(offset)
        return None, InputError(
            f"not a valid JSON array ({exc.msg}); Docker would run it as a shell command",
            line,
            column,
        )
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        line, column = ft.position(args.offsets[0] if args.offsets else 0)
        return None, InputError(
            "not a JSON array of strings; Docker would run it as a shell command", line, column
        )
    items: list[Located] = []
    for m in JSON_STRING.finditer(args.text):
        decoded = json.loads(m.group())
        items.append(align(decoded, args, m.start() + 1, m.end() - 1))
    if len(items) != len(value):
        return None, None
    return tuple(items), None


def _synthetic(text: str, at: int) -> Token:
    """A word Docker adds (``/bin/sh -c``), placed on the instruction keyword."""
    return Token(Located(text, [at] * len(text)), (at, at), text)


def _stage_commands(ft: FileText, stage: _Stage, named: bool) -> list[CommandLine]:
    if not stage.own:
        return []
    ep, cmd = stage.entrypoint, stage.cmd
    prefix = f"Dockerfile stage '{stage.name}' " if named and stage.name else "Dockerfile "
    env = dict(stage.env)
    if ep is not None and ep.items is None:
        return run_script(ft, ep.args, env, "shell", prefix + "ENTRYPOINT")
    if ep is None and cmd is not None and cmd.items is None:
        return run_script(ft, cmd.args, env, "shell", prefix + "CMD")
    tokens: list[Token] = []
    label = []
    if ep is not None and ep.items is not None:
        label.append("ENTRYPOINT")
        tokens += [expand_word(item, env, "plain", ep.start) for item in ep.items]
    if cmd is not None:
        label.append("CMD")
        if cmd.items is not None:
            tokens += [expand_word(item, env, "plain", cmd.start) for item in cmd.items]
        else:
            a = cmd.args.offsets[0] if cmd.args.offsets else cmd.start
            b = cmd.args.offsets[-1] + 1 if cmd.args.offsets else cmd.start
            tokens += [_synthetic("/bin/sh", cmd.start), _synthetic("-c", cmd.start)]
            tokens.append(Token(cmd.args, (a, b), cmd.args.text, quoted=True))
    if not tokens:
        return []
    return Finder(ft, env, prefix + " + ".join(label)).find(tokens)


def _define(stage: _Stage, args: Located, keyword: str, global_args: dict[str, Var]) -> None:
    """``ENV K=V ...`` / ``ENV K V`` / ``ARG K[=V]``: expand with what the build knows so far."""
    known = {**stage.args, **stage.env}
    words = [t for cmd in tokenize(args, known, "shell") for t in cmd]
    if not words:
        return
    if keyword == "ENV" and assignment(words[0]) is None:
        m = re.match(r"\s*(\S+)\s+", args.text)
        if m:  # legacy ``ENV NAME value with spaces``
            stage.env[m.group(1)] = Var(args.slice(m.end()), overridable=True)
        return
    for word in words:
        pair = assignment(word)
        if keyword == "ENV" and pair is not None:
            stage.env[pair[0]] = Var(pair[1], overridable=True)
        elif keyword == "ARG" and pair is not None:
            stage.args[pair[0]] = Var(pair[1], overridable=True)
        elif keyword == "ARG" and word.text in global_args:
            stage.args[word.text] = global_args[word.text]


def read_dockerfile(ft: FileText) -> tuple[list[CommandLine], InputError | None]:
    stages: list[_Stage] = []
    global_args: dict[str, Var] = {}
    stage: _Stage | None = None
    error: InputError | None = None
    for inst in _instructions(ft):
        m = INSTRUCTION.match(inst.text)
        if not m:
            continue
        keyword = m.group(1).upper()
        args = inst.slice(m.end())
        start = inst.offsets[m.start(1)] if inst.offsets else 0
        if keyword == "FROM":
            words = [t.text for cmd in tokenize(args, {}, "plain") for t in cmd]
            words = [w for w in words if not w.startswith("--")]
            name = words[2].lower() if len(words) >= 3 and words[1].lower() == "as" else None
            base = next((s for s in stages if words and s.name == words[0].lower()), None)
            stage = _Stage(name)
            if base is not None:
                stage.env, stage.args = dict(base.env), dict(base.args)
                stage.cmd, stage.entrypoint = base.cmd, base.entrypoint
            stages.append(stage)
        elif keyword in ("ENV", "ARG"):
            if stage is None:
                if keyword == "ARG":
                    scratch = _Stage(None)
                    _define(scratch, args, keyword, {})
                    global_args.update(scratch.args)
                continue
            _define(stage, args, keyword, global_args)
        elif keyword in ("CMD", "ENTRYPOINT"):
            if stage is None:
                stage = _Stage(None)
                stages.append(stage)
            items, problem = _exec_items(ft, args)
            error = error or problem
            form = _Form(keyword, args, items, start)
            if keyword == "CMD":
                stage.cmd, stage.cmd_own = form, True
            else:
                stage.entrypoint = form
                if not stage.cmd_own:
                    stage.cmd = None  # an inherited CMD is reset by a new ENTRYPOINT
            stage.own = True
    named = len(stages) > 1
    commands = [c for s in stages for c in _stage_commands(ft, s, named)]
    return commands, error
