"""``celery-tune bench``: run real Celery workers against a live workload and measure them.

One module per job.  In the bench process: :mod:`config` (what a worker is), :mod:`workloads`
(what it runs), :mod:`load` (when tasks arrive), :mod:`broker`, :mod:`producer` (sending),
:mod:`worker` (process lifecycle), :mod:`driver` (one run), :mod:`events` and :mod:`sampler`
(what was recorded), :mod:`metrics`, :mod:`runner` and :mod:`report`.  In the worker:
:mod:`worker_app`, :mod:`probe`, :mod:`tasks` and, for the embedded broker, :mod:`fs_transport`.
"""
