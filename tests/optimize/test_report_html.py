"""report.html a person can act on: the first screen's content for each outcome, the sections
below it, escaping, and one render in a real browser (headless Chromium).

The study is a real Optuna in-memory study with hand-made trials; the confirmation is the real
``results.Confirmation`` with verdicts from the real ``confirm.compare`` on hand-made rounds (no
workers needed)."""

from __future__ import annotations

import html
import json
import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import optuna
import pytest
from optuna.distributions import CategoricalDistribution, IntDistribution
from optuna.trial import TrialState, create_trial

from tuner.optimize import browser, readout, report
from tuner.optimize.confirm import compare
from tuner.optimize.results import Confirmation
from tuner.optimize.stats import comparison_alpha

optuna.logging.set_verbosity(optuna.logging.WARNING)

DISTS = {
    "pool": CategoricalDistribution(("prefork", "threads", "solo")),
    "concurrency": IntDistribution(1, 16),
    "prefetch_multiplier": IntDistribution(1, 16, log=True),
}
INPUT_PATH = "/srv/app/celeryconfig.py"
DIFF = """--- a/celeryconfig.py
+++ b/celeryconfig.py
@@ -1,3 +1,3 @@
 broker_url = 'redis://localhost'
-worker_prefetch_multiplier = 4
+worker_prefetch_multiplier = 1
-worker_concurrency = 2
+worker_concurrency = 4
"""
COMMAND = "celery -A proj worker --pool prefork --concurrency 4 --prefetch-multiplier 1"
BLOG = "the blog recipe"

# (pool, concurrency, prefetch, throughput, p99, baseline, trap, state)
Row = tuple[str, int, int, float, float, str | None, str | None, TrialState]
BASE_ROWS: list[Row] = [
    ("prefork", 2, 4, 40.0, 0.50, "celery-default", None, TrialState.COMPLETE),
    ("prefork", 2, 4, 41.0, 0.48, "input-config", None, TrialState.COMPLETE),
    ("prefork", 8, 1, 30.0, 1.60, None, BLOG, TrialState.COMPLETE),  # 3.2x the pick's p99
    ("prefork", 4, 1, 60.0, 0.50, None, None, TrialState.COMPLETE),  # the pick: trial 3
    ("threads", 8, 2, 15.0, 2.00, None, None, TrialState.COMPLETE),  # 4x lower throughput
    ("prefork", 1, 1, 0.0, 0.0, None, None, TrialState.FAIL),
]


def make_study(rows: Sequence[Row]) -> optuna.Study:
    study = optuna.create_study(direction="maximize", study_name="cpu-throughput")
    for pool, conc, prefetch, tput, p99, baseline, trap, state in rows:
        choice = {"pool": pool, "concurrency": conc, "prefetch_multiplier": prefetch}
        attrs: dict[str, Any] = {"choice": choice, "config": choice}
        if state == TrialState.COMPLETE:
            attrs["metrics"] = {"throughput": tput, "p99": p99, "tasks_lost": 0}
            attrs["constraints"] = {"lost_tasks": 0.0}
        else:
            attrs["error"] = "worker failed to start"
        if baseline:
            attrs["baseline"] = baseline
        if trap:
            attrs["trap"] = trap
            attrs["seed"] = trap
        study.add_trial(
            create_trial(
                state=state,
                params=choice,
                distributions=DISTS,
                value=tput if state == TrialState.COMPLETE else None,
                user_attrs=attrs,
                system_attrs={"constraints": [0.0]} if state == TrialState.COMPLETE else {},
            )
        )
    return study


def rounds(values: Sequence[float], p99: float) -> list[dict[str, float]]:
    return [{"throughput": v, "p99": p99 * 40.0 / v} for v in values]


