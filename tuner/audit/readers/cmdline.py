"""Find ``celery worker`` / ``celery multi start`` invocations in shell-like text, statically.

Words come from :mod:`tuner.audit.readers.shellwords`; options are matched the way click (or
``celery multi``'s own parser) would match them, against the static tables in
:mod:`tuner.audit.readers.worker_options`.
"""

from __future__ import annotations

import posixpath
import re
from collections.abc import Callable, Mapping, MutableMapping, Sequence
from itertools import pairwise

from tuner.audit.model import CommandLine, Option, Span, Value
from tuner.audit.readers import worker_options as wo
from tuner.audit.readers.shellwords import (
    FileText,
    Located,
    Mode,
    Token,
    Var,
    assignment,
    expand_word,
    tokenize,
)
from tuner.audit.readers.worker_options import OptionSpec
from tuner.records import dataclass, field

__all__ = [
    "FileText",
    "Finder",
    "Located",
    "Token",
    "Var",
    "assignment",
    "convert",
    "expand_word",
    "run_script",
    "tokenize",
]

PYTHON = re.compile(r"(python|pypy)[0-9.]*[a-z]?(\.exe)?")
MAX_DEPTH = 8
SHELLS = {"sh", "bash", "dash", "zsh", "ash", "ksh"}
SU = {"su", "runuser"}
KEYWORDS = {"then", "do", "else", "elif", "if", "while", "until", "!", "{"}
# Programs that run another program given later on their command line.
_WRAPPER_NAMES = """
exec env nice nohup setsid time stdbuf ionice taskset chrt numactl timeout sudo doas gosu
su-exec chpst setuidgid s6-setuidgid setpriv tini tini-static dumb-init catatonit uv uvx
poetry pipenv pdm hatch rye conda mamba micromamba pixi newrelic-admin ddtrace-run
opentelemetry-instrument scout-apm doppler infisical op dotenv aws-vault chamber envconsul
consul-template watchmedo watchfiles hupper nodemon entr wait-for-it wait-for-it.sh wait-for
dockerize docker podman nerdctl docker-compose kubectl ssh heroku flock xvfb-run coverage
memray py-spy strace ltrace valgrind authbind caffeinate busybox unbuffer script run-one
supervise pidproxy start-stop-daemon daemon daemonize runsv with-contenv
"""
WRAPPERS = frozenset(_WRAPPER_NAMES.split())


# --------------------------------------------------------------------------- values


def convert(spec: OptionSpec, text: str) -> object:
    """A value as Celery's click type would convert it; a bad value stays a string."""
    try:
        if spec.kind == "int":
            return int(text)
        if spec.kind == "float":
            return float(text)
    except ValueError:
        return text
    if spec.kind == "concurrency":
        if text.strip().lower() == "auto":
            return "auto"
        try:
            return int(text)
        except ValueError:
            return text
    if spec.kind == "list":
        return text.split(",")
    return text


def _strip_quotes(raw: str) -> str:
    if len(raw) >= 2 and raw[0] == raw[-1] and raw[0] in "'\"":
        return raw[1:-1]
    return raw


@dataclass
class _Hit:
    """One option found on a command line, before it becomes an :class:`Option`."""

    flag: str
    spec: OptionSpec | None
    table: str
    token: Token
    value: Located | None = None
    value_token: Token | None = None
    attached: int | None = None  # the value starts after this many characters of the token
    missing: bool = False


@dataclass
class _Cmd:
    subcommand: str
    legacy: str | None = None
    options: list[Option] = field(default_factory=list)
    misplaced: list[Option] = field(default_factory=list)
    unknown: list[Option] = field(default_factory=list)
    app: str | None = None
    config: str | None = None
    extra: list[tuple[str, Span]] = field(default_factory=list)


# --------------------------------------------------------------------------- finder


