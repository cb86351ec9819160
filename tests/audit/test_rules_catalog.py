"""Every rule has a stable code, a kebab-case name, complete docs, a check, and a README row."""

from __future__ import annotations

import re
import sys
from pathlib import Path

import pytest

from tuner.audit import rulebook

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

ROOT = Path(__file__).resolve().parents[2]
RULES = list(rulebook.all_rules().values())


def test_catalog_is_not_empty_and_codes_are_unique() -> None:
    assert len(RULES) >= 30
    assert len({r.code for r in RULES}) == len(RULES)
    assert len({r.name for r in RULES}) == len(RULES)


@pytest.mark.parametrize("rule", RULES, ids=lambda r: r.code)
def test_rule_metadata(rule: rulebook.Rule) -> None:
    assert rulebook.CODE_RE.match(rule.code)
    assert rule.path.name == f"{rule.code}.md"
    assert rulebook.NAME_RE.match(rule.name), rule.name
    assert rule.severity in ("error", "warning", "info")
    assert rule.category in ("performance", "reliability", "security", "correctness", "deprecation")
    assert rule.workloads and set(rule.workloads) <= set(rulebook.WORKLOADS)
    assert rule.fix.strip() and rule.url.startswith("https://")
    assert rule.rule_set in rulebook.RULE_SETS


@pytest.mark.parametrize("rule", RULES, ids=lambda r: r.code)
def test_rule_docs_state_the_set_and_why(rule: rulebook.Rule) -> None:
    what = rule.docs.split("## What it does", 1)[1].split("\n## ", 1)[0]
    match = re.search(r"^Set: \*\*([\w-]+)[^*]*\*\*\. (\S.{20,})", what, re.MULTILINE | re.DOTALL)
    assert match, f"{rule.code}: 'What it does' must end with 'Set: **<set>**. <why>'"
    assert match.group(1) == rule.rule_set


@pytest.mark.parametrize("rule", RULES, ids=lambda r: r.code)
def test_rule_docs_have_every_section_in_order(rule: rulebook.Rule) -> None:
    docs = rule.docs
    assert rulebook.sections(docs) == list(rulebook.SECTIONS)
    bodies = re.split(r"^## .*$", docs, flags=re.MULTILINE)[1:]
    for title, body in zip(rulebook.SECTIONS, bodies, strict=True):
        assert body.strip(), f"{rule.code}: section {title!r} is empty"
    references = bodies[-1]
    assert "https://" in references, f"{rule.code}: References must cite a URL"
    assert re.search(r"celery", references, re.IGNORECASE), f"{rule.code}: cite Celery docs/source"


def test_every_rule_is_reported_by_some_check_and_every_reported_code_exists() -> None:
    source = "\n".join(p.read_text() for p in (ROOT / "tuner" / "audit").rglob("*.py"))
    reported = set(re.findall(r'"(CT\d{3})"', source))
    codes = {r.code for r in RULES}
    assert codes - reported == set(), "rules with no check"
    assert reported - codes == set(), "checks reporting undocumented codes"


def test_readme_table_matches_the_rule_files() -> None:
    table = (ROOT / "rules" / "README.md").read_text()
    rows = re.findall(
        r"^\| (CT\d{3}) \| ([a-z0-9-]+) \| (\w+) \| (\w+) \| ([\w-]+) \|", table, re.MULTILINE
    )
    assert set(rows) == {(r.code, r.name, r.severity, r.category, r.rule_set) for r in RULES}


def test_front_matter_is_plain_toml() -> None:
    for rule in RULES:
        head = rule.path.read_text().split("+++")[1]
        meta = tomllib.loads(head)
        assert meta["code"] == rule.code
        assert meta["set"] in rulebook.RULE_SETS, f"{rule.code}: `set` must be written out"


def test_generated_rule_index_matches_the_rule_files() -> None:
    # The audit reads the metadata from tuner/audit/rule_index.py (no TOML parsing at start-up);
    # regenerate it with `python tools/gen_rule_index.py` after editing a rule's front matter.
    import subprocess

    proc = subprocess.run(
        [sys.executable, str(ROOT / "tools" / "gen_rule_index.py"), "--check"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    for rule in RULES:
        meta = rulebook.parse_front_matter(rule.path)
        assert (rule.name, rule.severity, rule.category, rule.rule_set, rule.fix, rule.url) == (
            meta["name"], meta["severity"], meta["category"], meta["set"], meta["fix"], meta["url"]
        )  # fmt: skip
    files = sorted(p.stem for p in (ROOT / "rules").glob("CT[0-9][0-9][0-9].md"))
    assert [r.code for r in RULES] == files
