"""The autoscaler for the recommended fleet: a KEDA ScaledObject and an equivalent HPA.

- Replicas: ``min`` covers ``--min-rate`` and ``max`` covers ``--max-rate`` (default: the target
  rate with its headroom), each from the rate one replica holds under the SLO (the recommendation's
  headroom rate per node).
- Target queue length per replica (Little's law, L = X W): the replica's throughput at the
  recommended concurrency times the queue-wait budget left under the SLO (the SLO minus the p99 of
  the run time at that concurrency and the dispatch delay).  Fewer waiting per replica than that
  and a new task starts within its budget.
- The queue must be visible: the worker config written next to the manifests reserves nothing
  beyond the running tasks (``worker_disable_prefetch`` on Redis with Celery 5.6+, else
  ``worker_prefetch_multiplier = 1`` with late acks; the audit's CT320 flags the others), and the
  Deployment's grace period covers the hard time limit (CT321) and the soft shutdown plus twice
  the longest measured task (KEDA's scale-in stops pods; keda #6719).

The manifests are plain dicts (emitted with PyYAML); the field names come from KEDA's CRD
(``config/crd/bases/keda.sh_scaledobjects.yaml``) and Kubernetes' ``autoscaling/v2`` API.
"""

from __future__ import annotations

import math
import urllib.parse
from dataclasses import dataclass
from pathlib import Path

from tuner.plan.characterise import Model
from tuner.plan.predict import Prediction, Target
from tuner.plan.sim import Fleet

SOFT_SHUTDOWN = 30.0  # worker_soft_shutdown_timeout written into the config, seconds
COOLDOWN = 300  # seconds before scaling in (KEDA's default)


@dataclass(frozen=True)
class Autoscaler:
    name: str
    queue: str
    kind: str  # "redis" | "rabbitmq"
    address: str  # host:port (redis) or amqp URL without password (rabbitmq)
    min_replicas: int
    max_replicas: int
    target_queue_length: int
    per_replica_throughput: float
    wait_budget: float
    grace_seconds: int
    hidden_per_replica: int | None  # tasks a replica holds off the queue (None: unlimited)
    concurrency: int
    cpus: float  # of one node: the container's CPU request and limit
    settings: dict[str, object]
    worker_app: str
    workload_kind: str = "cpu"

    def as_dict(self) -> dict[str, object]:
        return {
            "kind": self.kind,
            "queue": self.queue,
            "min_replicas": self.min_replicas,
            "max_replicas": self.max_replicas,
            "target_queue_length": self.target_queue_length,
            "per_replica_throughput": self.per_replica_throughput,
            "wait_budget": self.wait_budget,
            "termination_grace_seconds": self.grace_seconds,
            "hidden_per_replica": self.hidden_per_replica,
        }


def design(
    model: Model,
    best: Prediction,
    target: Target,
    settings: dict[str, object],
    *,
    broker_url: str | None,
    queue: str = "celery",
    worker_app: str = "proj",
    min_rate: float = 0.0,
    max_rate: float | None = None,
    name: str = "celery-worker",
) -> Autoscaler:
    from tuner.plan.predict import service_model

    per_node_ok = (best.headroom_rate or best.capacity) / best.nodes
    per_node_ok = max(per_node_ok, 1e-9)
    top = max_rate if max_rate is not None else target.rate * (1 + target.headroom)
    min_replicas = max(1, math.ceil(min_rate / per_node_ok)) if min_rate > 0 else 1
    max_replicas = max(best.nodes, min_replicas, math.ceil(top / per_node_ok))
    svc = service_model(model, instance_cpus=target.instance_cpus, concurrency=best.concurrency)
    per_replica = svc.capacity(Fleet(1, best.concurrency))
    run_p99 = _p99(model.run_times) * svc.stretch(best.concurrency)
    budget = max(0.0, target.p99_slo - run_p99 - model.dispatch)
    length = max(1, math.floor(per_replica * budget))
    longest = max(model.run_times) * svc.stretch(best.concurrency)
    limit = time_limit(_p99(model.run_times))
    # Above the hard time limit (the audit's CT321) and the soft shutdown plus the longest task.
    grace = math.ceil(max(limit + 15.0, SOFT_SHUTDOWN + 2 * longest + 10))
    kind, address = _broker(broker_url)
    return Autoscaler(
        hidden_per_replica=hidden(settings, best.concurrency),
        name=name,
        queue=queue,
        kind=kind,
        address=address,
        min_replicas=min_replicas,
        max_replicas=max_replicas,
        target_queue_length=length,
        per_replica_throughput=per_replica,
        wait_budget=budget,
        grace_seconds=grace,
        concurrency=best.concurrency,
        cpus=target.instance_cpus or model.cpus,
        settings=settings,
        worker_app=worker_app,
        workload_kind=model.kind,
    )


