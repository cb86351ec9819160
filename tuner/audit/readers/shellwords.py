"""Shell-like words with exact file positions.

The tokenizer works on :class:`Located` text: a string whose every character knows the offset in
the file it came from.  That keeps exact positions through quotes, backslash-newline
continuations, YAML/JSON string escapes and variable expansion: a word spliced from
``OPTS="--concurrency=8"`` points at the place where ``--concurrency=8`` is written.

Parts that cannot be known statically (``$UNSET``, ``$(cmd)``, ``$1``) become placeholder
characters tagged ``unknown``; characters from the default of an unset variable
(``${CONC:-4}``) are tagged ``env``.  Values built from them carry that kind.
"""

from __future__ import annotations

import re
from bisect import bisect_right
from collections.abc import Iterator, Mapping, Sequence
from functools import cached_property
from typing import Literal

from tuner.audit.model import Span, ValueKind
from tuner.records import dataclass, field

LINE_END = re.compile(r"\r\n|\r|\n")
NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
ASSIGNMENT = re.compile(r"[A-Za-z_][A-Za-z0-9_]*=")
PLACEHOLDER = "\0"
# Runs of characters with no special meaning, taken in one step.
PLAIN_RUN = re.compile(r"[^ \t\n\r\f\v\\'\"`$;&|()<>]+")
PLAIN_WORD_RUN = re.compile(r"[^$]+")

# How ``$`` and quotes behave: a POSIX shell; free text (a shell, but backticks delimit commands,
# as in Markdown); Compose interpolation (also inside single quotes, ``$$`` is a literal ``$``);
# systemd (like Compose); Kubernetes (only ``$(VAR)``); none.
Mode = Literal["shell", "text", "compose", "systemd", "kubernetes", "plain"]
Tag = tuple[ValueKind, str | None]

SHELLISH = ("shell", "text")


# --------------------------------------------------------------------------- positions


class FileText:
    """A file's text with fast offset -> (line, column) lookups (1-based, columns in chars)."""

    def __init__(self, text: str) -> None:
        self.text = text
        starts, ends = [0], []
        for m in LINE_END.finditer(text):
            ends.append(m.start())
            starts.append(m.end())
        ends.append(len(text))
        self._starts = starts
        self._ends = ends

    @property
    def lines(self) -> list[str]:
        lines = [self.text[a:b] for a, b in zip(self._starts, self._ends, strict=True)]
        if len(lines) > 1 and lines[-1] == "":
            lines.pop()  # a final line break does not start a line
        return lines

    def line_start(self, line: int) -> int:
        """The offset where a (1-based) line starts."""
        return self._starts[min(max(line, 1), len(self._starts)) - 1]

    def position(self, offset: int) -> tuple[int, int]:
        offset = min(max(offset, 0), len(self.text))
        i = bisect_right(self._starts, offset) - 1
        return i + 1, min(offset, self._ends[i]) - self._starts[i] + 1

    def span(self, start: int, end: int) -> Span:
        line, column = self.position(start)
        end_line, end_column = self.position(max(start, end))
        return Span(line, column, end_line, end_column)

    def whole(self) -> Located:
        return Located(self.text, range(len(self.text)))

    def located(self, start: int, end: int) -> Located:
        """The file's text between two offsets."""
        return Located(self.text[start:end], range(start, end))


