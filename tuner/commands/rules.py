"""``celery-tune rules [CODE]``: list the rules, or explain one."""

from __future__ import annotations

import json
import sys
from typing import TextIO

from tuner.audit import rulebook
from tuner.commands import error_line


def rules(code: str | None = None, *, as_json: bool = False, out: TextIO | None = None) -> int:
    out = out or sys.stdout
    catalog = rulebook.all_rules()
    if code is None:
        if as_json:
            out.write(
                json.dumps(
                    [
                        {
                            "code": r.code,
                            "name": r.name,
                            "severity": r.severity,
                            "category": r.category,
                            "workloads": list(r.workloads),
                            "set": r.rule_set,
                            "fix": r.fix,
                            "url": r.url,
                        }
                        for r in catalog.values()
                    ],
                    indent=2,
                )
                + "\n"
            )
            return 0
        width = max(len(r.name) for r in catalog.values())
        for r in catalog.values():
            scope = "" if len(r.workloads) == 3 else f"  ({'/'.join(r.workloads)} only)"
            out.write(
                f"{r.code}  {r.name:<{width}}  {r.severity:<7}  {r.rule_set:<7}  "
                f"{r.category}{scope}\n"
            )
        return 0
    rule = rulebook.lookup(code)
    if rule is None:
        sys.stderr.write(error_line(f"no rule {code!r} (see `celery-tune rules`)"))
        return 2
    out.write(f"# {rule.code} {rule.name}\n\n")
    out.write(f"Severity: {rule.severity}. Set: {rule.rule_set}. Category: {rule.category}. ")
    out.write(f"Workloads: {', '.join(rule.workloads)}.\n\nFix: {rule.fix}\n\n")
    out.write(rule.docs)
    return 0
