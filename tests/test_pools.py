"""AffinityPool: the CPU-set logic, the assigner, and real workers checked through psutil."""

from __future__ import annotations

import logging
import os
import pickle
import signal
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest
from hypothesis import given
from hypothesis import strategies as st

from tuner import affinity
from tuner.affinity import AffinityError, CpuAssigner, format_cpulist, parse_cpulist, resolve

sys.path.insert(0, str(Path(__file__).resolve().parent))  # the live-worker harness
import celery_live as live  # type: ignore[import-not-found, unused-ignore]

POOL = "tuner.pools.prefork:AffinityPool"
OLD_ALIAS = "tuner.pools:AffinityPool"  # the path before tuner.pools became a package
CPUS = sorted(os.sched_getaffinity(0))
needs_redis = pytest.mark.skipif(
    not live.redis_reachable(), reason="Redis on 127.0.0.1:6379 is not reachable"
)
needs_two_cpus = pytest.mark.skipif(len(CPUS) < 2, reason="needs at least 2 allowed CPUs")


# --- CPU lists and the CPU set -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "cpus"),
    [
        ("0", [0]),
        ("0,2", [0, 2]),
        ("0-3", [0, 1, 2, 3]),
        ("4-5, 0 ,1", [0, 1, 4, 5]),
        ([3, 1], [1, 3]),
    ],
)
def test_parse_cpulist(text: object, cpus: list[int]) -> None:
    assert parse_cpulist(text) == cpus


@pytest.mark.parametrize("bad", ["x", "3-1", "-1", "", ",", "1-x", 1.5, True, {"a": 1}])
def test_parse_cpulist_rejects_with_one_line(bad: object) -> None:
    with pytest.raises(AffinityError) as err:
        parse_cpulist(bad, "worker_affinity_cpus")
    assert str(err.value).startswith("worker_affinity_cpus: ")
    assert "\n" not in str(err.value)


@given(st.sets(st.integers(0, 300), min_size=1))
def test_format_cpulist_round_trips(cpus: set[int]) -> None:
    assert parse_cpulist(format_cpulist(cpus)) == sorted(cpus)


def test_resolve_defaults_to_the_allowed_set() -> None:
    plan = resolve(environ={}, allowed=[2, 3, 5])
    assert plan.cpus == (2, 3, 5)
    assert plan.warnings == ()


def test_resolve_env_wins_over_config_and_outsiders_are_dropped() -> None:
    env = {affinity.ENV_CPUS: "1,3,9"}
    plan = resolve("0", None, environ=env, allowed=[0, 1, 2, 3])
    assert plan.cpus == (1, 3)
    assert len(plan.warnings) == 1 and "9" in plan.warnings[0]
    assert resolve("0,2", None, environ={}, allowed=[0, 1, 2, 3]).cpus == (0, 2)


def test_resolve_with_no_allowed_cpu_is_an_error() -> None:
    with pytest.raises(AffinityError, match="none of these CPUs is allowed"):
        resolve("7", None, environ={}, allowed=[0, 1])


def _fake_sysfs(root: Path, siblings: dict[int, str]) -> Path:
    for cpu, text in siblings.items():
        topo = root / f"cpu{cpu}" / "topology"
        topo.mkdir(parents=True)
        (topo / "thread_siblings_list").write_text(text + "\n")
    return root


def test_physical_only_skips_smt_siblings(tmp_path: Path) -> None:
    # 2 cores x 2 threads, numbered as Linux does on x86: core 0 = {0, 2}, core 1 = {1, 3}
    sysfs = _fake_sysfs(tmp_path, {0: "0,2", 1: "1,3", 2: "0,2", 3: "1,3"})
    plan = resolve(None, True, environ={}, allowed=[0, 1, 2, 3], sysfs=sysfs)
    assert plan.cpus == (0, 1)
    # Only the second thread of core 0 allowed: it stands for its core.
    plan = resolve(None, "yes", environ={}, allowed=[1, 2, 3], sysfs=sysfs)
    assert plan.cpus == (1, 2)
    env = {affinity.ENV_PHYSICAL_ONLY: "1"}
    assert resolve(None, False, environ=env, allowed=[0, 1, 2, 3], sysfs=sysfs).cpus == (0, 1)


