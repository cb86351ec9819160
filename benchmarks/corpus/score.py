"""Precision of ``celery-tune audit`` on a corpus of real public files (issue 9).

Runs the installed ``celery-tune audit --format json`` over the cached corpus (see
``populate_cache.py``; the files are third-party and never committed), one call per repository
snapshot with every corpus file of that snapshot, so cross-file rules see what they would see in
the project.  Paths are passed relative to the snapshot root, so each file keeps its name and the
reader is chosen as in real use.  Every error and warning finding is matched against
``judgments.json`` (verdict ``right``, ``noise`` or ``wrong``), and the script prints precision
per rule and overall, then the findings nobody has judged yet.

    python benchmarks/corpus/score.py              # the default rule set
    python benchmarks/corpus/score.py --opt-in     # also the rules only --select turns on
    python benchmarks/corpus/score.py --json       # the same, machine-readable

Precision is right / judged.  ``noise`` is a defensible statement the maintainer would not act on;
``wrong`` is a false statement (about Celery or about the file).  The CPU count is fixed with
``--cpus 4`` (a Kubernetes CPU limit next to a command still wins) so that runs on different
machines agree; ``--cpus none`` audits as a user who states no CPU count.
``CELERY_TUNE_SOURCE=/path/to/checkout`` measures that checkout's ``tuner`` instead of the
installed one (to preview a branch).  Exit status: 0, or 2 when the cache is missing.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
from collections import defaultdict
from collections.abc import Iterable
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
INDEX = HERE / "index.tsv"
JUDGMENTS = HERE / "judgments.json"
DEFAULT_CACHE = "/work/corpus-cache"
CPUS = "4"
VERDICTS = ("right", "noise", "wrong")

Finding = dict[str, Any]
RUN_FROM_TREE = (
    "import runpy, sys; tree = sys.argv.pop(1); sys.path.insert(0, tree); "
    "sys.argv[0] = 'celery-tune'; runpy.run_module('tuner', run_name='__main__')"
)


def cache_dir() -> Path:
    return Path(os.environ.get("CELERY_TUNE_CORPUS_CACHE", DEFAULT_CACHE))


def read_index() -> list[dict[str, str]]:
    with open(INDEX, newline="") as f:
        return list(csv.DictReader(f, delimiter="\t"))


def message_key(finding: Finding) -> str:
    """A key for a finding that survives rewording: the setting, else the message's shape."""
    setting = finding.get("setting")
    if setting:
        return str(setting)
    text = str(finding.get("message", "")).lower()
    return re.sub(r"\d+(\.\d+)?", "#", text)[:60]


def audit_tool() -> list[str]:
    tree = os.environ.get("CELERY_TUNE_SOURCE")
    if tree:  # a checkout to measure instead of the installed package
        return [sys.executable, "-c", RUN_FROM_TREE, tree]
    exe = Path(sys.executable).with_name("celery-tune")
    if exe.exists():
        return [str(exe)]
    found = shutil.which("celery-tune")
    if found:
        return [found]
    return [sys.executable, "-m", "tuner"]


def run_audit(root: Path, paths: list[str], extra: list[str], config: Path) -> list[Finding]:
    cmd = [*audit_tool(), "audit", "--format", "json", "--config", str(config)]
    proc = subprocess.run([*cmd, *extra, *paths], cwd=root, capture_output=True, text=True)
    if proc.returncode not in (0, 1, 2) or not proc.stdout.strip():
        raise SystemExit(f"audit failed in {root}: {proc.stderr.strip()[:500]}")
    findings: list[Finding] = json.loads(proc.stdout)["findings"]
    return findings


