from __future__ import annotations

import importlib.util
import warnings
from pathlib import Path

import optuna
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tuner.optimize.space import (
    AFFINITY_POOL,
    DEFAULTS,
    Choice,
    Param,
    Scalar,
    Space,
    SpaceError,
    baseline_choice,
    default_space,
    gate,
    project,
    suggest,
)
from tuner.optimize.spacefile import load_space, parse_fixed, parse_space

optuna.logging.set_verbosity(optuna.logging.WARNING)


def sample(space: Space, n: int, seed: int = 0) -> list[tuple[Choice, dict[str, object]]]:
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=seed))
    out = []
    for _ in range(n):
        trial = study.ask()
        choice = suggest(trial, space)
        out.append((choice, dict(trial.params)))
        study.tell(trial, 1.0)
    return out


def replay(space: Space, params: dict[str, Scalar]) -> Choice:
    """What suggest() yields for an enqueued trial with ``params``."""
    study = optuna.create_study()
    study.enqueue_trial(params)
    trial = study.ask()
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # an out-of-range enqueue would warn
        choice = suggest(trial, space)
    assert trial.params == params
    return choice


def test_default_space_matches_the_issue() -> None:
    space = default_space(2, "cpu", broker_url=None, leaky=False)
    by_key = {p.key: p for p in space.params}
    pools = by_key["pool"].choices
    assert pools[:3] == ("prefork", "threads", "solo")
    assert "gevent" not in pools and "eventlet" not in pools  # cpu workload
    assert (AFFINITY_POOL in pools) == (importlib.util.find_spec("tuner.pools.prefork") is not None)
    assert "tuner.pools:AffinityPool" not in pools  # the old alias is accepted, not offered
    assert (by_key["concurrency"].low, by_key["concurrency"].high) == (1, 8)
    pf = by_key["prefetch_multiplier"]
    assert (pf.low, pf.high) == (1, 16)
    mtpc = by_key["max_tasks_per_child"]
    assert (mtpc.low, mtpc.high, mtpc.log, mtpc.none) == (1, 10_000, True, True)
    assert by_key["acks_late"].choices == (False, True)
    assert "disable_prefetch" not in by_key  # embedded broker: not honoured
    assert "max_memory_per_child" not in by_key  # not a leaky workload


def test_default_space_adapts_to_broker_workload_and_leaks() -> None:
    redis = default_space(4, "io", broker_url="redis://127.0.0.1:6379/0", leaky=True)
    keys = [p.key for p in redis.params]
    assert "disable_prefetch" in keys  # Celery 5.7 on Redis
    assert "max_memory_per_child" in keys
    assert redis.get("concurrency") == Param("concurrency", low=1, high=16)
    pools = redis.get("pool")
    assert pools is not None
    for green in ("gevent", "eventlet"):
        assert (green in pools.choices) == (importlib.util.find_spec(green) is not None)
    amqp = default_space(4, "cpu", broker_url="amqp://guest:guest@127.0.0.1//", leaky=False)
    assert "disable_prefetch" not in [p.key for p in amqp.params]


def test_sampling_respects_the_conditions() -> None:
    space = default_space(2, "cpu", broker_url="redis://127.0.0.1:6379/0", leaky=True)
    seen_pools = set()
    for choice, params in sample(space, 300):
        seen_pools.add(choice["pool"])
        if choice["pool"] == "solo":
            assert choice["concurrency"] is None and "concurrency" not in params
        else:
            assert isinstance(choice["concurrency"], int) and 1 <= choice["concurrency"] <= 8
        if choice["disable_prefetch"]:
            assert "prefetch_multiplier" not in params
        else:
            assert isinstance(choice["prefetch_multiplier"], int)
            assert 1 <= choice["prefetch_multiplier"] <= 16
        if choice["pool"] in ("threads", "solo"):
            assert choice["max_tasks_per_child"] is None
            assert gate("max_tasks_per_child") not in params
            assert choice["max_memory_per_child"] is None
        elif params[gate("max_tasks_per_child")]:
            assert 1 <= params["max_tasks_per_child"] <= 10_000  # type: ignore[operator]
        else:
            assert choice["max_tasks_per_child"] is None and "max_tasks_per_child" not in params
        assert isinstance(choice["acks_late"], bool)
        assert "reject_on_worker_lost" not in params  # not searched by default
    assert {"prefork", "threads", "solo"} <= seen_pools


