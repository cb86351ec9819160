"""The Universal Scalability Law (Gunther): X(N) = lambda N / (1 + sigma (N-1) + kappa N (N-1)).

``lambda`` is the throughput of one unit of concurrency, ``sigma`` contention (serialised work, a
shared CPU budget), ``kappa`` coherency (crosstalk that makes more concurrency *lose* throughput).
Fitted by bounded nonlinear least squares (``scipy.optimize.curve_fit``); the standard errors are
the square roots of the covariance matrix's diagonal.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np


def usl(n: np.ndarray | float, lam: float, sigma: float, kappa: float) -> np.ndarray | float:
    return lam * n / (1 + sigma * (n - 1) + kappa * n * (n - 1))


@dataclass(frozen=True)
class USLFit:
    lam: float
    sigma: float
    kappa: float
    lam_err: float
    sigma_err: float
    kappa_err: float
    points: tuple[tuple[float, float], ...]  # (N, measured X)
    r2: float

    def throughput(self, n: float) -> float:
        return float(usl(n, self.lam, self.sigma, self.kappa))

    def slowdown(self, n: float) -> float:
        """How much longer one task takes with ``n`` busy than alone: N X(1) / X(N)."""
        return 1 + self.sigma * (n - 1) + self.kappa * n * (n - 1)

    @property
    def peak(self) -> float:
        """The concurrency of maximum throughput, sqrt((1 - sigma) / kappa) (inf if kappa = 0)."""
        if self.kappa <= 0:
            return math.inf
        return math.sqrt(max(0.0, 1 - self.sigma) / self.kappa)

    def as_dict(self) -> dict[str, object]:
        return {
            "lambda": self.lam,
            "sigma": self.sigma,
            "kappa": self.kappa,
            "lambda_err": self.lam_err,
            "sigma_err": self.sigma_err,
            "kappa_err": self.kappa_err,
            "r2": self.r2,
            "peak_concurrency": None if math.isinf(self.peak) else self.peak,
            "points": [{"n": n, "throughput": x} for n, x in self.points],
        }


def fit(n: Sequence[float], x: Sequence[float]) -> USLFit:
    """Fit the USL to throughputs ``x`` measured at concurrencies ``n`` (3 distinct N or more)."""
    from scipy.optimize import curve_fit

    nn = np.asarray(n, dtype=float)
    xx = np.asarray(x, dtype=float)
    if nn.shape != xx.shape or nn.size == 0:
        raise ValueError("need as many throughputs as concurrencies")
    if len(set(nn.tolist())) < 3:
        raise ValueError("the USL needs throughput at 3 or more distinct concurrencies")
    if np.any(nn < 1) or np.any(xx <= 0) or not np.all(np.isfinite(xx)):
        raise ValueError("concurrencies must be >= 1 and throughputs > 0")
    lam0 = float(np.max(xx[nn == nn.min()]) / nn.min())
    popt, pcov = curve_fit(
        usl,
        nn,
        xx,
        p0=(lam0, 0.05, 0.001),
        bounds=([0.0, 0.0, 0.0], [np.inf, 1.0, np.inf]),
        maxfev=20_000,
    )
    lam, sigma, kappa = (float(v) for v in popt)
    with np.errstate(invalid="ignore"):
        errs = np.sqrt(np.diag(pcov))
    errs = np.where(np.isfinite(errs), errs, np.nan)
    resid = xx - usl(nn, lam, sigma, kappa)
    total = float(np.sum((xx - xx.mean()) ** 2))
    r2 = 1 - float(np.sum(resid**2)) / total if total > 0 else 1.0
    return USLFit(
        lam=lam,
        sigma=sigma,
        kappa=kappa,
        lam_err=float(errs[0]),
        sigma_err=float(errs[1]),
        kappa_err=float(errs[2]),
        points=tuple((float(a), float(b)) for a, b in zip(nn, xx, strict=True)),
        r2=r2,
    )