def collect(cache: Path, extra: list[str]) -> list[Finding]:
    """Audit every snapshot of the corpus; ``extra`` is passed to each ``celery-tune audit``."""
    groups: dict[tuple[str, str], list[str]] = defaultdict(list)
    for row in read_index():
        groups[(row["repo"], row["commit"])].append(row["path"])
    out: list[Finding] = []
    with tempfile.TemporaryDirectory() as tmp:
        config = Path(tmp) / "pyproject.toml"  # isolate from any pyproject above the cache
        config.write_text("[project]\nname = 'corpus'\n")
        for (repo, commit), paths in sorted(groups.items()):
            for finding in run_audit(cache / repo / commit, paths, extra, config):
                finding["file"] = f"{repo}:{finding['path']}"
                finding["key"] = message_key(finding)
                out.append(finding)
    return out


def load_judgments() -> list[dict[str, Any]]:
    if not JUDGMENTS.exists():
        return []
    data: dict[str, Any] = json.loads(JUDGMENTS.read_text())
    judgments: list[dict[str, Any]] = data["judgments"]
    return judgments


def match(findings: Iterable[Finding], judgments: list[dict[str, Any]]) -> None:
    """A verdict applies to the finding it was given for: same file, code, line and message.

    One finding may carry several verdicts, one per wording it has had on main, so older
    measurements stay reproducible.  A finding whose current wording was never judged is
    unjudged (the latest older verdict is kept in ``stale`` for reference)."""
    by_key: dict[tuple[str, str, int, str], list[dict[str, Any]]] = defaultdict(list)
    for judgment in judgments:
        key = (judgment["file"], judgment["code"], judgment["line"], judgment["key"])
        by_key[key].append(judgment)
    for f in findings:
        candidates = by_key.get((f["file"], f["code"], f["line"], f["key"]), [])
        same = [j for j in candidates if j["message"] == f["message"]]
        f["verdict"] = same[0]["verdict"] if same else None
        f["reason"] = same[0]["reason"] if same else None
        f["stale"] = candidates[-1]["verdict"] if candidates and not same else None


def table(findings: list[Finding]) -> dict[str, dict[str, int]]:
    rows: dict[str, dict[str, int]] = defaultdict(lambda: dict.fromkeys((*VERDICTS, "unjudged"), 0))
    for f in findings:
        rows[f["code"]][f["verdict"] or "unjudged"] += 1
    return dict(sorted(rows.items()))


def precision(counts: dict[str, int]) -> float | None:
    judged = sum(counts[v] for v in VERDICTS)
    return counts["right"] / judged if judged else None


def render(title: str, findings: list[Finding]) -> list[str]:
    rows = table(findings)
    total = dict.fromkeys((*VERDICTS, "unjudged"), 0)
    lines = [
        title,
        f"{'rule':<8}{'findings':>9}{'right':>7}{'noise':>7}{'wrong':>7}"
        f"{'unjudged':>10}{'precision':>11}",
    ]
    for code, c in rows.items():
        for k in total:
            total[k] += c[k]
        p = precision(c)
        lines.append(
            f"{code:<8}{sum(c.values()):>9}{c['right']:>7}{c['noise']:>7}{c['wrong']:>7}"
            f"{c['unjudged']:>10}{'-' if p is None else f'{p:.1%}':>11}"
        )
    p = precision(total)
    shown = "-" if p is None else f"{p:.1%}"
    lines.append(
        f"{'all':<8}{sum(total.values()):>9}{total['right']:>7}{total['noise']:>7}"
        f"{total['wrong']:>7}{total['unjudged']:>10}{shown:>11}"
    )
    return lines


