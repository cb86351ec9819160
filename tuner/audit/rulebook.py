"""The rule catalog: metadata and docs read from ``rules/CODE.md`` (TOML front matter + Markdown).

The audit's start-up path reads the metadata from :mod:`tuner.audit.rule_index`, generated from
the front matter by ``tools/gen_rule_index.py`` (a test checks that it is current): no
:mod:`tomllib` import and no TOML parsing per run.  The docs body is read when asked for.
"""

from __future__ import annotations

import functools
import re
import sys
from typing import TYPE_CHECKING

from tuner.finding import Category, Severity
from tuner.records import dataclass

if TYPE_CHECKING:
    from pathlib import Path

SECTIONS = ("What it does", "Why is this bad?", "Example", "Use instead", "References")
CODE_RE = re.compile(r"^CT\d{3}$")
NAME_RE = re.compile(r"^[a-z][a-z0-9]*(-[a-z0-9]+)*$")
WORKLOADS = ("cpu", "io", "mixed")
RULE_SETS = ("default", "opt-in")
"""``default``: on unless deselected (near-certain problems); ``opt-in``: advice that depends on
context a file cannot show, on only through ``select``/``extend-select``."""


@dataclass(frozen=True)
class Rule:
    code: str
    name: str
    severity: Severity
    category: Category
    workloads: tuple[str, ...]
    fix: str
    url: str
    rule_set: str = "default"

    @property
    def path(self) -> Path:
        """The rule's Markdown file (``pathlib`` is imported only when a path is asked for)."""
        return rules_dir() / f"{self.code}.md"

    @property
    def default(self) -> bool:
        return self.rule_set == "default"

    @property
    def docs(self) -> str:
        """The Markdown body after the front matter."""
        return _split(self.path.read_text(encoding="utf-8"))[1].strip() + "\n"


@functools.cache
def rules_dir() -> Path:
    """``tuner/_rules`` in an installed wheel, ``rules/`` next to the package in a checkout."""
    from pathlib import Path

    here = Path(__file__).resolve().parent.parent
    for candidate in (here / "_rules", here.parent / "rules"):
        if candidate.is_dir():
            return candidate
    raise FileNotFoundError("the rule catalog (rules/) is missing from this installation")


def _split(text: str) -> tuple[str, str]:
    if not text.startswith("+++\n"):
        raise ValueError("missing +++ front matter")
    end = text.index("\n+++\n", 3)
    return text[4:end], text[end + 5 :]


def parse_front_matter(path: Path) -> dict[str, object]:
    """The TOML front matter of a rule file (for the generator and the tests)."""
    if sys.version_info >= (3, 11):
        import tomllib
    else:  # pragma: no cover
        import tomli as tomllib

    with path.open(encoding="utf-8") as f:
        head = []
        first = f.readline()
        if first != "+++\n":
            raise ValueError(f"{path}: missing +++ front matter")
        for line in f:
            if line == "+++\n":
                break
            head.append(line)
    meta: dict[str, object] = tomllib.loads("".join(head))
    return meta


@functools.cache
def all_rules() -> dict[str, Rule]:
    """Every rule, by code, in code order."""
    from tuner.audit.rule_index import RULES

    return {
        code: Rule(code, name, severity, category, workloads, fix, url, rs)
        for code, name, severity, category, workloads, fix, url, rs in RULES
    }


def by_name() -> dict[str, Rule]:
    return {r.name: r for r in all_rules().values()}


def lookup(key: str) -> Rule | None:
    """A rule by code (``CT201``, case-insensitive) or name (``concurrency-above-cpus``)."""
    return all_rules().get(key.upper()) or by_name().get(key.lower())


def sections(docs: str) -> list[str]:
    return [line[3:].strip() for line in docs.splitlines() if line.startswith("## ")]
