"""Render findings: text, json (the documented contract), sarif (2.1.0), github annotations."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Sequence

from tuner import __version__
from tuner.audit import rulebook
from tuner.finding import Finding

SARIF_LEVEL = {"error": "error", "warning": "warning", "info": "note"}
GITHUB_LEVEL = {"error": "error", "warning": "warning", "info": "notice"}


def summary(findings: Sequence[Finding], files: int, exit_code: int) -> dict[str, object]:
    by_severity = Counter(f.severity for f in findings)
    return {
        "files": files,
        "findings": len(findings),
        "errors": by_severity["error"],
        "warnings": by_severity["warning"],
        "infos": by_severity["info"],
        "fixable": sum(1 for f in findings if f.edit is not None),
        "by_code": dict(sorted(Counter(f.code for f in findings).items())),
        "exit_code": exit_code,
    }


def _plural(n: int, word: str) -> str:
    return f"{n} {word}{'' if n == 1 else 's'}"


def text(findings: Sequence[Finding], files: int, exit_code: int) -> str:
    lines = [f"{f.path}:{f.line}:{f.column}: {f.code} [{f.severity}] {f.message}" for f in findings]
    s = summary(findings, files, exit_code)
    if findings:
        counts = ", ".join(
            _plural(int(str(s[key])), word)
            for key, word in (("errors", "error"), ("warnings", "warning"), ("infos", "info"))
            if s[key]
        )
        tail = f"Found {counts} in {_plural(files, 'file')}."
        if s["fixable"]:
            tail += f" {s['fixable']} fixable with --fix (preview with --diff)."
        lines.append(tail)
    else:
        lines.append(f"All clear: {_plural(files, 'file')} audited, no findings.")
    return "\n".join(lines) + "\n"


def as_json(findings: Sequence[Finding], files: int, exit_code: int) -> str:
    document = {
        "version": 1,
        "findings": [f.as_json() for f in findings],
        "summary": summary(findings, files, exit_code),
    }
    return json.dumps(document, indent=2) + "\n"


def sarif(findings: Sequence[Finding]) -> str:
    rules = list(rulebook.all_rules().values())
    index = {r.code: i for i, r in enumerate(rules)}
    driver = {
        "name": "celery-tune",
        "version": __version__,
        "informationUri": "https://github.com/celery-tune/celery-tune",
        "rules": [
            {
                "id": r.code,
                "name": r.name,
                "shortDescription": {"text": r.name.replace("-", " ")},
                "help": {"text": r.fix},
                "helpUri": r.url,
                "defaultConfiguration": {"level": SARIF_LEVEL[r.severity]},
                "properties": {"category": r.category},
            }
            for r in rules
        ],
    }
    results = []
    for f in findings:
        region: dict[str, int] = {"startLine": f.line, "startColumn": f.column}
        if f.end_line:
            region["endLine"] = f.end_line
            region["endColumn"] = max(f.end_column, 1)
        results.append(
            {
                "ruleId": f.code,
                "ruleIndex": index[f.code],
                "level": SARIF_LEVEL[f.severity],
                "message": {"text": f.message},
                "locations": [
                    {
                        "physicalLocation": {
                            "artifactLocation": {"uri": f.path.replace("\\", "/")},
                            "region": region,
                        }
                    }
                ],
            }
        )
    document = {
        "$schema": "https://json.schemastore.org/sarif-2.1.0.json",
        "version": "2.1.0",
        "runs": [{"tool": {"driver": driver}, "results": results}],
    }
    return json.dumps(document, indent=2) + "\n"


def _escape(value: str, *, prop: bool = False) -> str:
    value = value.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")
    if prop:
        value = value.replace(":", "%3A").replace(",", "%2C")
    return value


def github(findings: Sequence[Finding]) -> str:
    """GitHub Actions workflow commands: ``::warning file=...,line=...::message``."""
    out = []
    for f in findings:
        props = f"file={_escape(f.path, prop=True)},line={f.line},col={f.column}"
        if f.end_line:
            props += f",endLine={f.end_line},endColumn={f.end_column}"
        title = _escape(f"{f.code} {f.name}", prop=True)
        out.append(f"::{GITHUB_LEVEL[f.severity]} {props},title={title}::{_escape(f.message)}")
    return "\n".join(out) + ("\n" if out else "")


def render(fmt: str, findings: Sequence[Finding], files: int, exit_code: int) -> str:
    if fmt == "json":
        return as_json(findings, files, exit_code)
    if fmt == "sarif":
        return sarif(findings)
    if fmt == "github":
        return github(findings)
    return text(findings, files, exit_code)