class Finder:
    """Recognise worker invocations in tokenized commands."""

    def __init__(
        self,
        ft: FileText,
        env: Mapping[str, Var],
        context: str,
        frame: tuple[int, int] | None = None,
    ) -> None:
        self.ft = ft
        self.env = env
        self.context = context
        # The whole outer command when this one is a ``sh -c`` string: its span.
        self.frame = frame

    # -- entry points

    def find(
        self, tokens: Sequence[Token], lenient: bool = False, depth: int = 0
    ) -> list[CommandLine]:
        """Worker invocations in one command.  ``lenient`` (free text): the program may also
        follow a prompt or a key (``$ celery ...``, ``command=celery ...``, ``run: celery ...``),
        but not prose (``start the celery worker``)."""
        if depth > MAX_DEPTH or not tokens:
            return []
        start = 0
        while start < len(tokens) and (
            assignment(tokens[start]) is not None
            or (tokens[start].text in KEYWORDS and not tokens[start].quoted)
        ):
            start += 1
        found = self._at(tokens, start, depth)
        if found is not None or not lenient:
            return found or []
        for j in range(len(tokens)):
            head = _after_key(tokens[j])
            if head is not None:
                sub = [head, *tokens[j + 1 :]]
            elif j > start and _is_program(tokens[j].text) and _leads_in(tokens[j - 1].text):
                sub = list(tokens[j:])
            else:
                continue
            found = self._at(sub, 0, depth)
            if found:
                return found
        return []

    # -- programs

    def _at(self, tokens: Sequence[Token], i: int, depth: int) -> list[CommandLine] | None:
        """Commands found when ``tokens[i]`` is the program; None when it is no program we know."""
        if i >= len(tokens) or depth > MAX_DEPTH:
            return None
        t = tokens[i]
        text = t.text
        base = _basename(text)
        if not text.strip():
            kind, env = t.kind
            if kind == "unknown" and env and "celery" in env.lower():
                return self._celery(tokens, i, i + 1)  # ${CELERY_BIN}
            return None
        if base in ("celery", "celery.exe"):
            return self._celery(tokens, i, i + 1)
        if base in ("celeryd", *LEGACY_PROGRAMS) and _init_script(tokens, i):
            return []  # Celery's generic init.d scripts (``/etc/init.d/celeryd start``)
        if base == "celeryd":
            return self._run(tokens, i, i + 1, _Cmd("worker", "celeryd"), "legacy")
        if base == "celeryd-multi":
            return self._multi(tokens, i, i + 1, "celeryd-multi")
        if base in LEGACY_PROGRAMS:
            return [self._build(tokens, _Cmd(LEGACY_PROGRAMS[base], base))]
        if PYTHON.fullmatch(base):
            return self._python(tokens, i, depth)
        if base in ("manage.py", "django-admin", "django-admin.py"):
            return self._django(tokens, i, i + 1)
        if base in SHELLS:
            return self._shell(tokens, i, depth)
        if base in SU:
            return self._su(tokens, i, depth)
        if base in WRAPPERS:
            return self._wrapper(tokens, i, depth)
        return None

    def _python(self, tokens: Sequence[Token], i: int, depth: int) -> list[CommandLine]:
        j = i + 1
        while j < len(tokens):
            text = tokens[j].text
            module = ""
            if text == "-m":
                module = tokens[j + 1].text if j + 1 < len(tokens) else ""
                j += 2
            elif text.startswith("-m"):
                module, j = text[2:], j + 1
            elif text == "-c":
                return []
            elif text in ("-W", "-X", "--check-hash-based-pycs"):
                j += 2
                continue
            elif text.startswith("-"):
                j += 1
                continue
            else:
                base = _basename(text)
                if base in ("celery", "celery.exe"):
                    return self._celery(tokens, i, j + 1)
                if base in ("manage.py", "django-admin.py"):
                    return self._django(tokens, i, j + 1)
                return []
            if module in ("celery", "celery.__main__", "celery.bin.celery"):
                return self._celery(tokens, i, j)
            if module:
                return self._wrapper(tokens, j - 1, depth)
            return []
        return []

    def _django(self, tokens: Sequence[Token], i: int, j: int) -> list[CommandLine]:
        while j < len(tokens) and tokens[j].is_option():
            j += 1
        if j >= len(tokens):
            return []
        sub = tokens[j].text
        nxt = tokens[j + 1].text if j + 1 < len(tokens) else ""
        if sub == "celery" and nxt == "worker":
            return self._run(tokens, i, j + 2, _Cmd("worker", "manage.py celery worker"), "django")
        if sub == "celery" and nxt == "multi":
            return self._multi(tokens, i, j + 2, "manage.py celery multi")
        if sub == "celeryd":
            return self._run(tokens, i, j + 1, _Cmd("worker", "manage.py celeryd"), "django")
        if sub == "celeryd_multi":
            return self._multi(tokens, i, j + 1, "manage.py celeryd_multi")
        if sub in LEGACY_PROGRAMS:
            return [self._build(tokens, _Cmd(LEGACY_PROGRAMS[sub], f"manage.py {sub}"))]
        if sub == "celery" and nxt in wo.SUBCOMMAND_VALUE_OPTIONS:
            return [self._build(tokens, _Cmd(nxt, f"manage.py celery {nxt}"))]
        return []

    def _shell(self, tokens: Sequence[Token], i: int, depth: int) -> list[CommandLine]:
        j = i + 1
        while j < len(tokens):
            text = tokens[j].text
            if text == "--" or text[:1] not in ("-", "+") or len(text) < 2:
                return []
            if not text.startswith("--") and "c" in text[1:]:
                k = j + 2 if "o" in text[1:] else j + 1
                return self._string(tokens, tokens[k], depth) if k < len(tokens) else []
            j += 2 if text in ("-o", "+o", "-O", "+O", "--rcfile", "--init-file") else 1
        return []

    def _su(self, tokens: Sequence[Token], i: int, depth: int) -> list[CommandLine]:
        for j in range(i + 1, len(tokens)):
            t = tokens[j]
            text = t.text
            if text == "--" or _is_program(text):
                break
            if text in ("-c", "--command", "--session-command"):
                return self._string(tokens, tokens[j + 1], depth) if j + 1 < len(tokens) else []
            if text.startswith(("--command=", "--session-command=")):
                name = text.split("=", 1)[0]
                return self._string(tokens, _sub_token(t, len(name) + 1), depth)
            if text.startswith("-c") and len(text) > 2 and not text.startswith("--"):
                return self._string(tokens, _sub_token(t, 2), depth)
        return self._wrapper(tokens, i, depth)  # ``runuser -u celery -- celery worker``

    def _wrapper(self, tokens: Sequence[Token], i: int, depth: int) -> list[CommandLine]:
        for j in range(i + 1, len(tokens)):
            if tokens[j].text == "--":
                found = self._at(tokens, j + 1, depth + 1)
                if found:
                    return found
                break
        for j in range(i + 1, len(tokens)):
            t = tokens[j]
            if t.is_option() or assignment(t) is not None:
                continue
            found = self._at(tokens, j, depth + 1)
            if found:
                return found
            if found is not None and _basename(t.text) not in ("celery", "celery.exe"):
                return found
            if found is None and t.quoted and " " in t.text.strip():
                inner = self._string(tokens, t, depth)
                if inner:
                    return inner
        return []

    def _string(self, tokens: Sequence[Token], token: Token, depth: int) -> list[CommandLine]:
        """A command string run by a shell (``sh -c "..."``), with its own positions."""
        frame = self.frame or _extent(tokens)
        env = dict(self.env)
        return run_script(
            self.ft, token.loc, env, "shell", self.context, depth=depth + 1, frame=frame
        )

    # -- celery

    def _celery(self, tokens: Sequence[Token], i: int, j: int) -> list[CommandLine]:
        cmd = _Cmd("")
        while j < len(tokens):
            t = tokens[j]
            if t.text == "--":
                j += 1
                break
            if t.is_option():
                hits, j = _click_option(tokens, j, [("global", wo.GLOBAL), ("worker", wo.WORKER)])
                for hit in hits:
                    option = self._option(hit)
                    if hit.table == "global":
                        self._remember(cmd, hit, option)
                        cmd.options.append(option)
                    else:
                        cmd.unknown.append(_unknown(option))
                continue
            if not t.text:
                j += 1
                continue
            break
        if j >= len(tokens):
            return []
        sub = tokens[j].text
        if sub == "worker":
            cmd.subcommand = "worker"
            return self._run(tokens, i, j + 1, cmd, "worker")
        if sub == "multi" and j + 1 < len(tokens) and tokens[j + 1].text in ("start", "restart"):
            return self._multi(tokens, i, j + 2, None, cmd)
        if sub in wo.SUBCOMMAND_VALUE_OPTIONS or sub == "flower":
            cmd.subcommand = sub
            return self._other(tokens, j + 1, cmd)
        return []

    def _other(self, tokens: Sequence[Token], j: int, cmd: _Cmd) -> list[CommandLine]:
        """Another subcommand (``beat``, ``inspect``, ``flower`` ...): only global options
        written after it are read.  Its own options are skipped with their values."""
        takes_value = wo.SUBCOMMAND_VALUE_OPTIONS.get(cmd.subcommand, frozenset())
        while j < len(tokens):
            t = tokens[j]
            text = t.text
            if text == "--":
                break
            name = text.split("=", 1)[0]
            if not t.is_option():
                j += 1
                continue
            if name in takes_value and "=" not in text:
                j += 2
                continue
            if name.startswith("--"):
                spec = wo.GLOBAL.get(name)
            else:
                spec = wo.GLOBAL.get(text[:2])  # click reads the first letter first
                if spec is not None and text[:2] not in ("-A", "-b") and len(text) > 2:
                    spec = None  # ``-q`` glued to other letters: not worth guessing
            if spec is None or spec.dest in ("help", "version"):
                j += 1
                continue
            hits, j = _click_option(tokens, j, [("global", wo.GLOBAL)])
            for hit in hits[:1]:
                option = self._option(hit)
                self._remember(cmd, hit, option)
                cmd.misplaced.append(option)
        return [self._build(tokens, cmd)]

    def _multi(
        self,
        tokens: Sequence[Token],
        i: int,
        j: int,
        legacy: str | None,
        cmd: _Cmd | None = None,
    ) -> list[CommandLine]:
        if cmd is None:
            cmd = _Cmd("multi", legacy)
            if legacy and j < len(tokens) and tokens[j].text in ("start", "restart"):
                j += 1
            elif legacy:
                return []
        cmd.subcommand = "multi"
        return self._run(tokens, i, j, cmd, "multi")

    def _run(
        self, tokens: Sequence[Token], i: int, j: int, cmd: _Cmd, phase: str
    ) -> list[CommandLine]:
        """Parse the options after the subcommand, as click (or ``celery multi``) would."""
        tables: list[tuple[str, dict[str, OptionSpec]]] = [
            ("worker", wo.WORKER),
            ("global", wo.GLOBAL),
        ]
        if phase == "multi":
            tables.append(("ignore", wo.MULTI))
        if phase == "django":
            tables.append(("ignore", wo.DJANGO))
        multi = phase == "multi"
        while j < len(tokens):
            t = tokens[j]
            if t.text == "--":
                if phase in ("worker", "multi"):
                    cmd.extra = [
                        (w.text, self.ft.span(*w.bounds()))
                        for w in tokens[j + 1 :]
                        if w.kind[0] == "known"
                    ]
                break
            if not t.is_option():
                j += 1
                continue
            if multi and ":" in t.text.split("=", 1)[0]:
                j += 1  # a per-node option (``-c:1 4``)
                if j < len(tokens) and not tokens[j].text.startswith("-"):
                    j += 1
                continue
            hits, j = _click_option(tokens, j, tables, multi)
            for hit in hits:
                if hit.table == "ignore":
                    continue
                option = self._option(hit)
                if hit.table == "worker":
                    cmd.options.append(option)
                elif hit.table == "global":
                    self._remember(cmd, hit, option)
                    if phase == "worker":
                        cmd.misplaced.append(option)
                    else:
                        cmd.options.append(option)
                else:
                    cmd.unknown.append(_unknown(option))
        return [self._build(tokens, cmd)]

    # -- building

    def _remember(self, cmd: _Cmd, hit: _Hit, option: Option) -> None:
        if hit.spec is None or option.value.kind == "unknown":
            return
        text = option.value.value
        if hit.spec.dest == "app" and isinstance(text, str):
            cmd.app = text
        elif hit.spec.dest == "config" and isinstance(text, str):
            cmd.config = text

    def _option(self, hit: _Hit) -> Option:
        spec = hit.spec
        span = self._option_span(hit)
        dest = spec.dest if spec else ""
        if spec is None or not spec.takes_value:
            flag = Value("known", True, hit.flag)
            return Option(hit.flag, dest, flag, span, _setting(spec, True))
        if hit.missing or hit.value is None:
            return Option(hit.flag, dest, Value("unknown", text=""), span, spec.setting)
        kind, env = hit.value.kind()
        raw = self._written(hit)
        if kind == "unknown":
            value = Value("unknown", text=raw, env=env)
            return Option(hit.flag, dest, value, span, spec.setting, self._defined(hit, raw))
        parsed = convert(spec, hit.value.plain())
        value = Value(kind, parsed, raw, env if kind == "env" else None)
        return Option(hit.flag, dest, value, span, _setting(spec, parsed))

    def _defined(self, hit: _Hit, raw: str) -> str:
        """The text an unknown value was spliced from (a variable's definition), when it is
        one contiguous run of the file and differs from what is written at the option."""
        loc = hit.value
        if (
            loc is None
            or not loc.offsets
            or not all(loc.is_placeholder(i) for i in range(len(loc.text)))
        ):
            return ""
        offsets = list(loc.offsets)
        if any(b != a + 1 for a, b in pairwise(offsets)):
            return ""
        text = self.ft.text[offsets[0] : offsets[-1] + 1]
        return "" if text == raw else text

    def _written(self, hit: _Hit) -> str:
        """The value as written in the file (``$CONC``, ``${CONC:-4}``, ``8``), for messages."""
        vt = hit.value_token
        if vt is None:
            return ""
        a, b = vt.bounds()
        text = _strip_quotes(self.ft.text[a : min(b, a + 200)])
        if hit.attached is not None:
            if "=" in text and text.startswith("--"):
                text = _strip_quotes(text.split("=", 1)[1])
            else:
                text = _strip_quotes(text[hit.attached :])
        if not text and hit.value is not None:
            own = hit.value.bounds()  # written elsewhere (a variable's value)
            if own is not None:
                text = self.ft.text[own[0] : min(own[1], own[0] + 200)]
        return text

    def _option_span(self, hit: _Hit) -> Span:
        flag = hit.token
        fa, fb = flag.bounds()
        vt = hit.value_token
        if vt is None or vt is flag:
            return self.ft.span(fa, fb)
        va, vb = vt.bounds()
        same_place = flag.spliced == vt.spliced and (not flag.spliced or flag.site == vt.site)
        if same_place and va >= fb:
            return self.ft.span(fa, vb)
        if vt.site[0] >= flag.site[1] and not flag.spliced:
            return self.ft.span(flag.site[0], vt.site[1])
        return self.ft.span(fa, fb)

    def _build(self, tokens: Sequence[Token], cmd: _Cmd) -> CommandLine:
        start, end = self.frame or _extent(tokens)
        return CommandLine(
            span=self.ft.span(start, end),
            subcommand=cmd.subcommand,
            options=tuple(cmd.options),
            app=cmd.app,
            config_module=cmd.config,
            misplaced=tuple(cmd.misplaced),
            unknown=tuple(cmd.unknown),
            legacy=cmd.legacy,
            context=self.context,
            extra_config=tuple(cmd.extra),
        )


