"""The USL fit recovers known parameters from synthetic measurements, with sensible errors."""

from __future__ import annotations

import math

import numpy as np
import pytest

from tuner.plan.usl import fit, usl

N = np.array([1, 2, 3, 4, 6, 8, 12, 16], dtype=float)


@pytest.mark.parametrize(("lam", "sigma", "kappa"), [(20.0, 0.05, 0.002), (50.0, 0.3, 0.0)])
def test_exact_data_recovers_parameters(lam: float, sigma: float, kappa: float) -> None:
    x = usl(N, lam, sigma, kappa)
    f = fit(N.tolist(), np.asarray(x).tolist())
    assert f.lam == pytest.approx(lam, rel=1e-4)
    assert f.sigma == pytest.approx(sigma, abs=1e-4)
    assert f.kappa == pytest.approx(kappa, abs=1e-5)
    assert f.r2 == pytest.approx(1.0)


def test_noisy_data_within_standard_errors() -> None:
    """3% multiplicative noise (fixed seed): each estimate within 3 standard errors of the truth,
    and the errors are finite and not absurdly large."""
    lam, sigma, kappa = 20.0, 0.08, 0.004
    rng = np.random.default_rng(4)
    n = np.repeat(N, 3)
    x = np.asarray(usl(n, lam, sigma, kappa)) * rng.normal(1.0, 0.03, size=n.size)
    f = fit(n.tolist(), x.tolist())
    for est, err, true in ((f.lam, f.lam_err, lam), (f.sigma, f.sigma_err, sigma)):
        assert math.isfinite(err) and 0 < err < abs(true)
        assert abs(est - true) < 3 * err
    assert abs(f.kappa - kappa) < 3 * f.kappa_err + 1e-6
    # Peak concurrency sqrt((1 - sigma) / kappa) ~ 15.2 for the true values.
    assert 8 < f.peak < 40


def test_slowdown_is_n_x1_over_xn() -> None:
    f = fit(N.tolist(), np.asarray(usl(N, 10.0, 0.1, 0.01)).tolist())
    for n in (1, 4, 8):
        assert f.slowdown(n) == pytest.approx(n * f.throughput(1) / f.throughput(n), rel=1e-3)


def test_cpu_limit_looks_like_contention() -> None:
    """2 CPUs, 1..4 children of CPU-bound work: X = min(N, 2) x.  The USL has no hard ceiling;
    the fit bends the curve over with sigma and kappa, within 15% of the plateau."""
    n = [1, 2, 3, 4]
    x = [10.0, 20.0, 20.0, 20.0]
    f = fit(n, x)
    assert f.sigma + f.kappa > 0.05
    for k, want in zip(n, x, strict=True):
        assert f.throughput(k) == pytest.approx(want, rel=0.15)


def test_too_few_points() -> None:
    with pytest.raises(ValueError, match="3 or more"):
        fit([1, 2, 2], [1.0, 2.0, 2.0])
    with pytest.raises(ValueError):
        fit([1, 2, 3], [1.0, 0.0, 2.0])
