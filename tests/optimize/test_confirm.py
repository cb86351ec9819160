from __future__ import annotations

import math
import statistics

import pytest

from tuner.optimize.confirm import compare, medians, ratio, spread
from tuner.optimize.stats import FAMILY_ALPHA, comparison_alpha, ratio_interval, t_quantile


def runs(*pairs: tuple[float, float]) -> list[dict[str, float | int | None]]:
    return [{"throughput": t, "p99": p, "efficiency": None} for t, p in pairs]


def test_clear_win_is_called() -> None:
    tuned = runs((120, 0.20), (118, 0.21), (121, 0.19))
    base = runs((100, 0.30), (101, 0.31), (99, 0.29))
    v = compare(tuned, base, "celery-default", ["throughput"])
    r = v.ratios["throughput"]
    assert r.values == pytest.approx((1.2, 118 / 101, 121 / 99))
    assert r.median == pytest.approx(1.2)
    assert r.estimate == pytest.approx(math.prod(r.values) ** (1 / 3))  # geometric mean
    assert v.winner == "tuned"
    assert v.ratios["p99"].winner == "tuned"  # lower p99 is better
    assert "efficiency" not in v.ratios  # not measured for this workload
    d = v.as_dict()
    assert d["throughput_ratio"] == pytest.approx(r.estimate)
    ci = d["throughput_ratio_ci"]
    assert isinstance(ci, list)
    low, high = ci
    assert low < r.estimate < high and low > 1  # the interval excludes 1: a winner
    assert "better beyond the noise" in str(d["verdict"]) and "96.0% CI" in str(d["verdict"])


def test_interval_is_the_paired_t_interval_of_log_ratios() -> None:
    ratios = [1.10, 1.30, 1.18, 1.25]
    logs = [math.log(x) for x in ratios]
    half = t_quantile(0.975, 3) * statistics.stdev(logs) / 2
    ci = ratio_interval(ratios, 0.05)
    assert ci is not None
    assert ci.low == pytest.approx(math.exp(statistics.fmean(logs) - half))
    assert ci.high == pytest.approx(math.exp(statistics.fmean(logs) + half))
    assert ratio_interval([1.2], 0.05) is None  # one round: no interval
    assert t_quantile(0.975, 2) == pytest.approx(4.303, abs=1e-3)  # textbook values
    assert t_quantile(0.995, 10) == pytest.approx(3.169, abs=1e-3)
    # Bonferroni over pairs and objectives: 3 candidates -> 3 pairs; 2 objectives -> 6 tests.
    assert comparison_alpha(3, 2) == pytest.approx(FAMILY_ALPHA / 6)
    assert comparison_alpha(2, 1) == pytest.approx(FAMILY_ALPHA)
    assert FAMILY_ALPHA <= 0.05


def test_a_stricter_level_widens_the_interval_and_can_undo_a_call() -> None:
    tuned = runs((118, 0.2), (126, 0.2), (112, 0.2))
    base = runs((100, 0.2), (100, 0.2), (100, 0.2))
    assert compare(tuned, base, "b", ["throughput"], alpha=0.05).winner == "tuned"
    assert compare(tuned, base, "b", ["throughput"], alpha=0.001).winner == "tie"


def test_difference_within_noise_is_a_tie() -> None:
    # 10% better on median, but the paired ratios scatter from 0.9 to 1.3.
    tuned = runs((110, 0.2), (90, 0.2), (130, 0.2))
    base = runs((100, 0.2), (100, 0.2), (100, 0.2))
    assert compare(tuned, base, "b", ["throughput"]).winner == "tie"


def test_a_consistent_but_tiny_difference_is_not_worth_a_change() -> None:
    # 3% better in every round: sure, but under the 5% worth changing a configuration for.
    tuned = runs((103, 0.2), (98, 0.2), (108, 0.2))
    base = runs((100, 0.2), (95, 0.2), (105, 0.2))
    r = ratio(tuned, base, "throughput")
    assert r is not None and r.interval is not None and r.interval.low > 1
    assert compare(tuned, base, "b", ["throughput"]).winner == "tie"


def test_rounds_must_agree() -> None:
    tuned = runs((130, 0.2), (131, 0.2), (90, 0.2))
    base = runs((100, 0.2), (100, 0.2), (100, 0.2))
    assert ratio(tuned, base, "throughput") is not None
    assert compare(tuned, base, "b", ["throughput"]).winner == "tie"


