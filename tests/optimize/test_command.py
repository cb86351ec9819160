"""Bad input: exit code 2 and one clear line, before any worker starts."""

from __future__ import annotations

import io
from pathlib import Path

import pytest

from tests.conftest import run_cli
from tuner.commands.optimize import OptimizeOptions, optimize


def _run(tmp_path: Path, **kw: object) -> tuple[int, str]:
    err = io.StringIO()
    options = OptimizeOptions(out=str(tmp_path / "out"), **{"probe": False, **kw})  # type: ignore[arg-type]
    code = optimize(options, out=io.StringIO(), err=err)
    return code, err.getvalue()


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"workload": "cpu-hevy"}, "unknown workload 'cpu-hevy'"),
        ({"fixed": ("worker_num_processes=4",)}, "unknown setting 'worker_num_processes'"),
        ({"fixed": ("concurrency=0",)}, "concurrency must be >= 1"),
        ({"objectives": "throughput,latency"}, "unknown objective 'latency'"),
        ({"objective": "p99", "objectives": "throughput,p99"}, "not both"),
        ({"workload": "io", "objective": "efficiency"}, "needs a CPU workload"),
        ({"p99_slo": -1.0}, "--p99-slo must be a positive"),
        ({"max_rss": -5.0}, "--max-rss must be a positive"),
        ({"objectives": "rss"}, "next to another objective"),
        ({"trials": 0}, "--trials must be >= 1"),
        ({"rate": 10.0, "load": 0.5}, "--rate or --load"),
        ({"broker": "redis://127.0.0.1:1/0"}, "unreachable"),
        ({"broker": "kafka://x"}, "unsupported scheme"),
    ],
)
def test_usage_errors(tmp_path: Path, options: dict[str, object], message: str) -> None:
    code, err = _run(tmp_path, **options)
    assert code == 2
    assert message in err
    assert err.count("\n") == 1 and "Traceback" not in err
    assert not (tmp_path / "out").exists()  # nothing started, nothing written


def test_bad_space_file_names_the_line(tmp_path: Path) -> None:
    space = tmp_path / "space.toml"
    space.write_text("pool = ['prefork']\nconcurrency = {low = 4, high = 1}\n")
    code, err = _run(tmp_path, space=str(space))
    assert code == 2 and f"{space}:2: concurrency: low (4) must be <= high (1)" in err


def test_bad_config_file_names_the_file(tmp_path: Path) -> None:
    code, err = _run(tmp_path, config=str(tmp_path / "missing.py"))
    assert code == 2 and "missing.py" in err and "Traceback" not in err


def test_storage_errors_are_one_line(tmp_path: Path) -> None:
    code, err = _run(tmp_path, storage="postgresql://u:pw@127.0.0.1:1/x", trials=1)
    assert code == 2
    assert "cannot open the study storage" in err and "pw@" not in err
    assert "Traceback" not in err


def test_cli_help_and_usage_error_exit_codes() -> None:
    result = run_cli("optimize", "--help")
    assert result.returncode == 0
    for option in ("--space", "--fixed", "--objectives", "--p99-slo", "--storage", "--confirm"):
        assert option in result.stdout
    result = run_cli("optimize", "--workload", "nope")
    assert result.returncode == 2
    assert "unknown workload 'nope'" in result.stderr and "Traceback" not in result.stderr