def markdown(findings: list[Finding]) -> list[str]:
    rows = table(findings)
    total = dict.fromkeys((*VERDICTS, "unjudged"), 0)
    lines = [
        "| rule | findings | right | noise | wrong | unjudged | precision |",
        "|---|---|---|---|---|---|---|",
    ]
    for code, c in rows.items():
        for k in total:
            total[k] += c[k]
        p = precision(c)
        lines.append(
            f"| {code} | {sum(c.values())} | {c['right']} | {c['noise']} | "
            f"{c['wrong']} | {c['unjudged']} | {'-' if p is None else f'{p:.1%}'} |"
        )
    p = precision(total)
    lines.append(
        f"| **all** | **{sum(total.values())}** | **{total['right']}** | "
        f"**{total['noise']}** | **{total['wrong']}** | **{total['unjudged']}** | "
        f"**{'-' if p is None else f'{p:.1%}'}** |"
    )
    return lines


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--opt-in", action="store_true", help="also score the opt-in rules")
    parser.add_argument("--json", action="store_true", help="print JSON instead of tables")
    parser.add_argument("--markdown", action="store_true", help="print the tables as Markdown")
    parser.add_argument("--unjudged-template", type=Path, help="write unjudged findings here")
    parser.add_argument(
        "--cpus",
        default=CPUS,
        help="the --cpus passed to the audit (default 4); 'none' passes none, as a user who "
        "states no CPU count (then the result may depend on this machine before CT201 stops "
        "using its CPUs)",
    )
    parser.add_argument(
        "--workload",
        choices=("cpu", "io", "mixed"),
        help="the --workload passed to the audit (default: none, so the CPU-bound rules stay "
        "off, as for a user who does not say the tasks are CPU-bound); cpu audits every file "
        "as if its project's tasks were CPU-bound",
    )
    args = parser.parse_args(argv)

    cache = cache_dir()
    rows = read_index()
    missing = [r for r in rows if not (cache / r["repo"] / r["commit"] / r["path"]).is_file()]
    if missing:
        print(
            f"corpus cache incomplete: {len(missing)} of {len(rows)} files missing under "
            f"{cache} (fill it with benchmarks/corpus/populate_cache.py)"
        )
        return 2

    judgments = load_judgments()
    severe = ("error", "warning")
    base = [] if args.cpus == "none" else ["--cpus", args.cpus]
    if args.workload:
        base += ["--workload", args.workload]
    default = [f for f in collect(cache, base) if f["severity"] in severe]
    match(default, judgments)
    opt_in: list[Finding] = []
    if args.opt_in:
        seen = {(f["file"], f["code"], f["line"], f["key"]) for f in default}
        everything = [
            f for f in collect(cache, [*base, "--select", "CT"]) if f["severity"] in severe
        ]
        opt_in = [f for f in everything if (f["file"], f["code"], f["line"], f["key"]) not in seen]
        match(opt_in, judgments)

    if args.json:
        doc = {
            "files": len(rows),
            "default": table(default),
            "opt_in": table(opt_in),
            "findings": default + opt_in,
        }
        print(json.dumps(doc, indent=2))
        return 0

    if args.markdown:
        print("\n".join(markdown(default)))
        if args.opt_in:
            print()
            print("\n".join(markdown(opt_in)))
        return 0

    repos = len({r["repo"] for r in rows})
    print(f"corpus: {len(rows)} files from {repos} repositories; error+warning findings only")
    print("\n".join(render("default rule set", default)))
    if args.opt_in:
        print()
        print("\n".join(render("opt-in rules (only with --select)", opt_in)))
    bad = [f for f in default + opt_in if f["verdict"] in ("wrong", "noise")]
    if bad:
        print("\nnoise and wrong findings:")
        for f in bad:
            print(f"  {f['verdict']:<6}{f['file']}:{f['line']} {f['code']} {f['reason']}")
    unjudged = [f for f in default + opt_in if f["verdict"] is None]
    print(f"\nunjudged findings: {len(unjudged)}")
    for f in unjudged:
        was = f" (was {f['stale']} for an older message)" if f["stale"] else ""
        print(f"  {f['file']}:{f['line']} {f['code']}{was}: {f['message']}")
    if args.unjudged_template:
        template = [
            {
                "file": f["file"],
                "code": f["code"],
                "line": f["line"],
                "key": f["key"],
                "message": f["message"],
                "verdict": "",
                "reason": "",
            }
            for f in unjudged
        ]
        args.unjudged_template.write_text(json.dumps(template, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