def confirmation(
    runs: Mapping[str, list[dict[str, float]]], chosen: str, reason: str = ""
) -> Confirmation:
    """The real Confirmation, with verdicts from the real compare()."""
    alpha = comparison_alpha(len(runs), 1)
    result = Confirmation(len(next(iter(runs.values()))), runs=dict(runs), chosen=chosen,
                          reason=reason, alpha=alpha, max_rounds=8)  # fmt: skip
    result.same.update({label: label for label in runs})
    for label in runs:
        if label != "tuned":
            result.search_verdicts[label] = compare(
                runs["tuned"], runs[label], label, ["throughput"], alpha=alpha
            )
    for label in runs:
        if label != chosen:
            shown = "the search's pick" if label == "tuned" else label
            result.verdicts[label] = compare(
                runs[chosen], runs[label], shown, ["throughput"], alpha=alpha
            )
    return result


def summary(pick: dict[str, Any] | None, **extra: Any) -> dict[str, Any]:
    out: dict[str, Any] = {
        "workload": "cpu",
        "objectives": ["throughput"],
        "objective_text": "maximise throughput",
        "input_config": INPUT_PATH,
        "budget": {"trials": 6, "trial_seconds": 5, "confirm": 8},
        "notes": [],
        "config_diff": DIFF,
    }
    if pick is not None:
        out["pick"] = pick
    out.update(extra)
    return out


ENV = {
    "cpus": 2.0,
    "broker": "embedded (filesystem transport)",
    "celery": "5.7.0",
    "python": "3.11.7",
    "load_average": {"before": [1.5, 1.2, 1.0], "after": [1.8, 1.3, 1.1]},
}
TUNED = rounds([60, 62, 58, 61, 59, 60, 63, 61], 0.5)
INPUT = rounds([41, 40, 42, 40, 41, 39, 41, 40], 0.5)
DEFAULT = rounds([40, 41, 40, 39, 42, 40, 40, 41], 0.5)


def change_report(
    rows: Sequence[Row] = BASE_ROWS, **extra: Any
) -> tuple[optuna.Study, dict[str, Any]]:
    """(a) the search's pick (trial 3) beats the user's config."""
    study = make_study(rows)
    result = confirmation({"tuned": TUNED, "input-config": INPUT, "celery-default": DEFAULT},
                          "tuned")  # fmt: skip
    pick = {
        "trial": 3, "source": "trial 3", "baseline": None, "command": COMMAND,
        "settings": {"worker_concurrency": 4, "worker_prefetch_multiplier": 1},
        "metrics": {"throughput": 60.0, "p99": 0.5}, "status": "confirmed",
    }  # fmt: skip
    data = report.build(study, summary=summary(pick, **extra), confirmation=result.as_dict(),
                        improvement=None, environment=extra.pop("env", ENV))  # fmt: skip
    return study, data


def keep_report() -> tuple[optuna.Study, dict[str, Any], float]:
    """(b) the pick is not measurably better than the user's config: it is kept."""
    study = make_study(BASE_ROWS)
    tuned = rounds([41, 44, 38, 42, 40, 43, 39, 41], 0.5)
    result = confirmation(
        {"tuned": tuned, "input-config": INPUT, "celery-default": DEFAULT},
        "input-config",
        "it was not measurably better than input-config, which is kept",
    )
    pick = {
        "trial": 1, "source": "the input-config baseline", "baseline": "input-config",
        "command": "celery -A proj worker --pool prefork --concurrency 2",
        "settings": {"worker_concurrency": 2}, "metrics": {"throughput": 41.0, "p99": 0.48},
        "status": "confirmed",
    }  # fmt: skip
    data = report.build(study, summary=summary(pick, config_diff=None),
                        confirmation=result.as_dict(), improvement=None,
                        environment=ENV)  # fmt: skip
    ci = result.search_verdicts["input-config"].ratios["throughput"].interval
    assert ci is not None
    return study, data, max(ci.high - 1, 1 - ci.low) * 100


def first_screen(page: str) -> str:
    match = re.search(r"<section id=first-screen>(.*?)</section>", page, re.S)
    assert match, "no first screen"
    return match.group(1)


def text_of(fragment: str) -> str:
    """Visible text: tags dropped, entities decoded, whitespace collapsed."""
    return re.sub(r"\s+", " ", html.unescape(re.sub(r"<[^>]+>", " ", fragment)))


