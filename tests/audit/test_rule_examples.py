"""Every rule fires on the Example in its own docs, and its Use instead is clean: no error or
warning finding at all, from the default set plus the rule itself (an opt-in rule is audited
selected; other opt-in advice, such as "no time limit", is not asked of minimal examples)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tuner.audit import engine, rulebook
from tuner.audit.options import AuditOptions
from tuner.finding import Finding

FILENAMES = {
    "python": "celeryconfig.py",
    "procfile": "Procfile",
    "text": "run-worker.sh",
    "shell": "run-worker.sh",
    "bash": "run-worker.sh",
    "dockerfile": "Dockerfile",
    "yaml": "k8s-worker.yaml",
    "ini": "celery.service",
    "systemd": "celery.service",
}
BLOCK = re.compile(r"```(\w+)\n(.*?)```", re.DOTALL)
# Rules whose example is about the input itself rather than a setting.
NOT_FROM_EXAMPLES = {"CT001", "CT003"}


def _blocks(docs: str, section: str) -> list[tuple[str, str]]:
    body = docs.split(f"## {section}", 1)[1].split("\n## ", 1)[0]
    return BLOCK.findall(body)


CPUS = re.compile(r"audited with --cpus (\d+)")
TOGETHER = re.compile(r"audited together with (\S+\.py)")


def _audit(
    tmp_path: Path, lang: str, code: str, label: str, context: str, rule: str
) -> list[Finding]:
    """Audit one docs block.  The Example's first comment may state its context: the CPUs
    (``audited with --cpus 4``) or a config module it runs with (``audited together with X``)."""
    folder = tmp_path / label
    folder.mkdir()
    name = FILENAMES[lang]
    if lang == "yaml" and "services:" in code:
        name = "docker-compose.yml"
    if lang == "text" and re.match(r"^[\w-]+: ", code):
        name = "Procfile"
    path = folder / name
    path.write_text(code)
    paths = [str(path)]
    cpus = CPUS.search(context)
    together = TOGETHER.search(context)
    if together:
        config = folder / together.group(1)
        config.parent.mkdir(parents=True, exist_ok=True)
        config.write_text("task_time_limit = 60\nbroker_connection_retry_on_startup = True\n")
        paths.append(str(config))
    # Without a stated --cpus, enough CPUs that examples about other things stay clean.
    options = AuditOptions(
        workload="cpu", cpus=float(cpus.group(1)) if cpus else 16, extend_select=(rule,)
    )
    return engine.run(paths, options).findings


RULES = [r for r in rulebook.all_rules().values() if r.code not in NOT_FROM_EXAMPLES]


@pytest.mark.parametrize("rule", RULES, ids=lambda r: r.code)
def test_rule_fires_on_its_example_and_not_on_the_fix(tmp_path: Path, rule: rulebook.Rule) -> None:
    examples = _blocks(rule.docs, "Example")
    fixed = _blocks(rule.docs, "Use instead")
    assert examples and fixed, f"{rule.code}: needs a code block in Example and Use instead"
    lang, code = examples[0]
    context = code.splitlines()[0]
    found = {f.code for f in _audit(tmp_path, lang, code, "example", context, rule.code)}
    assert rule.code in found, f"{rule.code} does not fire on its Example ({lang}): {found}"
    lang, code = fixed[0]
    left = [
        f"{f.code} {f.message}"
        for f in _audit(tmp_path, lang, code, "fixed", context, rule.code)
        if f.severity in ("error", "warning")
    ]
    assert not left, f"{rule.code}: its Use instead ({lang}) still has findings: {left}"