def hidden(settings: dict[str, object], concurrency: int) -> int | None:
    """Messages a replica reserves beyond its running tasks: they leave the queue, so the
    autoscaler does not see them (None: unlimited prefetch)."""
    if settings.get("worker_disable_prefetch"):
        return 0
    raw = settings.get("worker_prefetch_multiplier", 4)
    multiplier = int(raw) if isinstance(raw, (int, float, str)) else 4
    if multiplier == 0:
        return None
    window: int = multiplier * concurrency
    return window - concurrency if settings.get("task_acks_late") else window


def time_limit(run_p99: float) -> int:
    """The hard task time limit written into the config: 20 x the measured run-time p99, at
    least 60 s (a guard against runaway tasks, not a tuning knob)."""
    return max(60, math.ceil(20 * run_p99))


def _p99(values: tuple[float, ...]) -> float:
    s = sorted(values)
    return s[max(0, math.ceil(0.99 * len(s)) - 1)]


def _broker(url: str | None) -> tuple[str, str]:
    if url is None:
        return "redis", "redis:6379"  # the embedded broker was measured: a placeholder address
    parts = urllib.parse.urlsplit(url)
    host = parts.hostname or "localhost"
    if parts.scheme.startswith("redis"):
        return "redis", f"{host}:{parts.port or 6379}"
    # RabbitMQ: the URL without credentials (give them through a TriggerAuthentication).
    # kombu writes the default vhost "/" as "//"; KEDA's host URL takes it as a bare "/".
    vhost = parts.path if parts.path not in ("", "/", "//") else "/"
    return "rabbitmq", f"amqp://{host}:{parts.port or 5672}{vhost}"


def scaled_object(a: Autoscaler) -> dict[str, object]:
    if a.kind == "redis":
        trigger: dict[str, object] = {
            "type": "redis",
            "metadata": {
                "address": a.address,
                "listName": a.queue,
                "listLength": str(a.target_queue_length),
                "activationListLength": "0",
            },
        }
    else:
        trigger = {
            "type": "rabbitmq",
            "metadata": {
                "host": a.address,
                "protocol": "amqp",
                "queueName": a.queue,
                "mode": "QueueLength",
                "value": str(a.target_queue_length),
            },
        }
    return {
        "apiVersion": "keda.sh/v1alpha1",
        "kind": "ScaledObject",
        "metadata": {"name": a.name},
        "spec": {
            "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": a.name},
            "minReplicaCount": a.min_replicas,
            "maxReplicaCount": a.max_replicas,
            "pollingInterval": 15,
            "cooldownPeriod": COOLDOWN,
            "triggers": [trigger],
        },
    }


def hpa(a: Autoscaler) -> dict[str, object]:
    """The same policy without KEDA: an external metric (celery-exporter's
    ``celery_queue_length{queue_name=...}`` served by a metrics adapter), averaged per pod."""
    return {
        "apiVersion": "autoscaling/v2",
        "kind": "HorizontalPodAutoscaler",
        "metadata": {"name": a.name},
        "spec": {
            "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": a.name},
            "minReplicas": a.min_replicas,
            "maxReplicas": a.max_replicas,
            "metrics": [
                {
                    "type": "External",
                    "external": {
                        "metric": {
                            "name": "celery_queue_length",
                            "selector": {"matchLabels": {"queue_name": a.queue}},
                        },
                        "target": {
                            "type": "AverageValue",
                            "averageValue": str(a.target_queue_length),
                        },
                    },
                }
            ],
            "behavior": {"scaleDown": {"stabilizationWindowSeconds": COOLDOWN}},
        },
    }