def run_script(
    ft: FileText,
    src: Located,
    env: MutableMapping[str, Var],
    mode: Mode = "shell",
    context: str | Callable[[list[Token]], str] = "",
    lenient: bool = False,
    depth: int = 0,
    frame: tuple[int, int] | None = None,
) -> list[CommandLine]:
    """Worker invocations in a script: assignments define variables for the commands after
    them (``env`` is updated in place)."""
    found: list[CommandLine] = []
    for cmd in tokenize(src, env, mode):
        if _define(cmd, env):
            continue
        where = context(cmd) if callable(context) else context
        found.extend(Finder(ft, env, where, frame).find(cmd, lenient, depth))
    return found


# Removed programs (Celery 3.x console scripts and django-celery management commands), and the
# subcommand that replaces each.  Celery 5.7 installs one console script, ``celery``.
LEGACY_PROGRAMS = {
    "celerybeat": "beat",
    "celeryev": "events",
    "celerycam": "events",
}
# What Celery's generic init.d scripts (``extra/generic-init.d/celeryd``, ``celerybeat``) take.
INIT_ACTIONS = frozenset(
    [
        "start",
        "stop",
        "restart",
        "status",
        "reload",
        "force-reload",
        "kill",
        "dryrun",
        "create-paths",
        "graceful",
        "terminate",
        "stopwait",
    ]
)


