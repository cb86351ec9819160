"""bench, optimize and profile share one definition of each common option, one error prefix, and
say "did you mean" for mistyped subcommands, workloads and --fixed keys."""

from __future__ import annotations

import click
import pytest

from tests.conftest import run_cli
from tuner.cli.bench import bench
from tuner.cli.optimize import optimize
from tuner.cli.options import KINDS
from tuner.cli.profile import profile
from tuner.commands import ERROR_PREFIX
from tuner.main import main

COMMANDS = {"bench": bench, "optimize": optimize, "profile": profile}


def _option(command: click.Command, name: str) -> click.Option | None:
    for param in command.params:
        if isinstance(param, click.Option) and name in param.opts:
            return param
    return None


@pytest.mark.parametrize("name", list(COMMANDS))
def test_workload_has_the_short_flag_everywhere(name: str) -> None:
    option = _option(COMMANDS[name], "--workload")
    assert option is not None and "-w" in option.opts


@pytest.mark.parametrize("name", list(COMMANDS))
def test_common_options_have_one_type(name: str) -> None:
    command = COMMANDS[name]
    cpus = _option(command, "--cpus")
    if cpus is not None:
        assert cpus.type == click.FLOAT
    kind = _option(command, "--kind")
    if kind is not None:
        assert isinstance(kind.type, click.Choice) and tuple(kind.type.choices) == KINDS
    for flag in ("--broker", "--scale", "--warmup", "--app", "--task"):
        option = _option(command, flag)
        if option is None:
            continue
        same = _option(bench, flag)
        assert same is not None and option.type == same.type, flag


def test_bench_and_optimize_share_cpus_and_kind() -> None:
    for flag in ("--cpus", "--kind", "--workload", "--app", "--task", "--args-file", "--broker"):
        assert _option(bench, flag) is not None and _option(optimize, flag) is not None, flag


def test_fractional_cpus_are_accepted_by_optimize(capsys: pytest.CaptureFixture[str]) -> None:
    # 1.5 CPUs parses (it used to be an int); the bad objective then stops before any trial.
    code = main(["optimize", "--cpus", "1.5", "--objectives", "throughput,nope"])
    err = capsys.readouterr().err
    assert code == 2 and "unknown objective 'nope'" in err and "--cpus" not in err


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["optimize", "--cpus", "0"], "Invalid value for '--cpus': must be a positive number"),
        (["bench", "--cpus", "-1"], "Invalid value for '--cpus': must be a positive number"),
        (["optimize", "--kind", "gpu"], "'gpu' is not one of 'cpu', 'io', 'mixed'"),
        (["bench", "--kind", "gpu"], "'gpu' is not one of 'cpu', 'io', 'mixed'"),
        (["bnech"], "no such command 'bnech' (did you mean 'bench'?)"),
        (["optimise"], "(did you mean 'optimize'?)"),
        (["optimize", "-w", "cpu-heavytail"], "(did you mean 'cpu-heavy-tail'?)"),
        (["bench", "-w", "cpu-heavy-tale"], "(did you mean 'cpu-heavy-tail'?)"),
        (["profile", "-w", "laeky"], "(did you mean 'leaky'?)"),
        (
            ["optimize", "--fixed", "prefetch_multipler=2"],
            "unknown setting 'prefetch_multipler' (did you mean 'prefetch_multiplier'?)",
        ),
        (
            ["optimize", "--fixed", "worker_send_task_event=true"],
            "(did you mean 'worker_send_task_events'?)",
        ),
    ],
)
def test_one_error_prefix_and_did_you_mean(
    argv: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(argv)
    err = capsys.readouterr().err
    assert code == 2
    last = err.strip().splitlines()[-1]
    assert last.startswith(ERROR_PREFIX) and message in last, err
    assert "Traceback" not in err


def test_no_hint_when_nothing_is_close(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["frobnicate"]) == 2
    assert "did you mean" not in capsys.readouterr().err


def test_the_prefix_is_the_same_from_a_real_process() -> None:
    for argv in (["bench", "-w", "nope"], ["optimize", "-w", "nope"], ["rules", "CT999"]):
        proc = run_cli(*argv)
        assert proc.returncode == 2
        assert proc.stderr.strip().splitlines()[-1].startswith(ERROR_PREFIX), proc.stderr


@pytest.mark.parametrize(
    ("app", "message"),
    [
        ("nosuchmodule:app", "--app nosuchmodule:app: cannot import nosuchmodule: "
         "ModuleNotFoundError: No module named 'nosuchmodule'"),
        ("os:nope", "--app os:nope: module os has no attribute 'nope'"),
    ],
)  # fmt: skip
@pytest.mark.parametrize("command", ["bench", "optimize"])
def test_an_app_that_does_not_load_is_one_line_before_any_worker(
    command: str, app: str, message: str
) -> None:
    proc = run_cli(command, "--app", app, "--task", "x", "--cpus", "1", timeout=120)
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr
    assert proc.stderr.strip().splitlines() == [ERROR_PREFIX + message], proc.stderr
