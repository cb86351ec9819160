"""``celery-tune optimize``: an Optuna search over live ``bench`` trials, one module per concern.

* :mod:`~tuner.optimize.setup`: the options, validated and resolved before any trial runs;
* :mod:`~tuner.optimize.space`: the search space, ``--space FILE.toml`` and ``--fixed key=value``;
* :mod:`~tuner.optimize.objectives`: the goal, its constraints, one trial, pruning;
* :mod:`~tuner.optimize.measure`: which bench runs measure a goal (saturating, open-loop);
* :mod:`~tuner.optimize.storages`: SQLite by default, any RDB URL, heartbeats, resuming;
* :mod:`~tuner.optimize.baselines`: Celery's defaults and the user's config as the first trials;
* :mod:`~tuner.optimize.search`: the study loop;
* :mod:`~tuner.optimize.select`: the best feasible trial, or the Pareto trial to recommend;
* :mod:`~tuner.optimize.confirm`: interleaved re-measurement and a noise-aware verdict;
* :mod:`~tuner.optimize.results`: pick, confirm, compare, and what gets written;
* :mod:`~tuner.optimize.emit`: the config module, TOML and command line, written atomically;
* :mod:`~tuner.optimize.report`: ``report.json`` and a self-contained ``report.html``;
* :mod:`~tuner.optimize.progress`: the progress bar.
"""

from __future__ import annotations