def test_physical_only_without_topology_warns_and_keeps_all(tmp_path: Path) -> None:
    plan = resolve(None, True, environ={}, allowed=[0, 1], sysfs=tmp_path / "none")
    assert plan.cpus == (0, 1)
    assert "SMT topology" in plan.warnings[0]


def test_physical_only_on_this_machine_matches_psutil() -> None:
    phys = affinity.physical_only(affinity.allowed_cpus())
    if phys is None:
        pytest.skip("no /sys CPU topology here")
    cores = psutil.cpu_count(logical=False)
    if cores is None or len(affinity.allowed_cpus()) != psutil.cpu_count():
        pytest.skip("affinity mask narrower than the machine")
    assert len(phys) == cores


def test_bad_flag_is_an_error() -> None:
    with pytest.raises(AffinityError, match="expected true or false"):
        resolve(None, "maybe", environ={}, allowed=[0])


# --- the assigner ---------------------------------------------------------------------------------


def test_assigner_spreads_round_robin_and_refills_freed_cpus() -> None:
    a = CpuAssigner([0, 1, 2])
    live: list[int] = []
    for pid in (10, 11, 12, 13):
        cpu = a.pick(live)
        a.assign(pid, cpu)
        live.append(pid)
    assert a.assignments() == {10: 0, 11: 1, 12: 2, 13: 0}
    live.remove(11)  # the child on CPU 1 dies: its replacement must take CPU 1, not CPU 0
    assert a.pick(live) == 1
    live.remove(10)
    live.remove(13)
    assert a.pick(live) == 0


@given(st.lists(st.tuples(st.booleans(), st.integers(0, 50)), max_size=60), st.integers(1, 6))
def test_assigner_always_takes_a_least_loaded_cpu(ops: list[tuple[bool, int]], n: int) -> None:
    a = CpuAssigner(range(n))
    live: list[int] = []
    next_pid = 100
    for spawn, k in ops:
        if spawn or not live:
            load = {c: sum(1 for p in live if a.assignments()[p] == c) for c in range(n)}
            cpu = a.pick(live)
            assert load[cpu] == min(load.values())
            a.assign(next_pid, cpu)
            live.append(next_pid)
            next_pid += 1
        else:
            live.pop(k % len(live))
    a.pick(live)
    assert set(a.assignments()) == set(live)


# --- a real billiard pool with the pinning mixin (no broker) -------------------------------------


@needs_two_cpus
def test_blocking_pool_pins_children_and_replaces_a_recycled_one() -> None:
    from tuner.pools import AffinityBlockingPool

    assigner = CpuAssigner(CPUS[:2])
    pool = AffinityBlockingPool(processes=2, affinity=assigner, maxtasksperchild=1)
    try:
        pids = [p.pid for p in pool._pool]
        assert sorted(psutil.Process(p).cpu_affinity()[0] for p in pids) == CPUS[:2]
        before = assigner.assignments()  # read now: the replacement's pick forgets the dead pid
        victim = pool.apply_async(os.getpid).get(timeout=30)  # that child then exits
        victim_cpu = before[victim]
        (survivor,) = set(pids) - {victim}
        # billiard appends the new Process to ``_pool`` *before* it forks, so for a moment the
        # list holds an entry whose pid is None (and ``psutil.Process(None)`` is this test
        # process).  The event to wait for is the parent recording the started child's pid,
        # which it does just before pinning it.
        deadline = time.monotonic() + 60
        while True:
            new = {p.pid for p in pool._pool} - {survivor, victim, None}
            if new and new <= set(assigner.assignments()):
                break
            assert time.monotonic() < deadline, f"no replacement: {[p.pid for p in pool._pool]}"
            time.sleep(0.02)
        (new_pid,) = new
        # The parent pins right after it records the pid (the bare pool has no
        # worker_process_init): wait, with a generous deadline, for that call to have run.
        while psutil.Process(new_pid).cpu_affinity() != [victim_cpu]:
            assert time.monotonic() < deadline, psutil.Process(new_pid).cpu_affinity()
            time.sleep(0.02)
        assert assigner.assignments() == {survivor: before[survivor], new_pid: victim_cpu}
        assert before[survivor] != victim_cpu
    finally:
        pool.terminate()


