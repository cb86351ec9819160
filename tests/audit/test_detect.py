"""Problems the audit used to miss (issue 9): one minimal fixture per class, each checked against
the real thing where it can run here (Celery's own parser, a real worker, bash, kombu on Redis)."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest

from tuner.audit import engine
from tuner.audit.checks.deploy import (
    EXTRA_CONFIG_NAMESPACES,
    TOP_LEVEL_OPTIONS,
    extra_config_problem,
)
from tuner.audit.options import AuditOptions, OptionsError, validate
from tuner.audit.readers.arith import cpu_expression
from tuner.finding import Finding

CELERY = Path(sys.executable).with_name("celery")


def audit(tmp_path: Path, files: dict[str, str], **options: object) -> list[Finding]:
    paths = []
    for name, text in files.items():
        path = tmp_path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text).lstrip("\n"))
        paths.append(str(path))
    opts = AuditOptions(**{"cpus": 2.0, "workload": "cpu", **options})  # type: ignore[arg-type]
    return engine.run(paths, opts).findings


def codes(findings: list[Finding]) -> list[tuple[str, int]]:
    return [(f.code, f.line) for f in findings]


def only(findings: list[Finding], code: str) -> list[Finding]:
    return [f for f in findings if f.code == code]


# --------------------------------------------------------------------------- removed forms


def test_global_options_after_other_subcommands(tmp_path: Path) -> None:
    found = audit(
        tmp_path,
        {
            "run.sh": """
            celery beat -A proj -l info
            celery -A proj beat -l info
            celery inspect ping --app=proj
            celery events --camera x -c 2 -b redis://localhost
            celery multi start w1 -A proj -l INFO
            celery beat -s /tmp/-A --pidfile=
            celery -A proj purge -Q a,b -f
            celery flower --port=5555 --broker=redis://localhost:6379/0
            """
        },
    )
    ct107 = only(found, "CT107")
    assert [(f.line, f.message.split("`")[1]) for f in ct107] == [
        (1, "-A"),
        (3, "--app"),
        (4, "-b"),
        (8, "--broker"),
    ]
    assert "No such option" in ct107[0].message and "`beat`" in ct107[0].message
    assert "logs a warning and ignores it" in ct107[3].message


def test_old_programs_but_not_the_init_scripts(tmp_path: Path) -> None:
    found = audit(
        tmp_path,
        {
            "run.sh": """
            celerybeat -l info
            celeryev --camera=x
            python manage.py celerybeat
            python manage.py celery beat -l info
            /etc/init.d/celeryd start
            /etc/init.d/celerybeat restart
            """
        },
    )
    messages = [(f.line, f.message) for f in only(found, "CT107")]
    assert messages == [
        (1, "`celerybeat` was removed; Celery 5 runs `celery -A proj beat`"),
        (2, "`celeryev` was removed; Celery 5 runs `celery -A proj events`"),
        (3, "`manage.py celerybeat` was removed; Celery 5 runs `celery -A proj beat`"),
        (4, "`manage.py celery beat` was removed; Celery 5 runs `celery -A proj beat`"),
    ]


def _celery_exit(args: list[str], cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(cwd)}
    return subprocess.run(
        [str(CELERY), *args], cwd=cwd, capture_output=True, text=True, timeout=120, env=env
    )


def test_celery_rejects_a_global_option_after_beat_as_the_rule_says(tmp_path: Path) -> None:
    (tmp_path / "adtapp.py").write_text('from celery import Celery\napp = Celery("m")\n')
    proc = _celery_exit(["beat", "-A", "adtapp"], tmp_path)
    assert proc.returncode == 2
    assert "No such option '-A'" in proc.stderr


# --------------------------------------------------------------------------- extra config


WORDS = [
    "celeryd.prefetch_multiplier=1",
    "celery.task_time_limit=5",
    "worker.prefetch_multiplier=1",
    "worker_prefetch_multiplier=1",
    "WORKER.PREFETCH_MULTIPLIER=1",
    ".prefetch_multiplier=1",
    "_concurrency=2",
    "worker.prefetch=1",
    "broker.pool_limit=2",
    "enable_utc=False",
    "timezone=UTC",
    "result.accept_content=json",
    "task.routes=(json){}",
    "prefetch=1",
    "plainword",
    "event.queue_ttl=5",
]


@pytest.mark.parametrize("word", WORDS)
def test_extra_config_verdict_matches_celerys_parser(word: str) -> None:
    from celery import Celery

    app = Celery("adt", set_as_current=False)
    try:
        app.loader.cmdline_config_parser([word], "worker")
        celery_accepts = True
    except (KeyError, ValueError):
        celery_accepts = False
    assert (extra_config_problem(word) is None) == celery_accepts, word


def test_namespace_tables_match_celery() -> None:
    from celery.app.defaults import NAMESPACES, Option

    assert {k for k, v in NAMESPACES.items() if not isinstance(v, Option)} == set(
        EXTRA_CONFIG_NAMESPACES
    )
    assert {k for k, v in NAMESPACES.items() if isinstance(v, Option)} == set(TOP_LEVEL_OPTIONS)


def test_extra_config_in_multi_and_worker(tmp_path: Path) -> None:
    found = audit(
        tmp_path,
        {
            "run.sh": """
            celery multi start w1 w2 -A proj -c 2 -- celeryd.prefetch_multiplier=1
            celery -A proj worker -c 2 -- worker.prefetch_multiplier=1
            celery -A proj worker -c 2 -- celeryd.concurrency=2 broker.pool_limit=1
            """
        },
    )
    ct120 = only(found, "CT120")
    lines = (tmp_path / "run.sh").read_text().splitlines()
    assert [lines[f.line - 1][f.column - 1 : f.end_column - 1] for f in ct120] == [
        "celeryd.prefetch_multiplier=1",
        "celeryd.concurrency=2",
    ]
    assert [f.line for f in ct120] == [1, 3]
    assert "every worker `celery multi` starts exits" in ct120[0].message
    assert "worker.prefetch_multiplier=1" in ct120[0].message  # did you mean
    assert "Unable to parse extra configuration" in ct120[1].message


def test_a_real_worker_exits_on_the_extra_config_the_rule_flags(tmp_path: Path) -> None:
    (tmp_path / "adtapp.py").write_text(
        'from celery import Celery\napp = Celery("m", broker="memory://")\n'
    )
    proc = _celery_exit(
        ["-A", "adtapp", "worker", "-P", "solo", "--", "celeryd.prefetch_multiplier=1"], tmp_path
    )
    assert proc.returncode == 2
    assert "Unable to parse extra configuration" in proc.stderr
    # celery multi hands the words after -- to each worker it starts.
    show = _celery_exit(
        ["multi", "show", "w1", "-A", "adtapp", "--", "celeryd.prefetch_multiplier=1"], tmp_path
    )
    assert show.returncode == 0
    assert "worker" in show.stdout and "-- celeryd.prefetch_multiplier=1" in show.stdout


# --------------------------------------------------------------------------- shell arithmetic


ARITHMETIC = [
    "$(nproc)",
    "$(expr 2 \\* $(nproc) + 1)",
    "$((2 * $(nproc) + 1))",
    "$(( $(nproc) * 2 ))",
    "$(( $(nproc) / 2 ))",
    "$(( ($(nproc) - 1) % 3 + 1 ))",
    "`nproc`",
    "$(expr $(nproc) - 1)",
]


@pytest.mark.skipif(shutil.which("bash") is None or shutil.which("nproc") is None, reason="bash")
@pytest.mark.parametrize("word", ARITHMETIC)
def test_arithmetic_agrees_with_bash(word: str) -> None:
    at = cpu_expression(word)
    assert at is not None
    here = int(subprocess.run(["nproc"], capture_output=True, text=True, check=True).stdout)
    shell = subprocess.run(
        ["bash", "-c", f"echo {word}"], capture_output=True, text=True, check=True, timeout=30
    )
    assert at(here) == int(shell.stdout)


@pytest.mark.parametrize(
    "word", ["$(nproc --all)", "$(python -c 'print(4)')", "$CONC", "4", "$((nproc))", "$(( 8 "]
)
def test_other_words_stay_unknown(word: str) -> None:
    assert cpu_expression(word) is None


def test_arithmetic_is_judged_against_cpus(tmp_path: Path) -> None:
    found = audit(
        tmp_path,
        {
            "run.sh": """
            celery -A proj worker --concurrency=$(nproc)
            celery -A proj worker -c $(expr 2 \\* $(nproc) + 1)
            celery -A proj worker -c $(( $(nproc) * 2 ))
            celery -A proj worker -c $(( $(nproc) / 2 ))
            celery -A proj worker -c $(nproc --all)
            """
        },
        cpus=4.0,
    )
    ct201 = only(found, "CT201")
    assert [f.line for f in ct201] == [2, 3]
    assert ct201[0].message.startswith("`-c $(expr 2 \\* $(nproc) + 1)` = 9 prefork children")


def test_arithmetic_held_in_a_variable(tmp_path: Path) -> None:
    found = audit(
        tmp_path,
        {
            "run.sh": """
            CONC=$(( $(nproc) * 2 ))
            celery -A proj worker -c $CONC
            N=$(nproc)
            celery -A proj worker -c "$N"
            celery -A proj worker -c $UNSET
            """
        },
    )
    assert [(f.line, f.message.split(" = ")[0]) for f in only(found, "CT201")] == [
        (2, "`-c $CONC (= $(( $(nproc) * 2 )))`")
    ]


def test_exec_form_keeps_the_text_literal(tmp_path: Path) -> None:
    # No shell runs it: Celery gets the string "$(nproc)" (CT111), not a CPU count.
    found = audit(
        tmp_path,
        {"Dockerfile": 'FROM python\nCMD ["celery", "-A", "p", "worker", "-c", "$(nproc)"]\n'},
    )
    assert codes(found) == [("CT111", 2)]


def test_nproc_in_a_container_with_a_cpu_limit_is_not_evaluated(tmp_path: Path) -> None:
    found = audit(
        tmp_path,
        {
            "docker-compose.yml": """
            services:
              worker:
                command: sh -c "celery -A proj worker -c $$(nproc)"
                cpus: 1
            """
        },
        cpus=8.0,
    )
    # nproc there is the node's count, not --cpus (8 > 1 would fire); `2 x nproc`, above the
    # count on any machine, is reported (tests/audit/test_target_cpus.py).
    assert only(found, "CT201") == []


# --------------------------------------------------------------------------- Kubernetes CPU limit


POD = """
apiVersion: apps/v1
kind: Deployment
metadata:
  name: worker
