"""Worker command lines in Procfiles, Dockerfiles, Compose, Kubernetes, systemd units, shell
scripts and free text: found, parsed, and placed exactly."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tuner.audit.model import CommandLine, FileKind, SourceFile, Span, Value
from tuner.audit.readers.commands import detect_kind, extract, read_commands
from tuner.audit.sources import parse_text

from .helpers import assert_source_ok, option, under, values

ROOT = Path(__file__).resolve().parents[3]
KINDS: list[FileKind] = [
    "procfile",
    "dockerfile",
    "compose",
    "kubernetes",
    "systemd",
    "shell",
    "text",
]


def read(text: str, kind: FileKind, path: str = "f") -> SourceFile:
    source = extract(path, text, kind)
    assert_source_ok(text, source)
    return source


def commands(text: str, kind: FileKind) -> list[CommandLine]:
    """The worker commands of a file (other subcommands are read for CT107 only)."""
    source = read(text, kind)
    assert source.error is None, source.error
    return [c for c in source.commands if c.subcommand in ("worker", "multi")]


def dedent(text: str) -> str:
    return textwrap.dedent(text).lstrip("\n")


# --------------------------------------------------------------------------- detection


@pytest.mark.parametrize(
    ("path", "text", "kind"),
    [
        ("Procfile", "", "procfile"),
        ("deploy/Procfile.dev", "", "procfile"),
        ("Dockerfile", "", "dockerfile"),
        ("docker/worker.Dockerfile", "", "dockerfile"),
        ("Dockerfile.prod", "", "dockerfile"),
        ("Containerfile", "", "dockerfile"),
        ("docker-compose.yml", "", "compose"),
        ("docker-compose.prod.yaml", "", "compose"),
        ("compose.yaml", "", "compose"),
        ("deploy/celery.service", "", "systemd"),
        ("bin/start.sh", "", "shell"),
        ("run.bash", "", "shell"),
        ("k8s/worker.yaml", "apiVersion: apps/v1\nkind: Deployment\n", "kubernetes"),
        ("stack.yml", "version: '3'\nservices:\n  w: {}\n", "compose"),
        ("ansible.yml", "- hosts: all\n", "text"),
        ("bin/start", "#!/usr/bin/env bash\ncelery worker\n", "shell"),
        ("bin/manage", "#!/usr/bin/env python3\n", "python"),
        ("celeryd", "[Unit]\n[Service]\nExecStart=/bin/celery worker\n", "systemd"),
        ("README.md", "# Title\n", "text"),
        ("settings.py", "", "python"),
    ],
)
def test_detect_kind(path: str, text: str, kind: FileKind) -> None:
    assert detect_kind(path, text) == kind


# --------------------------------------------------------------------------- Procfile


def test_procfile_with_web_and_worker() -> None:
    text = dedent(
        """
        web: gunicorn shop.wsgi --workers 3
        # a comment: celery worker
        worker: celery -A shop worker --concurrency=${WEB_CONCURRENCY:-4} -B
        release: python manage.py migrate
        """
    )
    source = read(text, "procfile", "Procfile")
    assert source.lines == text.splitlines()
    (cmd,) = source.commands
    assert cmd.context == "Procfile process 'worker'"
    assert cmd.span == Span(3, 9, 3, 69)
    conc = option(cmd, "--concurrency")
    assert conc.value == Value("env", 4, "${WEB_CONCURRENCY:-4}", "WEB_CONCURRENCY")
    assert conc.span == Span(3, 31, 3, 66)
    assert cmd.get("beat") is not None


def test_procfile_through_the_source_dispatcher() -> None:
    source = parse_text("Procfile", "worker: celery worker -A shop -c 2\n")
    assert source.kind == "procfile"
    (cmd,) = source.commands
    assert [o.flag for o in cmd.misplaced] == ["-A"] and cmd.app == "shop"


# --------------------------------------------------------------------------- Dockerfile


DOCKERFILE = dedent(
    """
    # syntax=docker/dockerfile:1
    ARG PY=3.11
    FROM python:${PY}-slim AS base
    ARG LEVEL=info
    ENV CONC=4 \\
        OPTS="--max-tasks-per-child=100 --prefetch-multiplier=1" \\
        LOGLEVEL=$LEVEL
    CMD celery -A proj worker -c $CONC $OPTS --loglevel=$LOGLEVEL --time-limit=$LEVEL

    FROM base AS worker
    ENTRYPOINT ["tini", "--"]
    CMD ["celery", "-A", "proj", \\
         "worker", "--concurrency=$CONC", "-P", "threads"]

    FROM base AS beat
    CMD ["celery", "-A", "proj", "beat"]
    """
)


def test_dockerfile_shell_form_with_env_and_continuations() -> None:
    base, _ = commands(DOCKERFILE, "dockerfile")
    assert base.context == "Dockerfile stage 'base' CMD"
    assert option(base, "-c").value == Value("env", 4, "4", "CONC")
    assert under(DOCKERFILE, option(base, "-c").span) == "-c $CONC"
    mtpc = option(base, "--max-tasks-per-child")
    assert mtpc.value == Value("env", 100, "100", "OPTS")
    assert mtpc.span == Span(6, 11, 6, 36)  # inside OPTS=, on its continuation line
    assert option(base, "--loglevel").value == Value("env", "info", "$LOGLEVEL", "LOGLEVEL")
    # An ARG exists only while building: the running container's shell does not have it.
    assert option(base, "--time-limit").value.kind == "unknown"


def test_dockerfile_exec_form_entrypoint_plus_cmd() -> None:
    _, worker = commands(DOCKERFILE, "dockerfile")
    assert worker.context == "Dockerfile stage 'worker' ENTRYPOINT + CMD"
    assert worker.app == "proj"
    # Exec form runs no shell: "$CONC" reaches Celery as it is.
    assert values(worker) == {"app": "proj", "concurrency": "$CONC", "pool": "threads"}
    # A list item's span is the string inside its quotes.
    assert option(worker, "--concurrency").span == Span(13, 17, 13, 36)
    assert under(DOCKERFILE, option(worker, "--concurrency").span) == "--concurrency=$CONC"
    assert under(DOCKERFILE, option(worker, "-P").span) == '-P", "threads'


def test_dockerfile_exec_entrypoint_with_shell_cmd_and_json_escapes() -> None:
    text = dedent(
        """
        FROM python
        ENTRYPOINT ["/bin/sh", "-c", "exec celery -A \\"proj\\" worker -c 3 \\u002dE"]
        """
    )
    (cmd,) = commands(text, "dockerfile")
    assert cmd.app == "proj" and values(cmd) == {
        "app": "proj",
        "concurrency": 3,
        "task_events": True,
    }
    assert option(cmd, "-c").span == Span(2, 62, 2, 66)
    assert under(text, option(cmd, "-A").span) == '-A \\"proj\\"'
    assert under(text, cmd.span) == text.splitlines()[1][13:-2]  # inside [" and "]
    text = 'FROM python\nENTRYPOINT ["tini", "--"]\nCMD celery worker -c 2\n'
    (cmd,) = commands(text, "dockerfile")
    assert values(cmd) == {"concurrency": 2} and option(cmd, "-c").span == Span(3, 19, 3, 23)


def test_dockerfile_bad_json_is_an_input_error_with_position() -> None:
    text = 'FROM python\nCMD ["celery", "worker",]\n'
    source = read(text, "dockerfile")
    assert source.error is not None
    assert (source.error.line, source.error.column) == (2, 25)
    assert "JSON" in source.error.message


def test_dockerfile_entrypoint_resets_an_inherited_cmd() -> None:
    text = dedent(
        """
        FROM python AS a
        CMD ["celery", "worker", "-c", "2"]
        FROM a AS b
        ENTRYPOINT ["/entrypoint.sh"]
        """
    )
    (cmd,) = commands(text, "dockerfile")
    assert cmd.context == "Dockerfile stage 'a' CMD"


def test_dockerfile_escape_directive() -> None:
    text = "# escape=`\nFROM python\nCMD celery worker `\n  -c 5\n"
    (cmd,) = commands(text, "dockerfile")
    assert option(cmd, "-c").span == Span(4, 3, 4, 7)


# --------------------------------------------------------------------------- Compose


COMPOSE = dedent(
    """
    x-common: &common
      environment:
        CONC: "6"
    services:
      redis:
        image: redis:7
      worker:
        <<: *common
        command: celery -A shop worker --concurrency=$CONC --autoscale=12,2
        deploy:
          resources:
            limits:
              cpus: "2"
      thumbnails:
        command: ["celery", "-A", "shop", "worker", "-P", "gevent", "-c", "100"]
        cpus: 0.5
      sh:
        environment:
          - OPTS=--time-limit=30 -E
          - FROM_HOST
        entrypoint: ["sh", "-c"]
        command:
          - |
            celery -A shop worker \\
              $$OPTS -c $${FROM_HOST:-3} -Q "a b"
    """
)


def test_compose_string_and_list_commands() -> None:
    worker, thumbs, _ = commands(COMPOSE, "compose")
    assert worker.context == "compose service 'worker'"
    assert worker.cpu_limit == Value("known", 2.0, "2")
    assert values(worker) == {"app": "shop", "concurrency": 6, "autoscale": "12,2"}
    assert option(worker, "--concurrency").span == Span(9, 36, 9, 55)
    assert thumbs.cpu_limit == Value("known", 0.5, "0.5")
    assert values(thumbs)["concurrency"] == 100
    assert option(thumbs, "-c").span == Span(15, 66, 15, 75)
    assert under(COMPOSE, option(thumbs, "-c").span) == '-c", "100'
    assert under(COMPOSE, thumbs.span) == COMPOSE.splitlines()[14][15:-2]


def test_compose_environment_list_and_shell_command() -> None:
    *_, sh = commands(COMPOSE, "compose")
    assert values(sh) == {
        "app": "shop",
        "time_limit": 30.0,
        "task_events": True,
        "concurrency": 3,
        "queues": ["a b"],
    }
    assert option(sh, "--time-limit").span == Span(19, 14, 19, 29)  # where OPTS is defined
    assert under(COMPOSE, option(sh, "-c").span) == "-c $${FROM_HOST:-3}"
    assert option(sh, "-c").value.kind == "env"  # FROM_HOST has no value in the file


def test_compose_yaml_error_has_a_position() -> None:
    source = read("services:\n  w:\n    command: [celery, worker\n  x: 1\n", "compose")
    assert source.error is not None and source.error.message.startswith("YAML error:")
    assert source.error.line == 4
    assert source.commands == []


# --------------------------------------------------------------------------- Kubernetes


K8S = dedent(
    """
    apiVersion: apps/v1
    kind: Deployment
    metadata:
      name: celery
    spec:
      template:
        spec:
          containers:
            - name: worker
              image: shop:latest
              command: ["celery"]
              args:
                - -A
                - shop
                - worker
                - --concurrency=$(CONC)
                - "--max-memory-per-child=$(MEM)"
              env:
                - name: CONC
                  value: "3"
                - name: MEM
                  valueFrom: {configMapKeyRef: {name: c, key: mem}}
              resources:
                limits:
                  cpu: 500m
            - name: sidecar
              image: nginx
    ---
    apiVersion: v1
    kind: List
    items:
      - apiVersion: batch/v1
        kind: CronJob
        metadata: {name: nightly}
        spec:
          jobTemplate:
            spec:
              template:
                spec:
                  containers:
                    - name: w
                      command: ["/bin/sh", "-c"]
                      args:
                        - >-
                          celery -A shop worker
                          -c 1 --time-limit=60
                      resources: {limits: {cpu: "2"}}
    """
)


def test_kubernetes_deployment_args_env_and_cpu_limit() -> None:
    deploy, _ = commands(K8S, "kubernetes")
    assert deploy.context == "Kubernetes Deployment 'celery' container 'worker'"
    assert deploy.cpu_limit == Value("known", 0.5, "500m")
    conc = option(deploy, "--concurrency")
    assert conc.value == Value("known", 3, "$(CONC)")
    assert conc.span == Span(16, 15, 16, 36)
    assert under(K8S, conc.span) == "--concurrency=$(CONC)"
    assert option(deploy, "--max-memory-per-child").value.kind == "unknown"
    assert option(deploy, "--max-memory-per-child").span == Span(17, 16, 17, 45)


def test_kubernetes_list_cronjob_with_folded_shell_args() -> None:
    _, cron = commands(K8S, "kubernetes")
    assert cron.context == "Kubernetes CronJob 'nightly' container 'w'"
    assert cron.cpu_limit == Value("known", 2.0, "2")
    assert values(cron) == {"app": "shop", "concurrency": 1, "time_limit": 60.0}
    assert option(cron, "-c").span == Span(46, 23, 46, 27)
    assert option(cron, "--time-limit").span == Span(46, 28, 46, 43)
    assert under(K8S, option(cron, "-A").span) == "-A shop"


def test_kubernetes_yaml_error() -> None:
    source = read("apiVersion: v1\nkind: Pod\nspec: {containers: [\n", "kubernetes")
    assert source.error is not None and source.error.line >= 3


# --------------------------------------------------------------------------- systemd


UNIT = dedent(
    """
    [Unit]
    Description=Celery Service
    After=network.target

    [Service]
    Type=forking
    User=celery
    EnvironmentFile=-/etc/conf.d/celery
    Environment="CELERY_APP=shop" "CELERYD_NODES=w1 w2"
    Environment="CELERYD_OPTS=--time-limit=300 --concurrency=8"
    Environment=CELERYD_LOG_LEVEL=INFO
    WorkingDirectory=/opt/shop
    ExecStart=/bin/sh -c '${CELERY_BIN} -A $CELERY_APP multi start $CELERYD_NODES \\
        --pidfile=${CELERYD_PID_FILE} --logfile=${CELERYD_LOG_FILE} \\
        --loglevel="${CELERYD_LOG_LEVEL}" $CELERYD_OPTS'
    ExecStop=/bin/sh -c '${CELERY_BIN} multi stopwait $CELERYD_NODES'
    ExecReload=/bin/sh -c '${CELERY_BIN} -A $CELERY_APP multi restart $CELERYD_NODES'

    [Install]
    WantedBy=multi-user.target
    """
)


def test_systemd_unit_as_in_the_celery_docs() -> None:
    (cmd,) = commands(UNIT, "systemd")
    assert (cmd.subcommand, cmd.app, cmd.context) == ("multi", "shop", "systemd ExecStart")
    assert cmd.span == Span(13, 11, 15, 53)
    assert under(UNIT, option(cmd, "-A").span) == "-A $CELERY_APP"
    assert under(UNIT, option(cmd, "--loglevel").span) == '--loglevel="${CELERYD_LOG_LEVEL}"'
    conc = option(cmd, "--concurrency")
    assert conc.value == Value("known", 8, "8")
    assert conc.span == Span(10, 44, 10, 59)  # on the Environment= line that sets it
    assert option(cmd, "--time-limit").span == Span(10, 27, 10, 43)
    assert option(cmd, "--loglevel").value.value == "INFO"
    # From EnvironmentFile=: not read, so unknown.
    assert option(cmd, "--pidfile").value == Value(
        "unknown", None, "${CELERYD_PID_FILE}", "CELERYD_PID_FILE"
    )


def test_systemd_prefixes_and_plain_execstart() -> None:
    text = dedent(
        """
        [Service]
        Environment=CONC=2
        ExecStart=-@/opt/venv/bin/celery celery -A proj worker -c ${CONC} -O fair
        """
    )
    (cmd,) = commands(text, "systemd")
    assert values(cmd) == {"app": "proj", "concurrency": 2, "optimization": "fair"}
    assert under(text, option(cmd, "-c").span) == "-c ${CONC}"


# --------------------------------------------------------------------------- shell and text


def test_shell_script_assignments_and_lines() -> None:
    text = dedent(
        """
        #!/bin/sh
        set -e
        CONC=${CONC:-4}
        export OPTS="--prefetch-multiplier=1 --max-tasks-per-child=50"
        python manage.py migrate
        exec celery -A proj worker -c "$CONC" $OPTS \\
            --loglevel=info "$@"
        """
    )
    (cmd,) = commands(text, "shell")
    assert cmd.context == "line 6"
    assert option(cmd, "-c").value == Value("env", 4, "4", "CONC")
    assert option(cmd, "--max-tasks-per-child").span == Span(4, 38, 4, 62)
    assert option(cmd, "--loglevel").span == Span(7, 5, 7, 20)


def test_text_file_supervisord_and_markdown() -> None:
    text = dedent(
        """
        [program:worker]
        command=/opt/venv/bin/celery -A proj worker -c 2
        ; Start the celery worker with care.
        Or run `celery -A proj worker --concurrency=3` by hand.
        """
    )
    first, second = commands(text, "text")
    assert (first.context, values(first)) == ("line 2", {"app": "proj", "concurrency": 2})
    assert under(text, option(second, "--concurrency").span) == "--concurrency=3"


# --------------------------------------------------------------------------- robustness


def test_read_commands_never_raises_and_skips_odd_structure() -> None:
    odd: list[tuple[str, FileKind]] = [
        ("services: [1, 2]\n", "compose"),
        ("services:\n  w:\n    command: {a: 1}\n    environment: 5\n", "compose"),
        (
            "kind: Deployment\nspec: {template: {spec: {containers: [{command: celery}]}}}\n",
            "kubernetes",
        ),
        ("- 1\n- 2\n", "kubernetes"),
        ("a: &a [*a]\n", "compose"),
        ("FROM\nCMD\nENV\nARG =\n", "dockerfile"),
        ("ExecStart=\nEnvironment=\n", "systemd"),
        (":\n: :\n", "procfile"),
        ("\x07", "compose"),
    ]
    for text, kind in odd:
        source = read_commands("f", text, kind)
        assert source.commands == []
        assert_source_ok(text, source)


def test_readers_import_neither_celery_nor_kombu() -> None:
    script = (
        "import sys\n"
        "from tuner.audit.readers.commands import extract\n"
        "for kind in ('procfile','dockerfile','compose','kubernetes','systemd','shell','text'):\n"
        "    extract('f', 'services: {w: {command: celery worker}}\\n', kind)\n"
        "print(sorted({m.split('.')[0] for m in sys.modules} & {'celery', 'kombu'}))\n"
    )
    proc = subprocess.run(
        [sys.executable, "-c", script],
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        timeout=60,
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "[]"


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=300), st.sampled_from(KINDS))
def test_random_text_never_fails(text: str, kind: FileKind) -> None:
    read(text, kind)


COMMAND_WORDS = [
    "celery", "-A", "proj", "worker", "multi", "start", "w1", "-c", "4", "--concurrency=8",
    "-P", "threads", "-E", "-B", "--time-limit", "30", "-Q", "a,b", "$CONC", "${CONC:-2}",
    "$(CONC)", "$$CONC", "'", '"', "\\", "sh", "-c", "&&", ";", "#", "\n", "\\\n", "--", "=",
    ":", "[", "]", "{", "}", "`", "é", "\t",
]  # fmt: skip


def _templates(cmd: str) -> list[tuple[str, FileKind]]:
    quoted = json.dumps(cmd)
    items = json.dumps(cmd.split(" "))
    return [
        (f"web: gunicorn\nworker: {cmd}\n", "procfile"),
        (f"FROM python\nENV CONC=3\nCMD {cmd}\n", "dockerfile"),
        (f'FROM python\nENTRYPOINT ["tini", "--"]\nCMD {items}\n', "dockerfile"),
        (f"services:\n  w:\n    environment: {{CONC: '2'}}\n    command: {quoted}\n", "compose"),
        (f"services:\n  w:\n    entrypoint: [tini, --]\n    command: {items}\n", "compose"),
        (
            "apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec:\n  containers:\n"
            f"  - name: c\n    env: [{{name: CONC, value: '5'}}]\n    command: {items}\n"
            f"    args: [{quoted}]\n    resources: {{limits: {{cpu: 250m}}}}\n",
            "kubernetes",
        ),
        (f'[Service]\nEnvironment="CONC=2"\nExecStart={cmd}\n', "systemd"),
        (f"CONC=2\n{cmd}\n", "shell"),
        (f"Run `{cmd}`\n$ {cmd}\n", "text"),
    ]


@settings(max_examples=200, deadline=None)
@given(st.lists(st.sampled_from(COMMAND_WORDS), max_size=25))
def test_command_like_content_in_every_kind_never_fails(chosen: list[str]) -> None:
    for text, kind in _templates(" ".join(chosen)):
        read(text, kind)


WORKER_OPTIONS = [
    ("-c", "3", "concurrency", 3),
    ("--concurrency=5", None, "concurrency", 5),
    ("--prefetch-multiplier", "2", "prefetch_multiplier", 2),
    ("--max-tasks-per-child=100", None, "max_tasks_per_child", 100),
    ("--time-limit", "30", "time_limit", 30.0),
    ("-P", "solo", "pool", "solo"),
    ("-E", None, "task_events", True),
    ("--without-mingle", None, "without_mingle", True),
    ("-O", "fair", "optimization", "fair"),
]


@settings(max_examples=200, deadline=None)
@given(st.lists(st.sampled_from(WORKER_OPTIONS), min_size=1, max_size=6))
def test_generated_commands_parse_back_in_every_kind(
    chosen: list[tuple[str, str | None, str, object]],
) -> None:
    words = ["celery", "-A", "proj", "worker"]
    written = []
    for flag, value, _, _ in chosen:
        words += [flag] if value is None else [flag, value]
        written.append(flag if value is None else f"{flag} {value}")
    cmd = " ".join(words)
    expected = [(flag.split("=")[0], dest, parsed) for flag, _, dest, parsed in chosen]
    for text, kind in _templates(cmd):
        found = commands(text, kind)
        assert found, (kind, text)
        for c in found:
            got = [(o.flag, o.dest, o.value.value) for o in c.options if o.dest != "app"]
            assert got == expected, (kind, text)
            if kind not in ("dockerfile", "compose", "kubernetes") or '"' not in text:
                continue
            shown = [under(text, o.span) for o in c.options if o.dest != "app"]
            assert all(s.replace('"', "").replace(", ", " ") in written for s in shown), shown