# --- real workers ---------------------------------------------------------------------------------


def _done(directory: Path) -> dict[int, tuple[int, list[int], str]]:
    out = {}
    for f in directory.glob("*.done"):
        pid, cpus, pinned = f.read_text().split()
        out[int(f.stem)] = (int(pid), [int(c) for c in cpus.split(",")], pinned)
    return out


def _assert_one_cpu_each(aff: dict[int, list[int]], cpus: list[int]) -> None:
    assert all(len(v) == 1 for v in aff.values()), aff
    used = sorted(v[0] for v in aff.values())
    assert set(used) <= set(cpus), aff
    # Evenly spread: the busiest CPU has at most one child more than the least busy.
    counts = [used.count(c) for c in cpus]
    assert max(counts) - min(counts) <= 1, aff


@pytest.mark.slow
@needs_redis
@needs_two_cpus
def test_worker_pool_setting_pins_and_recycled_children_stay_spread(tmp_path: Path) -> None:
    out = tmp_path / "out"
    out.mkdir()
    settings = {"worker_pool": POOL, "worker_max_tasks_per_child": 2}
    with live.start_worker(tmp_path, ["-c", "2", "--prefetch-multiplier", "1"], settings) as w:
        first = w.wait_children(2)
        _assert_one_cpu_each(w.affinities(), CPUS)
        assert "AffinityPool: pinning 2 children" in w.log()
        w.send("celery_live.mark", [0, str(out), 0.02])  # warm-up, then the batch
        for i in range(1, 12):
            w.send("celery_live.mark", [i, str(out), 0.02])
        live.wait_for(lambda: len(_done(out)) == 12, 60, "12 tasks")
        children = w.wait_children(2)
        aff = w.affinities()
        _assert_one_cpu_each(aff, CPUS)
        assert not set(children) & set(first), "children were not recycled"
        done = _done(out)
        assert len({pid for pid, _, _ in done.values()}) >= 6  # 12 tasks, 2 per child
        for _pid, cpus, pinned in done.values():
            assert len(cpus) == 1, done
            assert pinned == str(cpus[0]), "worker_process_init did not pin the child"


@pytest.mark.slow
@needs_redis
@needs_two_cpus
def test_custom_env_selection_survives_sigkill_without_losing_tasks(tmp_path: Path) -> None:
    out = tmp_path / "out"
    out.mkdir()
    settings = {"task_acks_late": True, "task_reject_on_worker_lost": True}
    env = {"CELERY_CUSTOM_WORKER_POOL": POOL}
    args = ["-P", "custom", "-c", "2", "--prefetch-multiplier", "1"]
    with live.start_worker(tmp_path, args, settings, env) as w:
        before = w.wait_children(2)
        _assert_one_cpu_each(w.affinities(), CPUS)
        n = 6
        for i in range(n):
            w.send("celery_live.mark", [i, str(out), 0.4])

        def busy() -> set[int]:
            return {int(f.read_text()) for f in out.glob("*.start")}

        live.wait_for(lambda: len(busy()) == 2, 60, "both children to start a task")
        # Kill the child on the last CPU: a replacement that ignored freed CPUs would take CPU 0.
        victim = next(p for p, cpus in w.affinities().items() if cpus == [CPUS[-1]])
        assert victim in busy()
        victim_cpu = [CPUS[-1]]
        os.kill(victim, signal.SIGKILL)
        after = w.wait_children(2, exclude=[victim])
        aff = w.affinities()
        _assert_one_cpu_each(aff, CPUS)
        new = next(p for p in after if p not in before)
        assert aff[new] == victim_cpu, "the replacement did not take the freed CPU"
        live.wait_for(lambda: len(_done(out)) == n, 60, f"all {n} tasks (none lost)")
        assert sorted(_done(out)) == list(range(n))
        assert "WorkerLostError" in w.log() or "SIGKILL" in w.log()


