"""``celery-tune optimize``: the command function (no click), returning the exit code.

0: a configuration was chosen and written (confirmed, or marked NOT CONFIRMED with --confirm 0);
1: nothing is recommended (no feasible trial, nothing met every constraint when re-measured, or
confirmation failed: nothing is then claimed as confirmed and no config file is written);
2: bad input; 130: interrupted by Ctrl-C, 143 by SIGTERM (the report is written and rerunning the
same command resumes the study; no config file is written).
"""

from __future__ import annotations

import logging
import sys
from typing import Any, TextIO

from tuner.commands import error_line
from tuner.optimize.setup import OptimizeOptions, UsageError

__all__ = ["OptimizeOptions", "optimize"]


def _quiet_optuna() -> None:
    import optuna

    # Failed trials are shown by our progress lines; Optuna would log each with a traceback.
    optuna.logging.set_verbosity(optuna.logging.ERROR)
    logging.getLogger("optuna").setLevel(logging.ERROR)


def optimize(
    options: OptimizeOptions, *, out: TextIO | None = None, err: TextIO | None = None
) -> int:
    """Search, confirm, emit.  See the module docstring for exit codes."""
    out = out or sys.stdout
    err = err or sys.stderr
    from tuner.optimize.setup import resolve
    from tuner.optimize.storages import StorageError

    try:
        setup = resolve(options)
    except UsageError as exc:
        err.write(error_line(exc))
        return 2
    _quiet_optuna()
    for note in setup.notes:
        err.write(f"note: {note}\n")
    try:
        return _run(setup, out, err)
    except StorageError as exc:
        err.write(error_line(exc))
        return 2


def _run(setup: Any, out: TextIO, err: TextIO) -> int:
    from tuner.optimize import fidelity, output, results
    from tuner.optimize.progress import Progress, describe_choice
    from tuner.optimize.search import run_search, sigterm_as_interrupt
    from tuner.optimize.storages import (
        default_url,
        fail_dead_trials,
        is_sqlite,
        mask,
        open_storage,
        sqlite_lock,
    )

    o = setup.options
    load_before = output.load_average()  # the machine's load before any worker of ours starts
    url = o.storage or default_url(setup.out_dir)
    exclusive = is_sqlite(url)
    with sqlite_lock(url), sigterm_as_interrupt() as signals:
        storage = open_storage(url)

        def before(study: Any, created: bool) -> list[int]:
            dead = fail_dead_trials(study, exclusive=exclusive)
            verb = "Created" if created else "Resuming"
            err.write(
                f"{verb} study {study.study_name!r} in {mask(url)} "
                f"({len(study.trials)} trials so far).\n"
            )
            for number in dead:
                err.write(f"note: trial {number} was left running by a process that died: FAIL\n")
            return dead

        total = o.trials if o.trials is not None else (None if o.timeout else 10)
        progress = Progress(setup.goal, total, stream=err)
        with progress:
            outcome = run_search(
                setup,
                storage,
                parallel=not exclusive,
                on_start=progress.trial_started,
                on_interval=progress.interval,
                on_trial=progress.trial_finished,
                before_trials=before,
            )
        study = outcome.study
        interrupted = outcome.interrupted
        screening = _screening(setup, study)
        if o.prune and not setup.goal.multi:
            err.write(fidelity.summary_line(screening) + "\n")
        if interrupted:
            err.write(
                f"Interrupted after {progress.done} trial(s). The study is saved in "
                f"{mask(url)}: rerun the same command to resume it.\n"
            )
        chosen = results.choose(setup, study)
        if chosen is not None and not interrupted and o.confirm > 0:
            alternative = results.challenger(setup, study, chosen)
            if alternative is not None:
                err.write(
                    f"The search's best is {chosen.source}, what you run now: confirming the "
                    f"best alternative, {alternative.source}, against it instead.\n"
                )
                chosen = alternative
        confirmation = None
        unconfirmed = None  # the search's pick, when it could not be confirmed
        if chosen is None and not interrupted:
            err.write("No feasible trial: nothing to recommend (see report.json).\n")
        elif chosen is not None and interrupted:
            unconfirmed, chosen = chosen, None
            err.write("Nothing is recommended from an interrupted search (see report.json).\n")
        elif chosen is not None and o.confirm > 0:
            err.write(
                f"Confirming {chosen.source} ({describe_choice(chosen.choice)}) "
                f"against {', '.join(setup.baselines)}: up to {o.confirm} interleaved rounds.\n"
            )

            def on_run(r: int, label: str, metrics: Any) -> None:
                err.write(
                    f"  round {r + 1} {label}: {metrics.get('throughput') or 0:.1f} tasks/s, "
                    f"p99 {metrics.get('p99') or float('nan'):.3f} s\n"
                )

            pick = chosen
            try:
                chosen, confirmation = results.confirm(
                    setup, study, outcome.plan, pick, o.confirm, on_run=on_run
                )
            except KeyboardInterrupt:
                interrupted = True
                unconfirmed, chosen = pick, None
                err.write(
                    "Interrupted during confirmation: nothing is recommended. Rerun the same "
                    "command to resume the study and confirm again.\n"
                )
            if confirmation is not None and confirmation.error is not None:
                unconfirmed, chosen = pick, None
                err.write(
                    f"Confirmation failed: {confirmation.error}\nNothing is recommended: the "
                    "search's pick was not confirmed (report.json lists it as unconfirmed). "
                    "Rerun the same command to resume the study and confirm again.\n"
                )
            elif confirmation is not None and chosen is None:
                unconfirmed = pick
                err.write(f"Nothing is recommended: {confirmation.reason}.\n")
        summary: dict[str, object] = {
            "workload": setup.workload.name,
            "workload_details": setup.workload.describe(),
            "objectives": list(setup.goal.objectives),
            "objective_text": setup.goal.describe(),
            "p99_slo": setup.goal.p99_slo,
            "max_rss": setup.goal.max_rss,
            "gil_probe": setup.probe.as_dict() if setup.probe else None,
            "ruled_out": [r.as_dict() for r in setup.ruled_out],
            "seeds": [s.as_dict() for s in setup.seeds],
            "space": setup.space.as_dict(),
            "space_size": dict(setup.space_size),
            "plan": outcome.plan.describe(),
            "budget": {
                "trials": o.trials,
                "timeout": o.timeout,
                "trial_seconds": o.trial_seconds,
                "confirm": o.confirm,
            },
            "trials_this_run": progress.done,
            "fidelity": screening,
            "dead_trials": outcome.dead,
            "interrupted": interrupted,
            "input_config": setup.input.path if setup.input else None,
            "notes": setup.notes,
        }
        if unconfirmed is not None:
            summary["unconfirmed_pick"] = {
                "source": unconfirmed.source,
                "choice": unconfirmed.choice,
                "search_metrics": unconfirmed.metrics,
                "why": "interrupted"
                if interrupted
                else (confirmation.error if confirmation and confirmation.error else "constraints"),
            }
        written = output.write_outputs(
            setup, study, outcome.plan, chosen, confirmation, summary, url, load_before
        )
    _print_summary(out, setup, chosen, confirmation, written)
    if interrupted:
        return 143 if signals.terminated else 130
    return 0 if chosen is not None else 1


