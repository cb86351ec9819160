"""``plan`` without live runs: a saved model in, the JSON contract out; bad input; predictions."""

from __future__ import annotations

import io
import json
import math
from pathlib import Path

import pytest

from tests.conftest import run_cli
from tests.plan.models import synthetic_model
from tuner.commands.plan import plan
from tuner.plan.characterise import Model
from tuner.plan.predict import Settings, Target, evaluate, headroom_rate, recommend

CONTRACT_REC = {"nodes", "concurrency", "settings", "predicted", "headroom_rate", "monthly_cost"}


def saved_model(tmp_path: Path, **kw: float) -> Path:
    path = tmp_path / "model.json"
    path.write_text(json.dumps(synthetic_model(**kw).as_dict()))
    return path


def test_model_round_trips_through_json() -> None:
    m = synthetic_model()
    again = Model.from_dict(json.loads(json.dumps(m.as_dict())))
    assert again.run_times == m.run_times
    assert again.usl.sigma == pytest.approx(m.usl.sigma)
    assert again.concurrency_points == m.concurrency_points


def test_json_contract(tmp_path: Path) -> None:
    model = saved_model(tmp_path)
    out = io.StringIO()
    code = plan(
        rate=40.0, p99_slo=0.5, model=str(model), as_json=True, instance_cpus=4.0,
        instance_price=0.2, out=out, err=io.StringIO(), out_dir=str(tmp_path / "out"),
    )  # fmt: skip
    assert code == 0
    doc = json.loads(out.getvalue())
    assert doc["version"] == 1
    rec = doc["recommendation"]
    assert set(rec) >= CONTRACT_REC
    assert set(rec["predicted"]) == {"throughput", "p99", "utilisation"}
    assert rec["predicted"]["p99"] <= 0.5
    assert rec["headroom_rate"] >= 40.0 * 1.2 * 0.9  # bisection resolution
    assert rec["monthly_cost"] == pytest.approx(rec["nodes"] * 0.2 * 730)
    assert rec["settings"]["worker_concurrency"] == rec["concurrency"]
    assert {"sigma", "kappa", "lambda"} <= set(doc["model"]["usl"])
    assert doc["model"]["service_time"]["samples"] == 2000
    assert doc["model"]["broker_ceiling"] == 900.0
    assert isinstance(doc["candidates"], list) and doc["candidates"]
    assert doc["validation"] == []
    for key in ("keda", "hpa", "deployment", "celeryconfig", "report", "plan", "model"):
        assert Path(doc["files"][key]).is_file()
    html = Path(doc["files"]["report"]).read_text()
    assert '<script src="http' not in html  # plotly.js inline: opens offline
    assert "Scaling on this machine" in html and "p99 SLO" in html
    saved = json.loads(Path(doc["files"]["plan"]).read_text())
    assert saved["recommendation"] == rec


def test_saving_against_the_current_fleet(tmp_path: Path) -> None:
    config = tmp_path / "celeryconfig.py"
    config.write_text("worker_concurrency = 2\nworker_prefetch_multiplier = 4\n")
    out = io.StringIO()
    code = plan(
        rate=40.0, p99_slo=0.5, model=str(saved_model(tmp_path)), as_json=True,
        instance_price=0.5, config=str(config), nodes_now=10, out=out, err=io.StringIO(),
    )  # fmt: skip
    assert code == 0
    doc = json.loads(out.getvalue())
    assert doc["current"]["nodes"] == 10
    assert doc["recommendation"]["settings"]["worker_prefetch_multiplier"] == 4  # --config's
    saving = doc["recommendation"]["monthly_saving"]
    assert saving == pytest.approx((10 - doc["recommendation"]["nodes"]) * 0.5 * 730)


def test_terminal_table(tmp_path: Path) -> None:
    out = io.StringIO()
    code = plan(rate=40.0, p99_slo=0.5, model=str(saved_model(tmp_path)), out=out,
                err=io.StringIO())  # fmt: skip
    assert code == 0
    text = out.getvalue()
    assert "recommendation" in text and "← pick" in text and "SLO holds up to" in text