def test_a_pick_that_beats_the_config_states_the_change_gain_and_ci() -> None:
    study, data = change_report()
    page = report.render_html(study, data)
    top = first_screen(page)
    text = text_of(top)
    verdict = data["readout"]["verdict"]
    assert verdict["kind"] == "change"
    ratio = data["confirmation"]["verdicts"]["input-config"]["ratios"]["throughput"]
    low, high = ratio["ci"]
    assert low > 1  # the test data make the pick a clear winner
    gain = f"Change to trial 3: throughput +{(ratio['estimate'] - 1) * 100:.0f}% (better; "
    assert gain in text
    assert "also measured: p99 -33% (better; x0.67" in text
    assert f"CI {low:.2f}-{high:.2f}" in text
    assert f"vs your config ({INPUT_PATH})" in text
    assert "8 interleaved confirmation rounds" in text
    # What to change: the config.diff against --config, and the command line.
    assert f"against your config {INPUT_PATH}" in text
    assert "+worker_prefetch_multiplier = 1" in text and "-worker_concurrency = 2" in text
    assert "<span class=add>+worker_concurrency = 4</span>" in top
    assert COMMAND in text
    # The environment, the noise and the counts.
    assert "2 CPU(s)" in text and "1.5/1.2/1.0 before, 1.8/1.3/1.1 after" in text
    assert "broker embedded (filesystem transport)" in text and "Celery 5.7.0" in text
    assert "machine was loaded" not in text
    noise = r"Noise: round to round, the throughput of (your config|Celery's defaults) varied by "
    noise += r"[\d.]+%"
    assert re.search(noise, text)
    assert "6 trials (5 complete, 1 failed)" in text
    assert "8 interleaved rounds of 3 configurations" in text


def test_change_against_celery_defaults_without_a_config() -> None:
    study, data = change_report(input_config=None, config_diff=None)
    text = text_of(first_screen(report.render_html(study, data)))
    assert "against Celery's defaults (no --config given)" in text
    assert "-worker_prefetch_multiplier = 4" in text and "+worker_prefetch_multiplier = 1" in text
    assert "-worker_concurrency = None # os.cpu_count()" in text
    assert "vs Celery's defaults" in text


def test_b_keep_your_config_says_the_noise_it_could_not_see_past() -> None:
    study, data, noise = keep_report()
    text = text_of(first_screen(report.render_html(study, data)))
    assert f"Keep your config: nothing tried beat it beyond ±{noise:.0f}% noise" in text
    assert "What to change" in text and "Nothing. Your current settings stay" in text
    assert "the search's pick against it: throughput" in text
    assert data["readout"]["verdict"]["kind"] == "keep"
    assert data["readout"]["change"]["diff"] is None


def test_nothing_recommended_and_unconfirmed() -> None:
    study = make_study(BASE_ROWS)
    data = report.build(study, summary=summary(None, unconfirmed_pick={"why": "constraints"}),
                        confirmation=None, improvement=None, environment={})  # fmt: skip
    text = text_of(first_screen(report.render_html(study, data)))
    assert "Nothing is recommended: constraints" in text
    pick = {"trial": 3, "source": "trial 3", "command": COMMAND, "settings": {}}
    data = report.build(study, summary=summary(pick), confirmation=None, improvement=None,
                        environment={})  # fmt: skip
    text = text_of(first_screen(report.render_html(study, data)))
    assert "Not confirmed (--confirm 0)" in text


def test_c_traps_present() -> None:
    seeds = [{"label": BLOG, "why": "prefetch 1 and 4x CPUs, as a blog post advises",
              "trap": True, "choice": {}},
             {"label": "the docs' long-task recipe", "why": "acks late", "trap": True,
              "choice": {}}]  # fmt: skip
    ruled = [{"what": "threads and green pools",
              "why": "the task holds the GIL (GIL probe: 99% wait)"}]  # fmt: skip
    study, data = change_report(seeds=seeds, ruled_out=ruled)
    text = text_of(first_screen(report.render_html(study, data)))
    assert "Traps avoided" in text
    assert f"{BLOG} was 3.2x worse on p99 here (1.6 s against the pick's 0.5 s" in text
    assert "one trial each" in text
    assert "(prefetch 1 and 4x CPUs, as a blog post advises)" in text
    assert "the docs' long-task recipe: not measured in this study" in text
    assert (
        "Ruled out before the search: threads and green pools: the task holds the GIL "
        "(GIL probe: 99% wait)" in text
    )
    # Configurations of the study much worse than the pick.
    assert "the worst, threads c=8 pf=2 (trial 4), 4.0x lower throughput" in text