def worker_command(a: Autoscaler) -> list[str]:
    cmd = ["celery", "-A", a.worker_app, "worker", "-Q", a.queue, "-c", str(a.concurrency)]
    cmd += ["--prefetch-multiplier", str(a.settings.get("worker_prefetch_multiplier", 4))]
    if a.settings.get("worker_disable_prefetch"):
        cmd.append("--disable-prefetch")
    return cmd


def deployment(a: Autoscaler, image: str = "your-image:tag") -> dict[str, object]:
    """The worker Deployment the autoscaler scales: the command line and the grace period."""
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": a.name},
        "spec": {
            "replicas": a.min_replicas,
            "selector": {"matchLabels": {"app": a.name}},
            "template": {
                "metadata": {"labels": {"app": a.name}},
                "spec": {
                    "terminationGracePeriodSeconds": a.grace_seconds,
                    "containers": [
                        {
                            "name": "worker",
                            "image": image,
                            "command": worker_command(a),
                            "resources": {
                                "requests": {"cpu": f"{a.cpus:g}"},
                                "limits": {"cpu": f"{a.cpus:g}"},
                            },
                            "env": [
                                {"name": "CELERY_CONFIG_MODULE", "value": "celeryconfig"},
                            ],
                        }
                    ],
                },
            },
        },
    }


def celeryconfig(a: Autoscaler, run_p99: float) -> str:
    """The worker settings the autoscaler relies on, as a Celery config module."""
    settings = dict(a.settings)
    if settings.setdefault("task_acks_late", True):
        settings.setdefault("task_reject_on_worker_lost", True)
    settings["worker_soft_shutdown_timeout"] = SOFT_SHUTDOWN
    hard = time_limit(run_p99)
    settings.setdefault("task_time_limit", hard)
    settings.setdefault("task_soft_time_limit", max(1, hard - 10))
    settings.setdefault("broker_connection_retry_on_startup", True)
    lines = [
        '"""Worker settings planned by celery-tune plan (the autoscaler relies on them)."""',
        "",
    ]
    for key in sorted(settings):
        lines.append(f"{key} = {settings[key]!r}")
    return "\n".join(lines) + "\n"


def write(a: Autoscaler, folder: Path, run_p99: float) -> dict[str, str]:
    import yaml

    files = {
        "keda": folder / "keda-scaledobject.yaml",
        "hpa": folder / "hpa.yaml",
        "deployment": folder / "worker-deployment.yaml",
        "celeryconfig": folder / "celeryconfig.py",
    }
    head = (
        f"# celery-tune plan: {a.min_replicas}..{a.max_replicas} replicas of {a.concurrency} "
        f"children; target {a.target_queue_length} waiting per replica "
        f"({a.per_replica_throughput:.1f} tasks/s x {a.wait_budget:.3f} s of queue-wait budget)\n"
    )
    if a.hidden_per_replica != 0:
        held = "all it can" if a.hidden_per_replica is None else str(a.hidden_per_replica)
        head += (
            f"# WARNING: each replica reserves {held} message(s) off the queue (prefetch): the "
            "queue length under-counts the backlog; use --disable-prefetch (Redis, Celery 5.6+) "
            "or prefetch 1 with late acks\n"
        )
    files["keda"].write_text(head + yaml.safe_dump(scaled_object(a), sort_keys=False))
    files["hpa"].write_text(head + yaml.safe_dump(hpa(a), sort_keys=False))
    dep_head = head
    if a.workload_kind != "cpu" and a.concurrency > a.cpus:
        # The audit's CT201 (more children than CPUs) is for CPU-bound work; this workload was
        # measured, and its simulation chose more children than CPUs.
        dep_head += (
            f"# celery-tune: ignore-file[CT201] ({a.workload_kind} workload: {a.concurrency} "
            f"children on {a.cpus:g} CPUs is what plan measured and chose)\n"
        )
    files["deployment"].write_text(dep_head + yaml.safe_dump(deployment(a), sort_keys=False))
    files["celeryconfig"].write_text(celeryconfig(a, run_p99))
    return {k: str(v) for k, v in files.items()}