def test_unreachable_slo_exits_1(tmp_path: Path) -> None:
    """Tasks take 50 ms on average: a 10 ms p99 cannot be met by any fleet."""
    out, err = io.StringIO(), io.StringIO()
    code = plan(rate=10.0, p99_slo=0.01, model=str(saved_model(tmp_path)), max_nodes=4,
                out=out, err=err)  # fmt: skip
    assert code == 1
    assert "no recommendation" in out.getvalue()
    out = io.StringIO()
    code = plan(rate=10.0, p99_slo=0.01, model=str(saved_model(tmp_path)), as_json=True,
                out=out, err=err)  # fmt: skip
    doc = json.loads(out.getvalue())
    assert code == 1 and doc["recommendation"] is None and doc["candidates"] == []
    assert "own p99" in doc["reason"]  # stopped at once: no fleet beats the tasks' own time


def test_broker_ceiling_stops_the_fleet(tmp_path: Path) -> None:
    out = io.StringIO()
    code = plan(rate=2000.0, p99_slo=1.0, model=str(saved_model(tmp_path)), as_json=True,
                out=out, err=io.StringIO())  # fmt: skip
    assert code == 1
    doc = json.loads(out.getvalue())
    assert doc["recommendation"] is None
    assert "ceiling" in doc["reason"]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--rate", "0", "--p99-slo", "1"], "--rate must be > 0"),
        (["--rate", "5", "--p99-slo", "-1"], "--p99-slo must be > 0"),
        (["--rate", "5", "--p99-slo", "1", "--nodes-now", "3"], "together with --config"),
        (["--rate", "5", "--p99-slo", "1", "--model", "missing.json"], "missing.json: cannot read"),
        (["--rate", "5", "--p99-slo", "1", "--broker", "http://x"], "unsupported scheme"),
    ],
)
def test_bad_input_is_one_line(args: list[str], message: str, tmp_path: Path) -> None:
    proc = run_cli("plan", *args, cwd=tmp_path)
    assert proc.returncode == 2
    assert message in proc.stderr
    assert "Traceback" not in proc.stderr


def test_bad_model_file(tmp_path: Path) -> None:
    bad = tmp_path / "m.json"
    bad.write_text("{not json")
    proc = run_cli("plan", "--rate", "5", "--p99-slo", "1", "--model", str(bad))
    assert proc.returncode == 2 and f"{bad}:1: not valid JSON" in proc.stderr
    assert proc.stderr.startswith("celery-tune: error: ")  # the prefix every subcommand uses
    bad.write_text('{"workload": "x"}')
    proc = run_cli("plan", "--rate", "5", "--p99-slo", "1", "--model", str(bad))
    assert proc.returncode == 2 and "not a plan model" in proc.stderr


def test_more_load_more_nodes_and_headroom_is_monotone() -> None:
    m = synthetic_model()
    s = Settings()
    small = recommend(m, s, Target(rate=20.0, p99_slo=0.5)).best
    large = recommend(m, s, Target(rate=200.0, p99_slo=0.5)).best
    assert small is not None and large is not None
    assert large.nodes > small.nodes
    hr = headroom_rate(m, s, large.nodes, large.concurrency, 0.5)
    assert hr >= 200.0
    above = evaluate(m, s, Target(rate=hr * 1.15, p99_slo=0.5, headroom=0.0), large.nodes,
                     large.concurrency)  # fmt: skip
    assert not above.meets_slo or math.isclose(above.p99, 0.5, rel_tol=0.2)


def test_instance_size_scales_the_fleet() -> None:
    """Bigger instances (same per-CPU behaviour) need fewer nodes for the same rate."""
    m = synthetic_model()
    small = recommend(m, Settings(), Target(rate=200.0, p99_slo=0.5, instance_cpus=2)).best
    big = recommend(m, Settings(), Target(rate=200.0, p99_slo=0.5, instance_cpus=16)).best
    assert small is not None and big is not None
    assert big.nodes < small.nodes
    assert big.concurrency > small.concurrency