@dataclass(frozen=True)
class Located:
    """Text whose characters each carry a file offset.

    ``tags`` marks characters by index: ``("env", NAME)`` for text from the default of an unset
    variable, ``("unknown", NAME or None)`` for a placeholder standing for unknowable text.

    ``sites`` says where each character is *written*, when that differs from where it comes
    from: a character spliced from a variable comes from the definition but is written at the
    ``$VAR`` reference.  That matters when the text is split again (``sh -c "..."``).
    """

    text: str
    offsets: Sequence[int]
    tags: Mapping[int, Tag] = field(default_factory=dict)
    sites: Sequence[int] | None = None

    def __len__(self) -> int:
        return len(self.text)

    def slice(self, start: int, end: int | None = None) -> Located:
        end = len(self.text) if end is None else end
        tags = {i - start: t for i, t in self.tags.items() if start <= i < end}
        sites = self.sites[start:end] if self.sites is not None else None
        return Located(self.text[start:end], self.offsets[start:end], tags, sites)

    def is_placeholder(self, i: int) -> bool:
        tag = self.tags.get(i)
        return tag is not None and tag[0] == "unknown"

    def plain(self) -> str:
        """The text without placeholders."""
        if not self.tags:
            return self.text
        return "".join(c for i, c in enumerate(self.text) if not self.is_placeholder(i))

    def after_plain(self, n: int) -> Located:
        """What follows the first ``n`` characters of :meth:`plain`."""
        if n <= 0:
            return self
        seen = 0
        for i in range(len(self.text)):
            if not self.is_placeholder(i):
                seen += 1
                if seen == n:
                    return self.slice(i + 1)
        return self.slice(len(self.text))

    def kind(self) -> tuple[ValueKind, str | None]:
        """``unknown`` if any part is unknown, else ``env`` if any part has an env default."""
        found: tuple[ValueKind, str | None] = ("known", None)
        for i in sorted(self.tags):
            tag = self.tags[i]
            if tag[0] == "unknown":
                return tag
            if found[0] == "known":
                found = tag
        return found

    def bounds(self) -> tuple[int, int] | None:
        """File offsets of the first character and just past the end of its contiguous run."""
        offs = [o for i, o in enumerate(self.offsets) if not self.is_placeholder(i)]
        if not offs:
            return None
        start = last = offs[0]
        for o in offs[1:]:
            if o <= last:
                break
            last = o
        return start, last + 1


@dataclass(frozen=True)
class Var:
    """A variable's value.  ``overridable``: the runtime environment may replace it (Dockerfile
    ``ENV``), so what it yields is an ``env`` value with this as the default."""

    value: Located
    overridable: bool = False


@dataclass(frozen=True)
class Token:
    """One word of a command line.

    ``site`` is where the word is written (file offsets); ``spliced`` says that none of its
    characters is written there (they all come from variables), so ``bounds`` gives their place.
    """

    loc: Located
    site: tuple[int, int]
    raw: str
    quoted: bool = False
    spliced: bool = False

    @cached_property
    def text(self) -> str:
        return self.loc.plain()

    @cached_property
    def kind(self) -> tuple[ValueKind, str | None]:
        return self.loc.kind()

    def bounds(self) -> tuple[int, int]:
        if self.spliced:
            found = self.loc.bounds()
            if found is not None:
                return found
        return self.site

    def is_option(self) -> bool:
        text = self.text
        return len(text) > 1 and text[0] == "-"


# --------------------------------------------------------------------------- tokenizer


class _Word:
    __slots__ = ("chars", "literal", "offs", "quoted", "site_end", "site_start", "sites", "tags")

    def __init__(self, site_start: int) -> None:
        self.chars: list[str] = []
        self.offs: list[int] = []
        self.sites: list[int] = []
        self.tags: dict[int, Tag] = {}
        self.site_start = site_start
        self.site_end = site_start
        self.quoted = False
        self.literal = False


