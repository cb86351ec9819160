"""A synthetic model (no live runs): known service times and a USL fit of known parameters."""

from __future__ import annotations

import numpy as np

from tuner.plan.characterise import Model, Point
from tuner.plan.usl import fit, usl


def synthetic_model(
    *, mean: float = 0.05, cpus: float = 2.0, sigma: float = 0.05, kappa: float = 0.01
) -> Model:
    rng = np.random.default_rng(0)
    runs = rng.gamma(4.0, mean / 4.0, size=2000)
    lam = 1.0 / mean
    ns = [1, 2, 3, 4]
    xs = [float(usl(n, lam, sigma, kappa)) for n in ns]
    return Model(
        workload="synthetic",
        broker="embedded (filesystem transport)",
        cpus=cpus,
        config={"prefetch_multiplier": 1, "acks_late": True},
        run_times=tuple(float(r) for r in runs),
        cpu_times=tuple(float(r) for r in runs),
        types=({"nominal_cpu_seconds": mean, "count": 2000},),
        dispatch=0.005,
        overhead=0.0,
        concurrency_points=tuple(Point(1, n, x) for n, x in zip(ns, xs, strict=True)),
        node_points=(Point(2, 1, xs[1]),),
        usl=fit(ns, xs),
        broker_ceiling=900.0,
        low_load={"rate": 5.0, "throughput": 5.0, "p50": 0.05, "p99": 0.12},
    )