@pytest.mark.slow
@needs_redis
@needs_two_cpus
def test_more_children_than_cpus_spread_evenly_and_logged_once(tmp_path: Path) -> None:
    n = 2 * len(CPUS)
    settings = {"worker_pool": POOL}
    with live.start_worker(tmp_path, ["-c", str(n)], settings) as w:
        w.wait_children(n)
        aff = w.affinities()
        _assert_one_cpu_each(aff, CPUS)
        assert w.log().count("children on") == 1
        assert w.log().count("more children than CPUs") == 0


@pytest.mark.slow
@needs_redis
@needs_two_cpus
def test_explicit_cpu_list_from_the_environment(tmp_path: Path) -> None:
    last = CPUS[-1]
    env = {affinity.ENV_CPUS: str(last)}
    settings = {"worker_pool": POOL, "worker_affinity_cpus": str(CPUS[0])}
    with live.start_worker(tmp_path, ["-c", "2"], settings, env) as w:
        w.wait_children(2)
        assert sorted(w.affinities().values()) == [[last], [last]]
        assert f"{affinity.ENV_CPUS}={last}" in w.log()


@pytest.mark.slow
@needs_redis
def test_bad_cpu_list_logs_one_line_and_runs_unpinned(tmp_path: Path) -> None:
    settings = {"worker_pool": POOL, "worker_affinity_cpus": "0-x"}
    with live.start_worker(tmp_path, ["-c", "1"], settings) as w:
        (child,) = w.wait_children(1, pinned=False)
        time.sleep(0.5)
        assert w.affinities()[child] == CPUS
        errors = [line for line in w.log().splitlines() if "AffinityPool" in line]
        assert len(errors) == 1 and "NOT pinned" in errors[0] and "Traceback" not in w.log()


