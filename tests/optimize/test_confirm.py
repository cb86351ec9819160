from __future__ import annotations

import pytest

from tuner.optimize.confirm import compare, medians, ratio, spread


def runs(*pairs: tuple[float, float]) -> list[dict[str, float | int | None]]:
    return [{"throughput": t, "p99": p, "efficiency": None} for t, p in pairs]


def test_clear_win_is_called() -> None:
    tuned = runs((120, 0.20), (118, 0.21), (121, 0.19))
    base = runs((100, 0.30), (101, 0.31), (99, 0.29))
    v = compare(tuned, base, "celery-default", ["throughput"])
    r = v.ratios["throughput"]
    assert r.values == pytest.approx((1.2, 118 / 101, 121 / 99))
    assert r.median == pytest.approx(1.2)
    assert v.winner == "tuned"
    assert v.ratios["p99"].winner == "tuned"  # lower p99 is better
    assert "efficiency" not in v.ratios  # not measured for this workload
    d = v.as_dict()
    assert d["throughput_ratio"] == pytest.approx(1.2)
    assert d["throughput_ratio_spread"] == [pytest.approx(118 / 101), pytest.approx(121 / 99)]
    assert "better beyond the noise" in str(d["verdict"])


def test_difference_within_noise_is_a_tie() -> None:
    # 3% better on median, but the repeats themselves spread by 10%.
    tuned = runs((103, 0.2), (98, 0.2), (108, 0.2))
    base = runs((100, 0.2), (95, 0.2), (105, 0.2))
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
