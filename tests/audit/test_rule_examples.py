"""Every rule fires on the Example in its own docs and is silent on its Use instead."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tuner.audit import engine, rulebook
from tuner.audit.options import AuditOptions

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


def _audit(tmp_path: Path, lang: str, code: str, label: str, context: str) -> set[str]:
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
    result = engine.run(paths, AuditOptions(cpus=float(cpus.group(1)) if cpus else 2))
    return {f.code for f in result.findings}


RULES = [r for r in rulebook.all_rules().values() if r.code not in NOT_FROM_EXAMPLES]


@pytest.mark.parametrize("rule", RULES, ids=lambda r: r.code)
def test_rule_fires_on_its_example_and_not_on_the_fix(tmp_path: Path, rule: rulebook.Rule) -> None:
    examples = _blocks(rule.docs, "Example")
    fixed = _blocks(rule.docs, "Use instead")
    assert examples and fixed, f"{rule.code}: needs a code block in Example and Use instead"
    lang, code = examples[0]
    context = code.splitlines()[0]
    found = _audit(tmp_path, lang, code, "example", context)
    assert rule.code in found, f"{rule.code} does not fire on its Example ({lang}): {found}"
    lang, code = fixed[0]
    found = _audit(tmp_path, lang, code, "fixed", context)
    assert rule.code not in found, f"{rule.code} still fires on its Use instead ({lang})"