def test_c_traps_absent() -> None:
    rows: list[Row] = [(*r[:6], None, r[7]) for r in BASE_ROWS]
    study, data = change_report(rows)
    for trial in data["trials"]:
        assert trial["trap"] is None
    text = text_of(first_screen(report.render_html(study, data)))
    assert data["readout"]["traps"] == []
    assert "was 3.2x worse" not in text
    assert "Ruled out" not in text
    assert "Traps avoided" in text and "the worst, threads c=8" in text


def test_c_nothing_much_worse_and_no_trap() -> None:
    rows: list[Row] = [
        ("prefork", 2, 4, 58.0, 0.5, "celery-default", None, TrialState.COMPLETE),
        ("prefork", 4, 1, 60.0, 0.5, None, None, TrialState.COMPLETE),
    ]
    study = make_study(rows)
    pick = {"trial": 1, "source": "trial 1", "command": COMMAND, "settings": {},
            "metrics": {"throughput": 60.0, "p99": 0.5}}  # fmt: skip
    data = report.build(study, summary=summary(pick), confirmation=None, improvement=None,
                        environment={})  # fmt: skip
    text = text_of(first_screen(report.render_html(study, data)))
    assert "No known trap was tried, and nothing tried was much worse than the pick" in text


def _importance_rows(n: int) -> list[Row]:
    rows: list[Row] = []
    for i in range(n):
        conc = 1 + i % 8
        rows.append(("prefork" if i % 3 else "threads", conc, 1 + (i * 5) % 16,
                     10.0 * conc + i % 3, 0.5, None, None, TrialState.COMPLETE))  # fmt: skip
    return rows


def test_d_importances_hidden_below_the_threshold_with_the_reason() -> None:
    study = make_study(_importance_rows(4))
    data = report.build(study, summary=summary(None), confirmation=None, improvement=None,
                        environment={})  # fmt: skip
    page = report.render_html(study, data)
    assert "fig-importance" not in page
    assert "Not shown: 4 complete trials, fewer than 8" in text_of(page)
    assert "they rank noise, not settings" in text_of(page)


def test_d_importances_shown_with_count_and_caveat_above_them() -> None:
    study = make_study(_importance_rows(10))
    data = report.build(study, summary=summary(None), confirmation=None, improvement=None,
                        environment={})  # fmt: skip
    page = report.render_html(study, data)
    caveat = page.index("Estimated from 10 complete trials (fANOVA on throughput)")
    assert caveat < page.index('id="fig-importance"')
    assert "one noisy trial can move them" in page


def test_below_the_fold_sections() -> None:
    fidelity = {"rule": "median at 1/3 of the time", "trials": 6, "screened_out": 2, "full": 3,
                "seconds_measured": 40.0, "seconds_saved": 20.0}  # fmt: skip
    study, data = change_report(fidelity=fidelity)
    page = report.render_html(study, data)
    for section in ("id=verdicts", "id=space", "id=history", "id=importance", "id=trials"):
        assert section in page
    assert "fig-verdicts" in page and "fig-space" in page and "fig-history" in page
    # One column of space panels per pool tried, for p99 and throughput.
    for title in ("prefork: throughput", "threads: throughput", "prefork: p99", "threads: p99"):
        assert title in page
    assert "2 screened out early (20 s of measurement saved)" in text_of(first_screen(page))
    assert "2 of 6 trials screened out early, 3 measured in full" in text_of(page)
    # plotly.js is inlined exactly once, and nothing is fetched.
    assert len(re.findall(r"plotly\.js v\d", page)) == 1
    assert not external_references(page)