def test_fixed_pins_a_setting_and_leaves_the_space() -> None:
    fixed, extra = parse_fixed(["pool=threads", "worker_prefetch_multiplier=1"])
    assert fixed == {"pool": "threads", "prefetch_multiplier": 1} and extra == {}
    space = default_space(2, "cpu", broker_url=None, leaky=False).pin(fixed)
    assert space.get("pool") is None and space.get("prefetch_multiplier") is None
    for choice, params in sample(space, 40):
        assert choice["pool"] == "threads" and choice["prefetch_multiplier"] == 1
        assert "pool" not in params and "prefetch_multiplier" not in params


def test_parse_fixed_values_and_errors() -> None:
    fixed, _ = parse_fixed(["max_tasks_per_child=none", "acks_late=true", "concurrency = 3"])
    assert fixed == {"max_tasks_per_child": None, "acks_late": True, "concurrency": 3}
    fixed, _ = parse_fixed(["pool=tuner.pools:AffinityPool", "optimization=fair"])
    assert fixed == {"pool": "tuner.pools:AffinityPool", "optimization": "fair"}
    with pytest.raises(SpaceError, match=r"unknown setting 'worker_num_processes'"):
        parse_fixed(["worker_num_processes=4"])
    with pytest.raises(SpaceError, match="concurrency must be >= 1"):
        parse_fixed(["concurrency=0"])
    with pytest.raises(SpaceError, match="acks_late must be true or false"):
        parse_fixed(["acks_late=1"])
    with pytest.raises(SpaceError, match="expected key=value"):
        parse_fixed(["concurrency"])
    with pytest.raises(SpaceError, match="unknown pool 'fork'"):
        parse_fixed(["pool=fork"])
    with pytest.raises(SpaceError, match="cannot be none"):
        parse_fixed(["pool=none"])
    _, extra = parse_fixed(["worker_send_task_events=true"], settings_known=lambda k: True)
    assert extra == {"worker_send_task_events": True}


def test_projection_round_trips_celery_defaults() -> None:
    space = default_space(2, "cpu", broker_url=None, leaky=False)
    defaults = baseline_choice(DEFAULTS, cpus=2)
    params = project(space, defaults, cpus=2)
    assert params == {
        "pool": "prefork",
        "concurrency": 2,
        "prefetch_multiplier": 4,
        gate("max_tasks_per_child"): False,
        "acks_late": False,
    }
    assert replay(space, params) == defaults


def test_widening_brings_an_out_of_space_baseline_inside() -> None:
    space = default_space(2, "cpu", broker_url=None, leaky=False)
    user: Choice = {**DEFAULTS, "pool": "gevent", "concurrency": 50, "prefetch_multiplier": 64}
    wide = space.widened(user)
    assert wide.get("concurrency") == Param("concurrency", low=1, high=50)
    pool = wide.get("pool")
    assert pool is not None and "gevent" in pool.choices
    assert replay(wide, project(wide, user, cpus=2)) == user
    # A solo baseline does not touch concurrency: solo never reaches it.
    solo: Choice = {**DEFAULTS, "pool": "solo"}
    assert space.widened(solo).get("concurrency") == space.get("concurrency")


