"""Click wiring for ``celery-tune plan`` (options only; the work is in tuner.commands.plan).

The workload, app, broker, scale and CPU options are the shared ones (tuner.cli.options), so they
read and check as in bench, optimize and profile.
"""

from __future__ import annotations

from typing import Any

import click

from tuner.cli.options import (
    app_options,
    broker_option,
    cpus_option,
    scale_option,
    workload_option,
)


@click.command(context_settings={"help_option_names": ["-h", "--help"]})
@click.argument("workload_file", required=False, metavar="[WORKLOAD.toml]")
@click.option("--rate", type=float, required=True, help="Offered load to plan for, tasks/s.")
@click.option("--p99-slo", type=float, required=True, metavar="SECONDS", help="p99 latency goal.")
@workload_option()
@app_options()
@scale_option()
@click.option("--config", help="The worker config planned for (default: prefetch 1, late acks).")
@broker_option()
@click.option("--instance-cpus", type=float, help="CPUs of one node [this machine's].")
@click.option("--instance-price", type=float, help="Price of one node per hour (monthly cost).")
@click.option("--nodes-now", type=int, help="Nodes of the current fleet (with --config): saving.")
@click.option(
    "--headroom", type=float, default=0.2, show_default=True, help="Meet the SLO at rate x (1+h)."
)
@click.option("--max-nodes", type=int, default=64, show_default=True)
@click.option("--min-rate", type=float, default=0.0, show_default=True, help="Autoscaler floor.")
@click.option("--max-rate", type=float, help="Autoscaler ceiling [rate x (1 + headroom)].")
@click.option("--validate", is_flag=True, help="Check predictions against live bench runs.")
@click.option(
    "--out", "out_dir", type=click.Path(file_okay=False), help="Write model, plan, manifests here."
)
@click.option("--model", type=click.Path(dir_okay=False), help="Reuse a saved model.json.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
@cpus_option("CPUs available here (default: affinity and cgroup quota).")
@click.option("--max-concurrency", type=int, help="Characterise 1..N children [2 x CPUs].")
@click.option("--point-seconds", type=float, default=3.0, show_default=True)
@click.option("--validate-seconds", type=float, default=8.0, show_default=True)
@click.option("--broker-messages", type=int, default=1000, show_default=True)
@click.option("--queue-name", default="celery", show_default=True, help="Queue in the manifests.")
@click.option("--worker-app", default="proj", show_default=True, help="-A in the manifests.")
@click.option("--seed", type=int, default=0, show_default=True)
@click.option("--timeout", type=float, default=180.0, show_default=True, help="Per run, seconds.")
@click.option("--progress/--no-progress", default=None, help="Progress notes on stderr.")
def plan(workload_file: str | None, **options: Any) -> int:
    """Recommend a fleet (nodes x children) for --rate tasks/s at p99 <= --p99-slo, from live
    measurements: USL fit + a simulation replaying measured task times.

    Exit codes: 0 recommended, 1 no fleet meets the SLO or validation missed its accuracy,
    2 error, 130 interrupted.
    """
    from tuner.commands.plan import plan as run_plan

    if workload_file is not None:
        options["workload"] = workload_file
    return run_plan(**options)