class _Lexer:
    """A small POSIX-shell word splitter with expansion, on located text."""

    def __init__(
        self, src: Located, env: Mapping[str, Var], mode: Mode, word_mode: bool, base: int = 0
    ) -> None:
        self.src = src
        self.base = base
        self.s = src.text
        self.env = env
        self.mode = mode
        self.word_mode = word_mode
        self.word: _Word | None = None
        self.cmd: list[Token] = []
        self.done: list[list[Token]] = []
        self.drop_next = False
        self.force: list[Tag] = []
        self.site: int | None = None  # where words start while a parameter default is expanded
        self.fast = not src.tags and src.sites is None
        self.depth = 0

    # -- driving

    def commands(self) -> Iterator[list[Token]]:
        i, n = 0, len(self.s)
        while i < n:
            i = self._step(i, n, nested=False)
            while self.done:
                yield self.done.pop(0)
        self._end_word()
        self._end_cmd()
        while self.done:
            yield self.done.pop(0)

    def single_word(self) -> Token:
        n = len(self.s)
        self._ensure(0).quoted = True
        i = 0
        while i < n:
            i = self._step(i, n, nested=True)
        self._end_word()
        if self.cmd:
            return self.cmd[0]
        start = self._offset(0)
        return Token(Located("", ()), (start, start), self.s, quoted=True)

    # -- words

    def _offset(self, i: int) -> int:
        """Where input character ``i`` comes from."""
        offs = self.src.offsets
        if not offs:
            return self.base
        if i < len(offs):
            return offs[i]
        return offs[-1] + 1

    def _site(self, i: int) -> int:
        """Where input character ``i`` is written."""
        if self.src.sites is None or not self.src.sites:
            return self._offset(i)
        if i < len(self.src.sites):
            return self.src.sites[i]
        return self.src.sites[-1] + 1

    def _ensure(self, site: int) -> _Word:
        if self.word is None:
            self.word = _Word(site if self.site is None else self.site)
        return self.word

    def _add(self, ch: str, off: int, at: int, tag: Tag | None, site: int, site_end: int) -> _Word:
        """Append a character from ``off``, written at ``at``, to the word written at input
        ``site:site_end``."""
        w = self._ensure(site)
        if tag is None and self.force:
            tag = self.force[-1]
        if tag is not None:
            w.tags[len(w.chars)] = tag
        w.chars.append(ch)
        w.offs.append(off)
        w.sites.append(at)
        w.site_end = max(w.site_end, site_end)
        return w

    def _char(self, i: int, site: int | None = None) -> None:
        tag = self.src.tags.get(i)
        if tag is not None and tag[0] == "unknown":
            self._unknown(i, i + 1, tag[1])
            return
        off, at = self._offset(i), self._site(i)
        w = self._add(self.s[i], off, at, tag, i if site is None else site, i + 1)
        if off == at:
            w.literal = True  # else it was spliced in by an outer expansion

    def _run(self, i: int, j: int) -> None:
        """Plain characters ``i:j`` of an input without tags or sites."""
        w = self._ensure(i)
        if self.force:
            for k in range(len(w.chars), len(w.chars) + j - i):
                w.tags[k] = self.force[-1]
        w.chars.extend(self.s[i:j])
        offs = self.src.offsets[i:j]
        w.offs.extend(offs)
        w.sites.extend(offs)
        w.site_end = max(w.site_end, j)
        w.literal = True

    def _placeholder(self, off: int, at: int, env: str | None, site: int, site_end: int) -> None:
        w = self._add(PLACEHOLDER, off, at, ("unknown", env), site, site_end)
        w.tags[len(w.chars) - 1] = ("unknown", env)
        w.literal = True

    def _unknown(self, start: int, end: int, env: str | None) -> None:
        """Unknowable text written at ``start:end``: one placeholder per character written."""
        tag = self.src.tags.get(start)
        if tag is not None and tag[0] == "unknown":
            env = tag[1]
        for k in range(start, min(max(end, start + 1), len(self.s))):
            self._placeholder(self._offset(k), self._site(k), env, start, end)

    def _end_word(self) -> None:
        w, self.word = self.word, None
        if w is None or (not w.chars and not w.quoted):
            return
        if self.drop_next:
            self.drop_next = False
            return
        loc = Located("".join(w.chars), tuple(w.offs), w.tags, tuple(w.sites))
        start = end = self._site(w.site_start)
        if w.site_end > w.site_start and isinstance(self.src.offsets, range) and self.fast:
            end = self._offset(w.site_end - 1) + 1  # plain file text: contiguous
        elif w.site_end > w.site_start:
            # Where the word is written: the run of non-decreasing places from its start.
            last = start
            for k in range(w.site_start + 1, w.site_end):
                at = self._site(k)
                if at < last:
                    break
                last = at
            end = last + 1
        spliced = not w.literal and bool(w.chars)
        raw = self.s[w.site_start : w.site_end]
        self.cmd.append(Token(loc, (start, end), raw, w.quoted, spliced))

    def _end_cmd(self) -> None:
        self.drop_next = False
        if self.cmd:
            self.done.append(self.cmd)
            self.cmd = []

    # -- scanning

    def _step(self, i: int, stop: int, nested: bool) -> int:
        s = self.s
        c = s[i]
        if self.fast and (c != "#" or self.word is not None):
            m = (PLAIN_WORD_RUN if self.word_mode else PLAIN_RUN).match(s, i, stop)
            if m:
                self._run(i, m.end())
                return m.end()
        if self.src.is_placeholder(i):
            self._char(i)
            return i + 1
        if self.word_mode:
            if c == "$":
                return self._dollar(i, stop, quoted=True)
            self._char(i)
            return i + 1
        if c == "\\":
            return self._backslash(i, stop)
        if c in " \t\f\v" or c == "\n" or c == "\r":
            self._end_word()
            if not nested and (c == "\n" or (c == "\r" and s[i + 1 : i + 2] != "\n")):
                self._end_cmd()
            return i + 1
        if not nested:
            if c == "#" and self.word is None and self.mode in SHELLISH:
                m = LINE_END.search(s, i, stop)
                return stop if m is None else m.start()
            if c in ";&|()":
                self._end_word()
                self._end_cmd()
                j = i + 1
                if j < stop and s[j] in "&|;" and c in "&|;":
                    j += 1
                return j
            if c in "<>":
                return self._redirect(i, stop)
        if c == "'":
            expand = self.mode in ("compose", "systemd")
            return self._quoted(i, stop, "'", expand=expand, escapes=False)
        if c == '"':
            return self._quoted(i, stop, '"', expand=True, escapes=True)
        if c == "`" and self.mode == "shell":
            return self._backtick(i, stop)
        if c == "`" and self.mode == "text" and not nested:
            self._end_word()  # Markdown inline code: `celery -A proj worker`
            self._end_cmd()
            return i + 1
        if c == "$":
            return self._dollar(i, stop, quoted=False)
        self._char(i)
        return i + 1

    def _backslash(self, i: int, stop: int) -> int:
        j = i + 1
        if j >= stop:
            return j
        if self.s[j] == "\n":
            return j + 1
        if self.s[j] == "\r":
            return j + 2 if self.s[j + 1 : j + 2] == "\n" else j + 1
        self._char(j, site=i)
        return j + 1

    def _redirect(self, i: int, stop: int) -> int:
        s = self.s
        w = self.word
        digits = w is not None and not w.quoted and s[w.site_start : i].isdigit()
        if digits:
            self.word = None  # the file descriptor of ``2>``
        else:
            self._end_word()
        j = i
        while j < stop and s[j] in "<>&":
            j += 1
        if s[j - 1] == "&" and j < stop and (s[j].isdigit() or s[j] == "-"):
            while j < stop and (s[j].isdigit() or s[j] == "-"):
                j += 1
        else:
            self.drop_next = True  # the file name (or here-document delimiter)
        return j

    def _quoted(self, i: int, stop: int, q: str, expand: bool, escapes: bool) -> int:
        s = self.s
        w = self._ensure(i)
        w.quoted = True
        j = i + 1
        while j < stop:
            c = s[j]
            if self.src.is_placeholder(j):
                self._char(j)
                j += 1
                continue
            if c == q:
                j += 1
                break
            if escapes and c == "\\" and j + 1 < stop:
                nxt = s[j + 1]
                if nxt == "\n":
                    j += 2
                    continue
                if nxt in '$`"\\':
                    self._char(j + 1, site=j)
                    j += 2
                    continue
            if expand and c == "$":
                j = self._dollar(j, stop, quoted=True)
                continue
            if expand and c == "`" and q == '"' and self.mode == "shell":
                j = self._backtick(j, stop)
                continue
            self._char(j)
            j += 1
        self._ensure(i).site_end = max(self._ensure(i).site_end, j)
        return j

    def _backtick(self, i: int, stop: int) -> int:
        j = i + 1
        while j < stop and self.s[j] != "`":
            j += 2 if self.s[j] == "\\" else 1
        end = min(j + 1, stop)
        self._unknown(i, end, None)
        return end

    def _match(self, j: int, stop: int, opener: str, closer: str) -> int:
        """Index of the closer matching an opener just before ``j`` (``stop`` if none)."""
        s = self.s
        depth = 1
        while j < stop:
            c = s[j]
            if c == "\\":
                j += 2
                continue
            if c in "'\"" and not self.word_mode:
                k = s.find(c, j + 1, stop)
                j = stop if k == -1 else k + 1
                continue
            if c == opener:
                depth += 1
            elif c == closer:
                depth -= 1
                if depth == 0:
                    return j
            j += 1
        return stop

    def _dollar(self, i: int, stop: int, quoted: bool) -> int:
        s = self.s
        j = i + 1
        if j >= stop:
            self._char(i)
            return j
        c = s[j]
        if c == "$" and self.mode in ("compose", "systemd", "kubernetes"):
            self._char(i)  # ``$$`` is a literal ``$``
            return j + 1
        if self.mode == "kubernetes":
            if c == "(":
                k = s.find(")", j, stop)
                name = s[j + 1 : k] if k != -1 else ""
                if k != -1 and NAME.fullmatch(name):
                    self._var(name, i, k + 1, quoted=True)
                    return k + 1
            self._char(i)
            return j
        if self.mode == "plain":
            self._char(i)
            return j
        if c == "{":
            return self._brace(i, stop, quoted)
        if c == "(" and self.mode in SHELLISH:
            k = self._match(j + 1, stop, "(", ")")
            end = min(k + 1, stop)
            self._unknown(i, end, None)
            return end
        if c in "'\"" and not quoted and self.mode in SHELLISH and not self.word_mode:
            return self._quoted(j, stop, c, expand=c == '"', escapes=c == '"')
        m = NAME.match(s, j, stop)
        if m:
            self._var(m.group(), i, m.end(), quoted)
            return m.end()
        if c.isdigit() or c in "@*#?-!$":
            self._unknown(i, j + 1, None)
            return j + 1
        self._char(i)
        return j

    def _brace(self, i: int, stop: int, quoted: bool) -> int:
        s = self.s
        j = i + 2
        k = self._match(j, stop, "{", "}")
        end = min(k + 1, stop)
        m = NAME.match(s, j, k)
        if not m:
            self._unknown(i, end, None)
            return end
        name, p = m.group(), m.end()
        if p == k:
            self._var(name, i, end, quoted)
            return end
        op = ""
        for cand in (":-", ":=", ":?", ":+", "-", "=", "?", "+"):
            if s.startswith(cand, p):
                op = cand
                break
        if not op:
            self._unknown(i, end, name)
            return end
        self._var(name, i, end, quoted, op, (p + len(op), k))
        return end

    def _var(
        self,
        name: str,
        i: int,
        end: int,
        quoted: bool,
        op: str = "",
        arg: tuple[int, int] | None = None,
    ) -> None:
        var = self.env.get(name)
        nonempty = var is not None and var.value.text != ""
        if op in ("", ":?", "?"):
            if var is None:
                self._unknown(i, end, name)
            else:
                self._splice(name, var, i, end, quoted)
        elif op in (":-", "-", ":=", "="):
            if var is not None and (nonempty or op in ("-", "=")):
                self._splice(name, var, i, end, quoted)
            elif arg is not None:
                self._scan(arg[0], arg[1], quoted, ("env", name) if var is None else None, i)
        elif var is None:
            self._unknown(i, end, name)
        elif (nonempty or op == "+") and arg is not None:
            self._scan(arg[0], arg[1], quoted, None, i)
        if self.word is not None:
            self.word.site_end = max(self.word.site_end, end)

    def _splice(self, name: str, var: Var, i: int, end: int, quoted: bool) -> None:
        """A variable's value in place of ``$VAR`` (input ``i:end``).  Its characters are written
        at the reference: the last one at its end, the others at its start."""
        value = var.value
        first, last = self._site(i), self._site(end - 1)
        for idx, ch in enumerate(value.text):
            at = last if idx == len(value.text) - 1 else first
            tag = value.tags.get(idx)
            if var.overridable and (tag is None or tag[0] == "env"):
                tag = ("env", name)
            if tag is not None and tag[0] == "unknown":
                self._placeholder(value.offsets[idx], at, tag[1], i, end)
                continue
            if not quoted and ch in " \t\n":
                if self.word is not None:
                    self.word.site_end = max(self.word.site_end, end)
                self._end_word()
                continue
            self._add(ch, value.offsets[idx], at, tag, i, end)
        if quoted:
            self._ensure(i).site_end = max(self._ensure(i).site_end, end)

    def _scan(self, a: int, b: int, quoted: bool, tag: Tag | None, site: int) -> None:
        """Expand the text of a parameter default (``${X:-a b}``) in place."""
        if self.depth > 20:
            self._unknown(site, b, tag[1] if tag else None)
            return
        self.depth += 1
        if tag is not None:
            self.force.append(tag)
        outer, self.site = self.site, site if self.site is None else self.site
        if quoted:
            self._ensure(site)
        j = a
        while j < b:
            if quoted:
                c = self.s[j]
                if c == "\\" and j + 1 < b and self.s[j + 1] in '$`"\\':
                    self._char(j + 1, site=j)
                    j += 2
                elif c == "$":
                    j = self._dollar(j, b, quoted=True)
                else:
                    self._char(j)
                    j += 1
            else:
                j = self._step(j, b, nested=True)
        self.site = outer
        if tag is not None:
            self.force.pop()
            w = self.word
            if w is not None and not any(t[0] != "known" for t in w.tags.values()):
                w.tags.setdefault(len(w.chars) - 1 if w.chars else 0, tag)
        self.depth -= 1