def _init_script(tokens: Sequence[Token], i: int) -> bool:
    """``/etc/init.d/celeryd start``: Celery's init script, not the removed program."""
    text = tokens[i].text.replace("\\", "/")
    nxt = tokens[i + 1].text if i + 1 < len(tokens) else ""
    return "init.d/" in text or "rc.d/" in text or nxt in INIT_ACTIONS


def _extent(tokens: Sequence[Token]) -> tuple[int, int]:
    return min(t.site[0] for t in tokens), max(t.site[1] for t in tokens)


def _leads_in(text: str) -> bool:
    """A word after which free text may give a command: a prompt, a list dash, a key."""
    return text in ("$", "%", "-", ">", "#") or text.endswith((":", "="))


def _is_program(text: str) -> bool:
    base = _basename(text)
    return base in ("celery", "celeryd", "celeryd-multi", "manage.py", *LEGACY_PROGRAMS) or bool(
        PYTHON.fullmatch(base)
    )


def _setting(spec: OptionSpec | None, value: object) -> str | None:
    if spec is None:
        return None
    if any(type(value) is type(d) and value == d for d in spec.defers):
        return None
    return spec.setting


def _unknown(option: Option) -> Option:
    return Option(option.flag, "", option.value, option.span, None)


def _basename(text: str) -> str:
    return posixpath.basename(text.replace("\\", "/")).lower()