def test_worse_is_called_worse_and_multi_objective_needs_no_loss() -> None:
    tuned = runs((80, 0.10), (81, 0.10), (80, 0.11))
    base = runs((100, 0.30), (100, 0.30), (101, 0.30))
    assert compare(tuned, base, "b", ["throughput"]).winner == "baseline"
    assert compare(tuned, base, "b", ["p99"]).winner == "tuned"
    assert compare(tuned, base, "b", ["throughput", "p99"]).winner == "tie"  # a trade-off


def test_same_config_and_spread() -> None:
    same = runs((100, 0.2), (100, 0.2))
    v = compare(same, same, "celery-default", ["throughput"], same_config=True)
    assert v.winner == "same" and "itself" in v.describe()
    assert spread([100.0, 90.0, 110.0]) == pytest.approx(0.2)
    assert spread([5.0]) == 0.0
    assert medians(runs((1, 3), (2, 2), (3, 1))) == {"throughput": 2, "p99": 2}


def test_decide_keeps_the_current_config_unless_measurably_better() -> None:
    from tuner.optimize.results import PICK_LABEL, decide

    def run(wins: set[tuple[str, str]], scores: dict[str, float]) -> tuple[str, str]:
        return decide(
            [PICK_LABEL, "celery-default", "input-config"],
            lambda a, b: (a, b) in wins,
            lambda label: scores[label],
            "input-config",
        )

    flat = {PICK_LABEL: 100.0, "celery-default": 100.0, "input-config": 100.0}
    # The pick beats the user's config (and nothing beats it): recommended.
    assert run({(PICK_LABEL, "input-config")}, flat) == (PICK_LABEL, "")
    # Not measurably better than the user's config: theirs is kept.
    chosen, reason = run(set(), flat)
    assert chosen == "input-config" and "not measurably better" in reason
    # A baseline beats the pick: the pick is out.
    chosen, reason = run({("input-config", PICK_LABEL)}, flat)
    assert chosen == "input-config" and "beat it" in reason
    # The defaults beat the user's config and tie with the pick: the best left is recommended.
    scores = {PICK_LABEL: 101.0, "celery-default": 99.0, "input-config": 80.0}
    assert run({("celery-default", "input-config")}, scores) == (PICK_LABEL, "")
    scores = {PICK_LABEL: 98.0, "celery-default": 99.0, "input-config": 80.0}
    chosen, reason = run({("celery-default", "input-config")}, scores)
    assert chosen == "celery-default" and "beat it and input-config" in reason


def test_decide_when_the_pick_is_the_current_config_itself() -> None:
    from tuner.optimize.results import PICK_LABEL, decide

    flat = {PICK_LABEL: 100.0, "celery-default": 100.0}
    # The search's best is the defaults baseline (current is then the pick): kept, no reason
    # that compares it with itself.
    assert decide([PICK_LABEL], lambda a, b: False, flat.__getitem__, PICK_LABEL) == (
        PICK_LABEL,
        "",
    )
    # ...unless another candidate beats it beyond the noise.
    chosen, reason = decide(
        [PICK_LABEL, "celery-default"],
        lambda a, b: (a, b) == ("celery-default", PICK_LABEL),
        flat.__getitem__,
        PICK_LABEL,
    )
    assert (chosen, reason) == ("celery-default", "celery-default beat it beyond the noise")


def test_rounds_alternate_their_order_and_can_stop_early(monkeypatch: pytest.MonkeyPatch) -> None:
    from tuner.bench.config import WorkerConfig
    from tuner.optimize import measure as measure_module
    from tuner.optimize.confirm import measure_rounds

    order: list[str] = []

    def fake(config: WorkerConfig, *_: object, **__: object) -> dict[str, dict[str, float]]:
        order.append(config.label)
        return {"saturate": {"throughput": 1.0}}

    monkeypatch.setattr(measure_module, "measure", fake)
    configs = [WorkerConfig(label=x) for x in "ABC"]
    runs = measure_rounds(configs, None, None, None, 3)  # type: ignore[arg-type]
    assert "".join(order) == "ABCCBAABC"  # a drift in load favours nobody
    assert all(len(v) == 3 for v in runs.values())
    order.clear()
    seen: list[int] = []

    def stop(so_far: object) -> bool:
        assert isinstance(so_far, dict)
        seen.append(min(len(v) for v in so_far.values()))
        return seen[-1] == 2

    runs = measure_rounds(configs, None, None, None, 8, stop=stop)  # type: ignore[arg-type]
    assert seen == [1, 2] and all(len(v) == 2 for v in runs.values()) and len(order) == 6