def _screening(setup: Any, study: Any) -> dict[str, object]:
    """The multi-fidelity screening of the study (report.json's ``fidelity``)."""
    from tuner.optimize.fidelity import RacingPruner, summary

    if not setup.options.prune:
        rule = "off (--no-prune): every trial runs in full"
    elif setup.goal.multi:
        rule = "off: multi-objective studies cannot be pruned, every trial runs in full"
    elif isinstance(study.pruner, RacingPruner):
        rule = study.pruner.describe()
    else:
        rule = type(study.pruner).__name__
    return summary(study, rule)


def _print_summary(out: TextIO, setup: Any, chosen: Any, confirmation: Any, written: Any) -> None:
    from tuner.optimize.emit import command_line
    from tuner.optimize.output import command_app
    from tuner.optimize.progress import describe_choice

    if chosen is not None:
        out.write(f"Pick: {chosen.source}: {describe_choice(chosen.choice)}\n")
        if chosen.replaced is not None and confirmation is not None:
            shown = "the best alternative" if chosen.challenger else "the search's best"
            out.write(
                f"  {shown}, trial {chosen.replaced.number}, is not recommended: "
                f"{confirmation.reason}\n"
            )
        if confirmation is not None and confirmation.error:
            out.write(f"  confirmation failed: {confirmation.error}\n")
        if confirmation is not None:
            for verdict in confirmation.verdicts.values():
                out.write(f"  {verdict.describe()}\n")
            for label, broken in confirmation.broken.items():
                shown = "the search's pick" if label == "tuned" else label
                out.write(f"  not recommended: {shown} broke {', '.join(broken)}\n")
        if confirmation is None:
            out.write("  NOT CONFIRMED (--confirm 0): the best single trial of the search\n")
        out.write(f"  {command_line(chosen.choice, command_app(setup))}\n")
    out.write("Wrote " + ", ".join(str(p) for p in written) + "\n")