def _sub_token(token: Token, n: int) -> Token:
    """The part of a token after its first ``n`` plain characters, as a token of its own."""
    return Token(token.loc.after_plain(n), token.site, token.raw, token.quoted, token.spliced)


def _after_key(token: Token) -> Token | None:
    """``command=celery`` (supervisord and similar): the program after ``key=``."""
    m = re.match(r"[A-Za-z_][\w.-]*=", token.text)
    if not m:
        return None
    rest = _sub_token(token, m.end())
    base = _basename(rest.text)
    if base in ("celery", "celeryd") or PYTHON.fullmatch(base):
        return rest
    return None


def _define(cmd: list[Token], env: MutableMapping[str, Var]) -> bool:
    """Apply a command that only assigns variables; True if it was one."""
    head = cmd[0]
    if head.text in ("export", "declare", "typeset", "readonly", "local") and not head.quoted:
        for t in cmd[1:]:
            found = assignment(t)
            if found is not None:
                env[found[0]] = Var(found[1])
        return True
    if head.text == "unset" and not head.quoted:
        for t in cmd[1:]:
            env.pop(t.text, None)
        return True
    pairs = [assignment(t) for t in cmd]
    if all(p is not None for p in pairs):
        for p in pairs:
            if p is not None:
                env[p[0]] = Var(p[1])
        return True
    return False


