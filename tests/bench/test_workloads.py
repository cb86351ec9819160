from __future__ import annotations

import itertools
import time
import zlib
from pathlib import Path

import pytest

from tuner.bench import tasks
from tuner.bench.errors import BenchError
from tuner.bench.workloads import PRESETS, iterations, load_workload, preset, resolve


def test_presets_are_calibrated_in_cpu_seconds() -> None:
    assert set(PRESETS) == {
        "cpu",
        "cpu-heavy-tail",
        "io",
        "mixed",
        "leaky",
        "native",
        "native-mixed",
    }
    assert preset("cpu").mean_cpu_seconds == pytest.approx(0.050)
    assert preset("cpu-heavy-tail").mean_cpu_seconds == pytest.approx(0.95 * 0.020 + 0.05 * 0.4)
    assert preset("cpu", scale=0.5).mean_cpu_seconds == pytest.approx(0.025)
    assert preset("io").kind == "io" and preset("leaky").kind == "cpu"
    with pytest.raises(BenchError, match="unknown workload"):
        preset("gpu")


def test_burn_costs_the_cpu_time_it_says() -> None:
    for cpu in (0.005, 0.05):
        start = time.thread_time()
        tasks.burn(cpu)
        took = time.thread_time() - start
        assert cpu <= took < cpu + 0.02  # overshoot: one chunk of iterations (CPU time, not wall)


def test_native_presets_cost_cpu_seconds_in_native_code() -> None:
    native, blend = preset("native"), preset("native-mixed")
    assert native.kind == blend.kind == "cpu"
    assert native.mean_cpu_seconds == pytest.approx(0.050)
    assert blend.mean_cpu_seconds == pytest.approx(0.050)
    assert preset("native", scale=2).mean_cpu_seconds == pytest.approx(0.100)
    assert [s.name for s in native.specs] == [tasks.CRUNCH]
    assert [(s.name, s.argsets[0].args) for s in blend.specs] == [(tasks.BLEND, (0.035, 0.015))]
    assert tasks.CRUNCH in tasks.BUILTINS and tasks.BLEND in tasks.BUILTINS


@pytest.mark.parametrize(
    ("fn", "args", "cpu"), [("crunch", (0.05,), 0.05), ("blend", (0.02, 0.02), 0.04)]
)
def test_native_tasks_cost_the_cpu_time_they_say(
    fn: str, args: tuple[float, ...], cpu: float
) -> None:
    work = getattr(tasks, fn)
    work(*(0.001 for _ in args))  # builds the buffer once per process
    start = time.thread_time()
    work(*args)
    took = time.thread_time() - start
    # thread_time counts the C code too; overshoot: one round (a 256 KiB compress + hash) a part
    assert cpu <= took < cpu + 0.03


def test_crunch_input_is_large_enough_for_hashlib_to_release_the_gil() -> None:
    # hashlib releases the GIL only for inputs of >= 2048 bytes (HASHLIB_GIL_MINSIZE)
    assert len(tasks.block()) == tasks.BLOCK_BYTES >= 2048
    assert len(tasks.block()) / len(zlib.compress(tasks.block(), 6)) > 2  # zlib has work to do


def test_calibrated_spin_is_sized_in_cpu_seconds() -> None:
    n = iterations(0.05)
    start = time.thread_time()
    tasks.spin(n)
    took = time.thread_time() - start
    # Loose: this VM's CPU speed varies between processes and over time (see docs/bench.md).
    assert 0.01 < took < 0.25


def test_heavy_tail_mix_follows_the_weights() -> None:
    plan = preset("cpu-heavy-tail").plan(seed=3)
    picks = [p.cpu_seconds for p in itertools.islice(plan, 4000)]
    long_share = sum(1 for c in picks if c == pytest.approx(0.4)) / len(picks)
    assert 0.035 < long_share < 0.065


def test_toml_workload_mixing_builtins(tmp_path: Path) -> None:
    path = tmp_path / "mix.toml"
    path.write_text(
        'name = "mine"\nkind = "cpu"\n\n'
        '[[task]]\nbuiltin = "burn"\ncpu_seconds = 0.01\nweight = 3\n\n'
        '[[task]]\nbuiltin = "fail"\ncpu_seconds = 0.0\nweight = 1\n'
    )
    work = load_workload(str(path))
    assert work.name == "mine" and len(work.specs) == 2
    assert work.mean_cpu_seconds == pytest.approx(0.0075)
    names = {p.name for p in itertools.islice(work.plan(), 200)}
    assert names == {tasks.BURN, tasks.FAIL}


def test_toml_user_tasks_with_args_file(tmp_path: Path) -> None:
    (tmp_path / "args.jsonl").write_text('[1, 2]\n\n{"args": [3], "kwargs": {"k": 4}}\n')
    path = tmp_path / "user.toml"
    path.write_text(
        'app = "proj.celery:app"\n\n[[task]]\nname = "proj.add"\nargs_file = "args.jsonl"\n'
    )
    work = load_workload(str(path))
    got = [(p.args, dict(p.kwargs)) for p in itertools.islice(work.plan(), 3)]
    assert got == [((1, 2), {}), ((3,), {"k": 4}), ((1, 2), {})]
    assert work.app == "proj.celery:app" and work.mean_cpu_seconds is None


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (
            '[[task]]\nbuiltin = "spin"\n\n[[task]]\nbuiltin = "spin"\nweigth = 2\n',
            ":6: unknown key 'weigth'",
        ),
        ('[[task]]\nname = "proj.add"\n', ":2: task 'proj.add' needs an app"),
        ('[[task]]\nbuiltin = "spin"\nweight = 0\n', ":3: weight must be > 0"),
        ('kind = "gpu"\n[[task]]\nbuiltin = "spin"\n', "kind must be one of"),
        ("name = \n", "mix.toml"),
        ('name = "x"\n', "no [[task]] entries"),
    ],
)
def test_toml_errors_name_file_and_line(tmp_path: Path, body: str, message: str) -> None:
    path = tmp_path / "mix.toml"
    path.write_text(body)
    with pytest.raises(BenchError, match=message.replace("[", r"\[").replace("]", r"\]")) as info:
        load_workload(str(path))
    assert str(path) in str(info.value)


def test_args_file_errors_name_the_line(tmp_path: Path) -> None:
    bad = tmp_path / "args.jsonl"
    bad.write_text('[1]\n{"x": 1}\n')
    with pytest.raises(BenchError, match=r"args.jsonl:2: expected a JSON array"):
        resolve("cpu", app="proj:app", task="proj.add", args_file=str(bad))
    bad.write_text("[1]\nnot json\n")
    with pytest.raises(BenchError, match=r"args.jsonl:2: not valid JSON"):
        resolve("cpu", app="proj:app", task="proj.add", args_file=str(bad))


def test_resolve_checks_option_combinations() -> None:
    with pytest.raises(BenchError, match="--task needs --app"):
        resolve("cpu", task="x")
    with pytest.raises(BenchError, match="--app needs --task"):
        resolve("cpu", app="proj:app")
    with pytest.raises(BenchError, match="expected module or module:app"):
        resolve("cpu", app="proj celery", task="x")
    assert resolve("cpu", app="proj:app", task="proj.add").app == "proj:app"
