"""celery-tune's worker pools.

The pool lives in :mod:`tuner.pools.prefork`; select it as ``tuner.pools.prefork:AffinityPool``.
Celery's own tooling decides whether a pool is prefork from the last component of the pool class's
``__module__`` (Celery 5.7.0):

- ``celery/contrib/testing/worker.py``, ``TestWorkController.__init__``: only when
  ``pool_module.split('.')[-1] == 'prefork'`` does the embedded test worker (``start_worker``,
  the ``celery_worker``/``celery_session_worker`` fixtures) forward the children's log records to
  the test process, hence to pytest's caplog;
- ``celery/apps/worker.py``, ``Worker.startup_info``: the banner's ``concurrency: N (label)``
  is ``pool.__module__.split('.')[-1]``.

``tuner.pools:AffinityPool`` (the path before this package existed) stays valid: it is the same
class object, so its ``__module__`` is ``tuner.pools.prefork`` too, and pickling it, Celery's
``symbol_by_name`` and the ``worker_process_init`` handler (one ``dispatch_uid``) behave the same
whichever path a config names.
"""

from __future__ import annotations

from tuner.pools.prefork import (
    DISPATCH_UID,
    AffinityAsynPool,
    AffinityBlockingPool,
    AffinityPool,
    child_cpu,
    pin_child,
)

__all__ = [
    "DISPATCH_UID",
    "AffinityAsynPool",
    "AffinityBlockingPool",
    "AffinityPool",
    "child_cpu",
    "pin_child",
]