def _click_option(
    tokens: Sequence[Token],
    j: int,
    tables: Sequence[tuple[str, Mapping[str, OptionSpec]]],
    multi: bool = False,
) -> tuple[list[_Hit], int]:
    """Match the option at ``tokens[j]`` the way click's parser does; return hits and the next
    index.  ``multi``: ``celery multi``'s parser (long options take a value only after ``=``,
    short ones only when the next word does not start with ``-``)."""

    def lookup(flag: str) -> tuple[str, OptionSpec | None]:
        for name, table in tables:
            spec = table.get(flag)
            if spec is not None:
                return name, spec
        return "unknown", None

    def next_value(k: int) -> tuple[Token | None, int]:
        if k < len(tokens) and not (multi and tokens[k].text.startswith("-")):
            return tokens[k], k + 1
        return None, k

    t = tokens[j]
    text = t.text
    name = text.split("=", 1)[0]
    if not wo.is_short(name):
        table, spec = lookup(name)
        if spec is not None or text.startswith("--"):
            hit = _Hit(name, spec, table, t)
            if "=" in text:
                if spec is not None and spec.takes_value:
                    hit.value = t.loc.after_plain(len(name) + 1)
                    hit.value_token = t
                    hit.attached = len(name) + 1
                return [hit], j + 1
            if spec is None or not spec.takes_value:
                return [hit], j + 1
            if multi:
                hit.missing = True
                return [hit], j + 1
            vt, k = next_value(j + 1)
            if vt is None:
                hit.missing = True
                return [hit], k
            hit.value, hit.value_token = vt.loc, vt
            return [hit], k
    hits: list[_Hit] = []
    k = 1
    while k < len(text):
        flag = "-" + text[k]
        table, spec = lookup(flag)
        if spec is None:
            shown = name if k == 1 else flag
            hits.append(_Hit(shown, None, "unknown", t))
            break
        hit = _Hit(flag, spec, table, t)
        hits.append(hit)
        if spec.takes_value:
            if k + 1 < len(text):
                hit.value = t.loc.after_plain(k + 1)
                hit.value_token = t
                hit.attached = k + 1
                break
            vt, after = next_value(j + 1)
            if vt is None:
                hit.missing = True
                return hits, after
            hit.value, hit.value_token = vt.loc, vt
            return hits, after
        k += 1
    if multi and j + 1 < len(tokens) and not tokens[j + 1].text.startswith("-"):
        return hits, j + 2  # ``celery multi`` takes it as this option's value
    return hits, j + 1