spec:
  template:
    spec:
      containers:
        - name: celery
          command: ["celery", "-A", "proj", "worker", "-l", "info"{extra}]
          {env}
          resources:
            limits:
              cpu: 500m
"""


def test_cpu_limit_without_concurrency_from_the_manifest_alone(tmp_path: Path) -> None:
    found = audit(tmp_path, {"k8s/worker.yaml": POD.format(extra="", env="")})
    assert codes(found) == [("CT209", 10)]
    assert "unless the app's config does" in found[0].message
    assert "limit of 0.5" in found[0].message


@pytest.mark.parametrize(
    ("extra", "env"),
    [
        (', "-c", "1"', ""),
        (', "-P", "threads"', ""),
        (', "--autoscale", "2,1"', ""),
        ("", "env: [{name: CELERY_WORKER_CONCURRENCY, value: '1'}]"),
        ("", "envFrom: [{configMapRef: {name: celery}}]"),
    ],
)
def test_cpu_limit_rule_stays_silent_when_something_may_set_it(
    tmp_path: Path, extra: str, env: str
) -> None:
    found = audit(tmp_path, {"k8s/worker.yaml": POD.format(extra=extra, env=env)})
    assert only(found, "CT209") == []


def test_a_config_in_the_run_that_sets_concurrency_silences_it(tmp_path: Path) -> None:
    files = {
        "k8s/worker.yaml": POD.format(extra="", env=""),
        "proj/celeryconfig.py": "worker_concurrency = 1\n",
    }
    assert only(audit(tmp_path, files), "CT209") == []


# --------------------------------------------------------------------------- transport options


KEEPALIVE = """
broker_url = "redis://127.0.0.1:6379/0"
broker_transport_options = {{
    "socket_keepalive": True,
    "socket_keepalive_options": {keys},
}}
"""


def test_keepalive_options_keyed_by_strings(tmp_path: Path) -> None:
    bad = KEEPALIVE.format(keys='{"TCP_KEEPIDLE": 60}')
    found = only(audit(tmp_path, {"celeryconfig.py": bad}), "CT121")
    assert [f.line for f in found] == [2]
    assert "TypeError" in found[0].message and "socket.TCP_KEEPIDLE" in found[0].message


@pytest.mark.parametrize(
    "text",
    [
        KEEPALIVE.format(keys="{socket.TCP_KEEPIDLE: 60}"),
        KEEPALIVE.replace('"socket_keepalive": True', '"socket_keepalive": False').format(
            keys='{"TCP_KEEPIDLE": 60}'
        ),
        KEEPALIVE.replace("redis://", "amqp://").format(keys='{"TCP_KEEPIDLE": 60}'),
    ],
)
def test_keepalive_options_silent_cases(tmp_path: Path, text: str) -> None:
    assert only(audit(tmp_path, {"celeryconfig.py": "import socket\n" + text}), "CT121") == []


def test_visibility_timeout_as_a_string(tmp_path: Path) -> None:
    text = (
        'broker_url = "redis://r:6379/0"\n'
        'broker_transport_options = {"visibility_timeout": "3600"}\n'
    )
    found = only(audit(tmp_path / "a", {"celeryconfig.py": text}), "CT121")
    assert [f.line for f in found] == [2] and "Unrecoverable error" in found[0].message
    number = text.replace('"3600"', "3600")
    assert only(audit(tmp_path / "b", {"celeryconfig.py": number}), "CT121") == []
    sqs = text.replace("redis://r:6379/0", "sqs://")
    assert only(audit(tmp_path / "c", {"celeryconfig.py": sqs}), "CT121") == []


def _redis_up() -> bool:
    try:
        with socket.create_connection(("127.0.0.1", 6379), timeout=2):
            return True
    except OSError:
        return False


@pytest.mark.skipif(not _redis_up(), reason="no Redis on 127.0.0.1:6379")
def test_kombu_on_redis_raises_typeerror_for_string_keys() -> None:
    from kombu.connection import Connection

    url = "redis://127.0.0.1:6379/13"
    options = {"socket_keepalive": True, "socket_keepalive_options": {"TCP_KEEPIDLE": 60}}
    bad = Connection(url, transport_options=options)  # type: ignore[no-untyped-call]
    with bad as conn, pytest.raises(TypeError, match="integer"):
        conn.default_channel.client.ping()
    good = {"socket_keepalive": True, "socket_keepalive_options": {socket.TCP_KEEPIDLE: 60}}
    with Connection(url, transport_options=good) as conn:  # type: ignore[no-untyped-call]
        assert conn.default_channel.client.ping()


@pytest.mark.skipif(not _redis_up(), reason="no Redis on 127.0.0.1:6379")
def test_a_real_worker_exits_on_a_string_visibility_timeout(tmp_path: Path) -> None:
    (tmp_path / "adtvt.py").write_text(
        "from celery import Celery\n"
        'app = Celery("adtvt", broker="redis://127.0.0.1:6379/13")\n'
        'app.conf.broker_transport_options = {"visibility_timeout": "3600"}\n'
        'app.conf.task_default_queue = "celery-tune-auditdetect-vt"\n'
    )
    proc = _celery_exit(
        ["-A", "adtvt", "worker", "-P", "solo", "--without-mingle", "--without-gossip"], tmp_path
    )
    assert proc.returncode != 0
    assert "Unrecoverable error: TypeError" in proc.stdout + proc.stderr


# --------------------------------------------------------------------------- Procfile, Compose v1


def test_procfile_duplicate_process_type(tmp_path: Path) -> None:
    found = audit(
        tmp_path,
        {
            "Procfile": """
            web: gunicorn proj.wsgi
            worker: celery -A proj worker -Q a -c 2
            worker: celery -A proj worker -Q b -c 2
            beat: celery -A proj beat
            """
        },
    )
    ct122 = only(found, "CT122")
    assert [(f.line, f.column, f.end_column) for f in ct122] == [(3, 1, 7)]
    assert "first at line 2" in ct122[0].message


def test_compose_v1_is_read(tmp_path: Path) -> None:
    v1 = """
    web:
      build: .
      command: gunicorn app:app
    worker:
      image: proj
      command: celery worker -A proj -c 8
    """
    for name in ("docker-compose.yml", "fig.yml"):
        found = audit(tmp_path / name.split(".")[0], {name: v1})
        assert codes(found) == [("CT107", 6), ("CT201", 6)], name


def test_helm_values_are_not_taken_for_compose_v1(tmp_path: Path) -> None:
    values = """
    worker:
      image:
        repository: proj
      command: celery worker -A proj -c 8
    """
    from tuner.audit.readers.commands import detect_kind

    assert detect_kind("values.yaml", textwrap.dedent(values)) == "text"


# --------------------------------------------------------------------------- wrappers


@pytest.mark.parametrize(
    "line",
    [
        "watchmedo auto-restart --directory=./ --pattern=*.py --recursive -- "
        "celery -A proj worker -c 8",
        "newrelic-admin run-program celery -A proj worker -c 8",
        "dumb-init celery -A proj worker -c 8",
        "dumb-init -- celery -A proj worker -c 8",
        "tini -- celery -A proj worker -c 8",
        "gosu app celery -A proj worker -c 8",
        "exec celery -A proj worker -c 8",
        'su -c "celery -A proj worker -c 8" app',
        "sh -c 'celery -A proj worker -c 8'",
        "python -m celery -A proj worker -c 8",
        "ddtrace-run celery -A proj worker -c 8",
        "opentelemetry-instrument --traces_exporter console celery -A proj worker -c 8",
    ],
)
def test_wrapped_commands_are_read_with_positions(tmp_path: Path, line: str) -> None:
    found = audit(tmp_path, {"run.sh": line + "\n"})
    assert codes(found) == [("CT201", 1)]
    column = found[0].column
    assert line[column - 1 : column + 3] == "-c 8"


# --------------------------------------------------------------------------- KEDA


WORKER = """
apiVersion: apps/v1
kind: Deployment
metadata:
  name: worker