def tokenize(src: Located, env: Mapping[str, Var], mode: Mode = "shell") -> Iterator[list[Token]]:
    """Split text into commands of words.  ``env`` is read as the text is scanned, so a caller
    may add assignments between the commands it receives."""
    return _Lexer(src, env, mode, word_mode=False).commands()


def expand_word(src: Located, env: Mapping[str, Var], mode: Mode, base: int = 0) -> Token:
    """One list item (exec form, YAML list) as one word: expansion only, no splitting.
    ``base`` is the file offset used for an empty item."""
    return _Lexer(src, env, mode, word_mode=True, base=base).single_word()


def assignment(token: Token) -> tuple[str, Located] | None:
    """``NAME=value`` written as a shell assignment."""
    m = ASSIGNMENT.match(token.raw)
    if not m or not token.text.startswith(m.group()):
        return None
    name = m.group()[:-1]
    return name, token.loc.slice(len(name) + 1)


def concat(parts: Sequence[Located]) -> Located:
    """Located texts joined end to end."""
    text: list[str] = []
    offsets: list[int] = []
    sites: list[int] = []
    tags: dict[int, Tag] = {}
    for part in parts:
        base = len(offsets)
        tags.update({base + i: t for i, t in part.tags.items()})
        text.append(part.text)
        offsets.extend(part.offsets)
        sites.extend(part.offsets if part.sites is None else part.sites)
    return Located("".join(text), offsets, tags, None if sites == offsets else sites)


def align(value: str, src: Located, start: int, end: int) -> Located:
    """``value``, decoded from ``src.text[start:end]`` (quotes dropped, escapes resolved, lines
    folded), with each character placed on the source character it most likely came from."""
    start = max(0, min(start, len(src.text)))
    end = max(start, min(end, len(src.text)))
    if src.text[start:end] == value:
        return src.slice(start, end)
    if not src.offsets:
        return Located(value, [0] * len(value))
    offsets: list[int] = []
    j = start
    for ch in value:
        k = src.text.find(ch, j, min(end, j + 200))
        if k == -1:
            offsets.append(src.offsets[min(max(start, min(j, end - 1)), len(src.offsets) - 1)])
        else:
            offsets.append(src.offsets[k])
            j = k + 1
    return Located(value, offsets)