@settings(max_examples=60, deadline=None)
@given(
    pool=st.sampled_from(["prefork", "threads", "solo"]),
    concurrency=st.integers(1, 8),
    prefetch=st.integers(1, 16),
    disable=st.booleans(),
    mtpc=st.one_of(st.none(), st.integers(1, 10_000)),
    acks=st.booleans(),
)
def test_any_choice_in_the_space_round_trips(
    pool: str, concurrency: int, prefetch: int, disable: bool, mtpc: int | None, acks: bool
) -> None:
    space = default_space(2, "cpu", broker_url="redis://127.0.0.1:6379/0", leaky=False)
    choice = dict(DEFAULTS)
    choice.update(pool=pool, disable_prefetch=disable, acks_late=acks)
    if pool != "solo":
        choice["concurrency"] = concurrency
    if not disable:
        choice["prefetch_multiplier"] = prefetch
    if pool == "prefork":
        choice["max_tasks_per_child"] = mtpc
    assert replay(space, project(space, choice, cpus=2)) == choice


SPACE_TOML = """\
# a reduced space
pool = ["prefork", "threads"]
worker_concurrency = {low = 1, high = 4}
prefetch_multiplier = {choices = [1, 4, 16]}
max_tasks_per_child = {low = 10, high = 1000, log = true, none = true}
acks_late = false
"""


def test_space_toml(tmp_path: Path) -> None:
    path = tmp_path / "space.toml"
    path.write_text(SPACE_TOML)
    space = load_space(str(path))
    assert [p.key for p in space.params] == [
        "pool",
        "concurrency",
        "prefetch_multiplier",
        "max_tasks_per_child",
    ]
    assert space.get("prefetch_multiplier") == Param("prefetch_multiplier", choices=(1, 4, 16))
    assert space.fixed == {"acks_late": False}
    for choice, _ in sample(space, 50):
        assert choice["pool"] in ("prefork", "threads")
        assert choice["prefetch_multiplier"] in (1, 4, 16)
        assert choice["acks_late"] is False


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("pool = [\n", r"space.toml:1: invalid TOML: .* at the end of the file"),
        ("pool = 'a'\npool = 'b'\n", r"space.toml:2:\d+: invalid TOML: Cannot overwrite"),
        ("\n\nworker_num_processes = 4\n", r"space.toml:3: unknown key 'worker_num_processes'"),
        ("concurrency = {low = 5, high = 2}\n", r"space.toml:1: concurrency: low \(5\)"),
        ("x = 1\nconcurrency = [1, true]\n", r"space.toml:1: unknown key 'x'"),
        ("concurrency = [1, true]\n", r"space.toml:1: concurrency: choice True: must be an int"),
        ("acks_late = {low = 0, high = 1}\n", r"acks_late: takes choices"),
        ("pool = {choices = []}\n", r"pool: choices must be a non-empty list"),
        ("prefetch_multiplier = {low = 0, high = 8, log = true}\n", r"log range needs low >= 1"),
        ("concurrency = {low = 1}\n", r"needs both low and high"),
        ("concurrency = {low = 1, high = 2, step = 1}\n", r"unknown field 'step'"),
        ("pool = {choices = ['solo'], none = true}\n", r"pool: cannot be none"),
        ("", r"space.toml: the space is empty"),
        ("acks_late = 2024-01-01\n", r"space.toml:1: acks_late: bad value"),
    ],
)
def test_space_toml_errors_are_one_clear_line(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "space.toml"
    path.write_text(text)
    with pytest.raises(SpaceError, match=message) as info:
        load_space(str(path))
    assert "\n" not in str(info.value)


def test_space_file_unreadable(tmp_path: Path) -> None:
    with pytest.raises(SpaceError, match="cannot read"):
        load_space(str(tmp_path / "missing.toml"))
    bad = tmp_path / "bad.toml"
    bad.write_bytes(b"pool = ['prefork']\n\xff\n")
    with pytest.raises(SpaceError, match=r"bad.toml:2: not valid UTF-8"):
        load_space(str(bad))


def test_parse_space_keeps_celery_names_as_aliases() -> None:
    space = parse_space("task_acks_late = [true, false]\nworker_pool = 'solo'\n")
    assert space.get("acks_late") == Param("acks_late", choices=(True, False))
    assert space.fixed == {"pool": "solo"}