spec:
  template:
    spec:
      containers:
        - name: celery
          command: ["celery", "-A", "proj", "worker", "-c", "1"{extra}]
"""
SCALED = """
apiVersion: keda.sh/v1alpha1
kind: ScaledObject
metadata:
  name: worker-scaler
spec:
  scaleTargetRef:
    name: {target}
  triggers:
    - type: {trigger}
      metadata:
        {metadata}
"""
CONFIG = """
broker_url = "redis://redis:6379/0"
task_acks_late = True
task_reject_on_worker_lost = True
worker_prefetch_multiplier = 1
task_time_limit = 20
broker_connection_retry_on_startup = True
"""


def keda(tmp_path: Path, extra: str = "", trigger: str = "redis", **more: Any) -> list[Finding]:
    opts: dict[str, Any] = more.pop("opts", {})
    metadata = more.pop("metadata", "listName: celery")
    files = {
        "k8s/worker.yaml": WORKER.format(extra=extra),
        "k8s/keda.yaml": SCALED.format(
            target=more.pop("target", "worker"), trigger=trigger, metadata=metadata
        ),
        **more,
    }
    return only(audit(tmp_path, files, **opts), "CT320")


def test_keda_with_prefetching_workers(tmp_path: Path) -> None:
    found = keda(tmp_path, ', "--prefetch-multiplier", "4"')
    assert [(f.path.endswith("keda.yaml"), f.line) for f in found] == [(True, 9)]
    message = found[0].message
    assert "k8s/worker.yaml:10" in message
    # No config in the run: early acks (Celery's default); KEDA's default listLength is 5.
    assert "4 x 1 children = 4 unacked tasks, 4 of them waiting (early acks)" in message
    assert "against a target of 5 per replica" in message
    assert "on Celery 5.6+ pass --disable-prefetch" in message and "before 5.6" in message


def test_keda_fix_follows_the_celery_version(tmp_path: Path) -> None:
    extra = ', "--prefetch-multiplier", "4"'
    new = keda(tmp_path / "a", extra, opts={"celery_version": "5.6"})
    old = keda(tmp_path / "b", extra, opts={"celery_version": "5.5.3"})
    assert new[0].message.endswith(
        "pass --disable-prefetch (worker_disable_prefetch, Celery 5.6+, Redis only)"
    )
    assert old[0].message.endswith("set worker_prefetch_multiplier = 1 with task_acks_late = True")


def test_keda_default_prefetch_needs_the_config(tmp_path: Path) -> None:
    assert keda(tmp_path / "a") == []  # no config: the multiplier is unknown
    cfg = CONFIG.replace("worker_prefetch_multiplier = 1\n", "")
    found = keda(tmp_path / "b", **{"proj/celeryconfig.py": cfg})
    assert len(found) == 1 and "Celery's default" in found[0].message


@pytest.mark.parametrize(
    ("extra", "trigger", "more"),
    [
        (', "--disable-prefetch", "--prefetch-multiplier", "4"', "redis", {}),
        (', "--prefetch-multiplier", "1"', "redis", {}),
        (', "--prefetch-multiplier", "4"', "redis", {"target": "other"}),
        (', "--prefetch-multiplier", "4"', "redis-streams", {}),
        (', "--prefetch-multiplier", "4"', "rabbitmq", {"metadata": "queueName: celery"}),
        (
            ', "--prefetch-multiplier", "4"',
            "rabbitmq",
            {"metadata": "{protocol: http, queueName: celery}"},
        ),
        ("", "redis", {"proj/celeryconfig.py": CONFIG}),
    ],
)
def test_keda_silent_cases(tmp_path: Path, extra: str, trigger: str, more: dict[str, str]) -> None:
    assert keda(tmp_path, extra, trigger, **more) == []


def test_keda_rabbitmq_counting_ready_messages(tmp_path: Path) -> None:
    found = keda(
        tmp_path,
        ', "--prefetch-multiplier", "4"',
        "rabbitmq",
        metadata="{host: 'amqp://guest:guest@rabbit:5672/', queueName: celery, value: '5'}",
    )
    assert len(found) == 1 and "queue.declare-ok" in found[0].message
    assert "--disable-prefetch" not in found[0].message  # Redis only


def test_keda_target_large_enough_for_the_reserved_tasks(tmp_path: Path) -> None:
    """Corpus: GeorgeFalkovich/gke-keda-celery-flask-react-cicd:k8s/scl-obj.yaml:15
    (listLength 100): 4 x 4 children = 16 waiting tasks per replica move KEDA's answer by less
    than half a replica; at listLength 20 they move it by most of one."""
    extra = ', "--prefetch-multiplier", "4", "-c", "4"'
    assert keda(tmp_path, extra, metadata="{listName: celery, listLength: '100'}") == []
    found = keda(tmp_path, extra, metadata="{listName: celery, listLength: '20'}")
    assert len(found) == 1
    assert "16 of them waiting (early acks), against a target of 20" in found[0].message


# --------------------------------------------------------------------------- grace period


GRACE_POD = """
apiVersion: apps/v1
kind: Deployment
metadata:
  name: worker