def test_optional_keys_absent_and_report_json() -> None:
    study, data = change_report(env={"cpus": 2})
    page = report.render_html(study, data)
    assert "id=fidelity" not in page and "screened out" not in page
    assert "load average" not in text_of(first_screen(page))
    parsed = json.loads(report.dumps(data))
    for key in ("version", "study", "trials", "baselines", "confirmation", "improvement",
                "environment", "files", "pick", "readout"):  # fmt: skip
        assert key in parsed
    assert parsed["readout"]["verdict"]["kind"] == "change"
    assert {"seed", "trap", "fidelity", "choice"} <= set(parsed["trials"][0])


def test_e_hostile_labels_are_escaped() -> None:
    evil = "<script>alert(1)</script>"
    img = "<img src=x onerror=alert(2)>"
    rows = [(*r[:6], evil if r[6] else None, r[7]) for r in BASE_ROWS]
    seeds = [{"label": evil, "why": f'{img} & "quotes"', "trap": True, "choice": {}}]
    ruled = [{"what": img, "why": evil}]
    path = f"/tmp/{img}/celeryconfig.py"
    study, data = change_report(rows, seeds=seeds, ruled_out=ruled, input_config=path,
                                config_diff=f"+worker_pool = '{evil}'\n",
                                notes=[evil])  # fmt: skip
    data["pick"]["command"] = f"celery -A '{img}' worker"
    data["environment"]["broker"] = evil
    data["readout"] = readout.compute(data)
    page = report.render_html(study, data)
    assert evil not in page and img not in page
    assert "alert(1)" in page  # shown, as text
    assert html.escape(evil) in page and html.escape(img) in page
    # Only the page's own scripts: plotly.js in the head and one per figure.
    scripts = re.findall(r"<script\b", page)
    assert len(scripts) == 1 + page.count("Plotly.newPlot(")


def external_references(page: str) -> list[str]:
    """URLs the browser would fetch by itself: src/href/url() of http(s) in the markup and CSS
    (plotly.js's own source mentions URLs in strings it never fetches for these plots)."""
    markup = re.sub(r"<script>.*?</script>", "", page, flags=re.S)  # inline scripts' bodies
    found = re.findall(r"""(?:src|href)\s*=\s*["']?(?:https?:)?//[^"'\s>]+""", markup, re.I)
    found += re.findall(r"url\(\s*['\"]?(?:https?:)?//", markup, re.I)
    found += re.findall(r"""<script[^>]+src=""", page, re.I)
    return found


FOLD_CHECK = """<script>
window.addEventListener('load', function () {
  setTimeout(function () {
    document.querySelectorAll('[data-fold]').forEach(function (el) {
      el.setAttribute('data-bottom', Math.round(el.getBoundingClientRect().bottom));
    });
    document.body.setAttribute('data-checked', 'yes');
  }, 0);
});
</script>"""


@pytest.mark.skipif(
    browser.chromium() is None,
    reason=f"{browser.CHROMIUM} is not installed (apt-get install chromium; .ci/run does)",
)
def test_chromium_renders_the_plots_and_the_first_screen_fits(tmp_path: Path) -> None:
    from tuner.optimize.report_html import render

    seeds = [{"label": BLOG, "why": "prefetch 1", "trap": True, "choice": {}}]
    study, data = change_report(seeds=seeds)
    page = tmp_path / "report.html"
    page.write_text(render(study, data, extra_head=[FOLD_CHECK]), encoding="utf-8")
    assert not external_references(page.read_text(encoding="utf-8"))
    dom = browser.dump_dom(page)
    assert 'data-checked="yes"' in dom, "the page's scripts did not run"
    assert dom.count("main-svg") >= 3  # plotly drew its SVGs: verdicts, space, history
    bottoms = dict(re.findall(r'data-fold="(\w+)"[^>]*data-bottom="(\d+)"', dom))
    assert set(bottoms) == {"verdict", "change", "traps", "evidence"}
    for part, bottom in bottoms.items():
        assert int(bottom) <= browser.WINDOW[1], f"{part} ends at {bottom}px, below the fold"
    assert f"{BLOG} was 3.2x worse on p99 here" in html.unescape(dom)
    shot = browser.screenshot(page, tmp_path / "first-screen.png")
    info = browser.png_info(shot)
    assert (info.width, info.height) == browser.WINDOW
    assert info.colours > 50 and info.dominant < 0.95  # text, colours: not a blank page