def test_without_sched_setaffinity_it_is_plain_prefork_with_one_warning(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    from tuner.pools import prefork

    monkeypatch.setattr(prefork, "supported", lambda: False)
    pool = prefork.AffinityPool(limit=2)
    with caplog.at_level("WARNING", logger="tuner.pools"):
        pool.start()
    try:
        pids = [p.pid for p in pool._pool._pool]
        assert len(pids) == 2
        for pid in pids:
            assert sorted(psutil.Process(pid).cpu_affinity()) == CPUS
        assert pool.assignments() == {}
        warnings = [r for r in caplog.records if r.name == "tuner.pools"]
        assert len(warnings) == 1 and "plain prefork" in warnings[0].getMessage()
    finally:
        pool.terminate()


@needs_two_cpus
def test_pool_reports_its_assignment_in_stats() -> None:
    from tuner.pools import AffinityPool

    pool = AffinityPool(limit=2)
    pool.start()
    try:
        pids = sorted(p.pid for p in pool._pool._pool)
        info = pool._get_info()
        assert sorted(info["affinity"]) == pids
        assert sorted(info["affinity"].values()) == CPUS[:2]
        for pid, cpu in info["affinity"].items():
            assert psutil.Process(pid).cpu_affinity() == [cpu]
        assert info["affinity-cpus"] == format_cpulist(CPUS)
    finally:
        pool.terminate()


@pytest.mark.slow
@needs_redis
@needs_two_cpus
def test_spawn_start_method_children_are_pinned_by_the_parent(tmp_path: Path) -> None:
    import celery

    if tuple(int(x) for x in celery.__version__.split(".")[:2]) < (5, 7):
        pytest.skip("--pool-start-method is Celery 5.7+")
    args = ["-c", "2", "--pool-start-method", "spawn"]
    with live.start_worker(tmp_path, args, {"worker_pool": POOL}) as w:
        # Spawn adds billiard's resource-tracker process, which is not a pool child (unpinned).
        def pinned() -> dict[int, list[int]]:
            return {p: c for p, c in w.affinities().items() if len(c) == 1}

        live.wait_for(lambda: len(pinned()) == 2, 60, "2 pinned pool children")
        _assert_one_cpu_each(pinned(), CPUS)
        live.wait_for(lambda: "SpawnPoolWorker" in w.log(), 60, "spawned children in the log")


# --- the module path Celery's tooling reads ------------------------------------------------------
#
# Celery decides whether a pool is prefork from the last component of the pool class's module
# (Celery 5.7.0): ``celery/contrib/testing/worker.py`` ``TestWorkController.__init__`` forwards the
# children's log records to the test process only when it is ``prefork``, and
# ``celery/apps/worker.py`` ``Worker.startup_info`` prints it in the banner's concurrency line.


def test_both_paths_name_the_same_class_and_it_lives_in_a_prefork_module() -> None:
    from celery.concurrency import get_implementation
    from celery.utils.imports import symbol_by_name

    import tuner.pools
    from tuner.pools import prefork

    new, old = symbol_by_name(POOL), symbol_by_name(OLD_ALIAS)
    assert new is old is prefork.AffinityPool is get_implementation(OLD_ALIAS)
    assert new.__module__.split(".")[-1] == "prefork"
    for name in ("AffinityAsynPool", "AffinityBlockingPool", "pin_child", "child_cpu"):
        assert getattr(tuner.pools, name) is getattr(prefork, name)
    # Classes and functions pickle by reference, under the module they live in.
    for obj in (new, prefork.AffinityBlockingPool, prefork.pin_child):
        assert f"{obj.__module__}.{obj.__qualname__}" == f"tuner.pools.prefork.{obj.__name__}"
        assert pickle.loads(pickle.dumps(obj)) is obj


def test_pin_child_is_connected_once_whichever_path_started_the_pool() -> None:
    from celery import signals
    from celery.utils.imports import symbol_by_name

    from tuner.pools import DISPATCH_UID, pin_child

    pools = [symbol_by_name(path)(limit=1) for path in (OLD_ALIAS, POOL)]
    try:
        for pool in pools:
            pool.start()
        # Connected with weak=False, so the receiver is stored as the function itself.
        receivers = signals.worker_process_init.receivers
        assert [r for (uid, _), r in receivers if uid == DISPATCH_UID] == [pin_child]
    finally:
        for pool in pools:
            pool.terminate()


@pytest.fixture
def embedded_worker_state(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """``start_worker`` sets up Celery's logging and current app in this process: undo it after."""
    from celery import _state

    for key in ("_MP_FORK_LOGLEVEL_", "_MP_FORK_LOGFILE_", "_MP_FORK_LOGFORMAT_"):
        monkeypatch.setenv(key, "")  # restored (removed) at teardown, whatever Celery writes
    loggers = [logging.getLogger(), logging.getLogger("celery"), logging.getLogger("celery.task")]
    saved = [(lg, lg.level, list(lg.handlers), lg.propagate) for lg in loggers]
    default_app, current_app = _state.default_app, getattr(_state._tls, "current_app", None)
    try:
        yield
    finally:
        for lg, level, handlers, propagate in saved:
            lg.setLevel(level)
            lg.handlers[:] = handlers
            lg.propagate = propagate
        _state.default_app = default_app
        _state._tls.current_app = current_app


def _old_layout_pool() -> type:
    """AffinityPool as it was importable before: the same class, in a module named tuner.pools."""
    from tuner.pools.prefork import AffinityPool

    return type("AffinityPool", (AffinityPool,), {"__module__": "tuner.pools"})


@pytest.mark.slow
@pytest.mark.parametrize(
    ("broker", "pool", "forwarded"),
    [
        ("memory", POOL, True),  # no event loop: AffinityBlockingPool
        ("redis", POOL, True),  # event loop: AffinityAsynPool
        ("memory", OLD_ALIAS, True),  # the alias is the same class
        ("memory", "old-layout", False),  # what tuner.pools:AffinityPool did before the move
    ],
)
def test_start_worker_forwards_the_childs_trace_records_to_caplog(
    broker: str,
    pool: str,
    forwarded: bool,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
    embedded_worker_state: None,
) -> None:
    from celery import Celery
    from celery.contrib.testing.worker import start_worker
    from celery.worker import state as worker_state

    if broker == "redis" and not live.redis_reachable():
        pytest.skip("Redis on 127.0.0.1:6379 is not reachable")
    queue = f"pools-caplog-{uuid.uuid4().hex[:10]}"
    app = Celery(
        queue, broker=live.REDIS_URL if broker == "redis" else "memory://", set_as_current=False
    )
    app.conf.update(
        task_default_queue=queue,
        task_default_exchange=queue,
        task_default_routing_key=queue,
        task_ignore_result=True,
        worker_enable_remote_control=False,
        worker_hijack_root_logger=False,  # else Celery would drop caplog's handler from the root
        broker_connection_retry_on_startup=True,
    )
    name = f"{queue}.where"

    @app.task(name=name)  # type: ignore[untyped-decorator, misc, unused-ignore]
    def where(path: str) -> int:
        Path(path).write_text(str(os.getpid()))
        return os.getpid()

    pool_cls = _old_layout_pool() if pool == "old-layout" else pool
    out = tmp_path / "pid"
    caplog.set_level("INFO")

    def trace_records(state: str) -> list[logging.LogRecord]:
        return [
            r
            for r in caplog.records
            if r.name == "celery.app.trace"
            and r.getMessage().startswith(f"Task {name}[")
            and state in r.getMessage()
        ]

    try:
        with start_worker(
            app, concurrency=1, pool=pool_cls, loglevel="INFO", perform_ping_check=False
        ) as worker:
            assert (worker.logger_queue is not None) is forwarded
            where.delay(str(out))
            # The parent knows the task is done once the child's result came back.
            live.wait_for(
                lambda: (
                    worker_state.total_count.get(name, 0) == 1 and not worker_state.active_requests
                ),
                60,
                "the task to run in the pool",
            )
            child = int(out.read_text())
            assert child != os.getpid()
            if forwarded:
                live.wait_for(lambda: trace_records("succeeded"), 60, "the child's record")
                (record,) = trace_records("succeeded")
                assert record.process == child
            else:
                assert trace_records("succeeded") == []
    finally:
        if broker == "redis":
            live.purge(queue)
    # The parent's own record reaches caplog whatever the pool's module: caplog works.
    received = [r for r in caplog.records if r.name == "celery.worker.strategy"]
    assert any(name in r.getMessage() for r in received)


@pytest.mark.slow
@needs_redis
@pytest.mark.parametrize(
    ("args", "settings", "env"),
    [
        (["-c", "2"], {"worker_pool": POOL}, {}),
        (["-P", "custom", "-c", "2"], {}, {"CELERY_CUSTOM_WORKER_POOL": OLD_ALIAS}),
    ],
    ids=["worker_pool-setting", "custom-old-alias"],
)
def test_worker_banner_names_the_pool_prefork(
    tmp_path: Path, args: list[str], settings: dict[str, object], env: dict[str, str]
) -> None:
    with live.start_worker(tmp_path, args, settings, env) as w:
        live.wait_for(lambda: "concurrency:" in w.output(), 60, "the banner")
        (line,) = [ln for ln in w.output().splitlines() if "concurrency:" in ln]
        assert line.rstrip().endswith("concurrency: 2 (prefork)"), line
        assert "AffinityPool: pinning 2 children" in w.log()  # and it is our pool