spec:
  template:
    spec:
      {grace}
      containers:
        - name: celery
          command: ["celery", "-A", "proj", "worker", "-c", "1"{extra}]
          {env}
"""


def grace(
    tmp_path: Path, grace: str = "", extra: str = "", env: str = "", **more: str
) -> list[Finding]:
    files = {"k8s/worker.yaml": GRACE_POD.format(grace=grace, extra=extra, env=env), **more}
    return only(audit(tmp_path, files), "CT321")


def test_grace_period_below_the_time_limit(tmp_path: Path) -> None:
    found = grace(tmp_path / "a", extra=', "--time-limit", "600"')
    assert [f.line for f in found] == [11]
    assert "default terminationGracePeriodSeconds of 30s" in found[0].message
    found = grace(tmp_path / "b", "terminationGracePeriodSeconds: 120", ', "--time-limit=600"')
    assert "terminationGracePeriodSeconds 120s (k8s/worker.yaml:8)" in found[0].message.replace(
        str(tmp_path / "b") + "/", ""
    )


def test_grace_period_with_the_limit_in_the_config(tmp_path: Path) -> None:
    cfg = CONFIG.replace("task_time_limit = 20", "task_time_limit = 3600")
    found = grace(tmp_path, **{"proj/celeryconfig.py": cfg})
    assert [(f.path.endswith("celeryconfig.py"), f.line) for f in found] == [(True, 5)]
    assert "Deployment at " in found[0].message and "worker.yaml:4" in found[0].message


def test_grace_period_and_soft_shutdown(tmp_path: Path) -> None:
    env = "env: [{name: REMAP_SIGTERM, value: SIGQUIT}]"
    cfg = CONFIG + "worker_soft_shutdown_timeout = 90\n"
    found = grace(tmp_path / "a", env=env, **{"proj/celeryconfig.py": cfg})
    assert len(found) == 1 and "worker_soft_shutdown_timeout = 90s" in found[0].message
    ok = grace(tmp_path / "b", "terminationGracePeriodSeconds: 120", env=env,
               **{"proj/celeryconfig.py": cfg})  # fmt: skip
    assert ok == []


@pytest.mark.parametrize(
    ("grace_line", "extra"),
    [
        ("terminationGracePeriodSeconds: 660", ', "--time-limit", "600"'),
        ("", ', "--time-limit", "30"'),
        ("", ""),
        ("terminationGracePeriodSeconds: '{{ .Values.grace }}'", ', "--time-limit", "600"'),
    ],
)
def test_grace_period_silent_cases(tmp_path: Path, grace_line: str, extra: str) -> None:
    assert grace(tmp_path, grace_line, extra) == []


# --------------------------------------------------------------------------- concurrency auto


def test_concurrency_auto_is_recommended_on_57_in_a_container(tmp_path: Path) -> None:
    pod = POD.format(extra=', "-c", "4"', env="")
    on57 = only(audit(tmp_path / "a", {"w.yaml": pod}, celery_version="5.7"), "CT201")
    on56 = only(audit(tmp_path / "b", {"w.yaml": pod}, celery_version="5.6"), "CT201")
    bare = only(audit(tmp_path / "c", {"run.sh": "celery -A p worker -c 4\n"},
                      celery_version="5.7"), "CT201")  # fmt: skip
    assert "--concurrency auto" in on57[0].message
    assert "--concurrency auto" not in on56[0].message
    assert "--concurrency auto" not in bare[0].message  # no container: no quota to read


def test_celery_version_option_is_validated() -> None:
    assert AuditOptions(celery_version="5.6.2").target_version == (5, 6)
    with pytest.raises(OptionsError):
        validate(AuditOptions(celery_version="latest"))


def test_celery_version_from_pyproject(tmp_path: Path) -> None:
    from tuner.audit.options import merge_pyproject

    pyproject = tmp_path / "pyproject.toml"
    pyproject.write_text('[tool.celery-tune]\ncelery-version = "5.6"\n')
    merged = merge_pyproject(AuditOptions(), pyproject, set())
    assert merged.target_version == (5, 6)
    pyproject.write_text('[tool.celery-tune]\ncelery-version = "six"\n')
    with pytest.raises(OptionsError, match=r"pyproject\.toml:2: celery-version"):
        merge_pyproject(AuditOptions(), pyproject, set())