def test_validation_predicts_for_the_load_actually_offered() -> None:
    from tuner.plan.validate import realised_rate

    assert realised_rate(40, 8.0, 6.3) == pytest.approx(5.0)  # 40 tasks fell in 8 s, not 50
    assert realised_rate(0, 8.0, 6.3) == pytest.approx(6.3)  # nothing measured: the nominal rate


def test_sample_weights_follow_the_workload_mix() -> None:
    """A sample that drew 2 long tasks in 4 is weighted back to the workload's 5% of long ones."""
    from dataclasses import replace

    m = replace(
        synthetic_model(),
        run_times=(0.02, 0.02, 0.4, 0.4),
        cpu_times=(0.02, 0.02, 0.4, 0.4),
        nominals=(0.02, 0.02, 0.4, 0.4),
        types=(
            {"nominal_cpu_seconds": 0.02, "count": 2, "weight": 0.95},
            {"nominal_cpu_seconds": 0.4, "count": 2, "weight": 0.05},
        ),
    )
    assert m.sample_weights() == pytest.approx((0.475, 0.475, 0.025, 0.025))
    again = Model.from_dict(json.loads(json.dumps(m.as_dict())))
    assert again.sample_weights() == m.sample_weights()
    # Shares unknown (a model saved before they were recorded): equal weights.
    assert replace(m, types=({"nominal_cpu_seconds": 0.02, "count": 4},)).sample_weights() is None
    assert replace(m, nominals=()).sample_weights() is None


def test_validation_table_says_what_was_predicted() -> None:
    """The p99 compared is for the run's own arrivals; plan's fresh-arrival figure is beside it,
    and a miss marks the recommendation unverified."""
    from rich.console import Console

    from tuner.plan.output import render_validation
    from tuner.plan.validate import Check

    good = Check("held out", 3, 1, 36.0, 36.0, 0.170, 36.1, 0.177, 700, 0.3, 0.201)
    bad = Check("held out", 1, 2, 15.0, 15.0, 0.400, 15.1, 0.200, 300, 0.5, 0.250)
    buf = io.StringIO()
    render_validation((good, bad), Console(file=buf, width=200, color_system=None))
    text = buf.getvalue()
    assert "the run's own arrivals, replayed" in text
    assert "fresh Poisson arrivals: p99 0.201 s, 0.250 s" in text
    assert "-4%" in text and "+100%" in text and "unverified" in text
    assert good.within and not bad.within
    assert good.as_dict()["predicted_p99_poisson"] == 0.201


def test_replays_keep_each_scheduled_task_type() -> None:
    """A long task in the run's schedule replays a long measured task, a short one a short one;
    the prediction for the run is reproducible."""
    from dataclasses import replace

    from tuner.bench.load import LoadSpec
    from tuner.bench.workloads import preset
    from tuner.plan.validate import predict_run, replays, schedule

    runs = (0.021, 0.020, 0.022, 0.41, 0.40)
    m = replace(
        synthetic_model(),
        run_times=runs,
        cpu_times=runs,
        nominals=(0.02, 0.02, 0.02, 0.4, 0.4),
        types=(
            {"nominal_cpu_seconds": 0.02, "count": 3, "weight": 0.95},
            {"nominal_cpu_seconds": 0.4, "count": 2, "weight": 0.05},
        ),
    )
    work = preset("cpu-heavy-tail")
    load = LoadSpec(mode="open", rate=10.0, warmup=1.0, duration=20.0, seed=4)
    _times, kinds = schedule(work, load)
    assert 0.4 in kinds and 0.02 in kinds
    for r in replays(m, work, load, draws=3):
        assert r.measure_from == 1.0
        assert [m.nominals[i] for i in r.picks] == kinds
    first = predict_run(m, Settings(), work, load, 1, 2)
    assert first == predict_run(m, Settings(), work, load, 1, 2)
    assert first[0] == pytest.approx(10.0, rel=0.25) and first[1] > 0.4
