"""The emitted autoscaler: validated against the CRD/API field lists, and it audits clean."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import jsonschema
import pytest
import yaml

from tests.plan.k8s_schemas import HPA, SCALED_OBJECT
from tests.plan.models import synthetic_model
from tuner.plan import autoscale
from tuner.plan.predict import Settings, Target, recommend

ROOT = Path(__file__).resolve().parents[2]


def design(broker: str | None, **kw: object) -> autoscale.Autoscaler:
    model = synthetic_model()
    target = Target(rate=60.0, p99_slo=0.5)
    rec = recommend(model, Settings(), target)
    assert rec.best is not None
    settings = {"worker_concurrency": rec.best.concurrency, "worker_prefetch_multiplier": 1,
                "task_acks_late": True}  # fmt: skip
    if broker and broker.startswith("redis"):
        settings["worker_disable_prefetch"] = True
    return autoscale.design(model, rec.best, target, settings, broker_url=broker, **kw)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "broker", ["redis://127.0.0.1:6379/0", "amqp://guest:secret@mq:5672//", None]
)
def test_manifests_match_the_schemas(broker: str | None, tmp_path: Path) -> None:
    a = design(broker, queue="q1")
    files = autoscale.write(a, tmp_path, 0.1)
    so = yaml.safe_load(Path(files["keda"]).read_text())
    hpa = yaml.safe_load(Path(files["hpa"]).read_text())
    jsonschema.validate(so, SCALED_OBJECT)
    jsonschema.validate(hpa, HPA)
    spec = so["spec"]
    assert spec["minReplicaCount"] <= spec["maxReplicaCount"]  # the CRD's x-kubernetes-validation
    trigger = spec["triggers"][0]
    if broker and broker.startswith("amqp"):
        assert trigger["type"] == "rabbitmq"
        assert "secret" not in json.dumps(so)  # credentials go through a TriggerAuthentication
        assert trigger["metadata"]["queueName"] == "q1"
    else:
        assert trigger["type"] == "redis"
        assert trigger["metadata"]["listName"] == "q1"
    # The HPA carries the same policy as the ScaledObject.
    assert hpa["spec"]["minReplicas"] == spec["minReplicaCount"]
    assert hpa["spec"]["maxReplicas"] == spec["maxReplicaCount"]
    target = hpa["spec"]["metrics"][0]["external"]["target"]["averageValue"]
    assert target == str(a.target_queue_length)


def test_schema_catches_mistakes() -> None:
    """The schemas are not vacuous: a misspelled field, a number in metadata, no triggers."""
    so = autoscale.scaled_object(design("redis://127.0.0.1:6379/0"))
    bad = json.loads(json.dumps(so))
    bad["spec"]["maxReplicas"] = 3  # the HPA's name, not KEDA's
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(bad, SCALED_OBJECT)
    bad = json.loads(json.dumps(so))
    bad["spec"]["triggers"][0]["metadata"]["listLength"] = 5  # must be a string
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(bad, SCALED_OBJECT)
    bad = json.loads(json.dumps(so))
    bad["spec"]["triggers"] = []
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(bad, SCALED_OBJECT)
    hpa = json.loads(json.dumps(autoscale.hpa(design(None))))
    hpa["spec"]["metrics"][0]["external"]["target"]["averageValue"] = "eight"
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(hpa, HPA)


def test_littles_law_target_and_replicas() -> None:
    model = synthetic_model()
    target = Target(rate=60.0, p99_slo=0.5)
    rec = recommend(model, Settings(), target)
    assert rec.best is not None and rec.best.headroom_rate is not None
    a = design(None, min_rate=10.0, max_rate=200.0)
    # Queue-wait budget = SLO - run-time p99 at that concurrency - dispatch; L = X x W.
    assert 0 < a.wait_budget < 0.5
    assert a.target_queue_length == max(1, int(a.per_replica_throughput * a.wait_budget))
    per_node = rec.best.headroom_rate / rec.best.nodes
    assert a.max_replicas >= 200.0 / per_node
    assert a.min_replicas >= 1 and a.min_replicas <= a.max_replicas
    wider = design(None, max_rate=400.0)
    assert wider.max_replicas > a.max_replicas


def audit_json(*paths: Path) -> dict[str, object]:
    proc = subprocess.run(
        [sys.executable, "-m", "tuner", "audit", "--format", "json", *map(str, paths)],
        capture_output=True, text=True, cwd=ROOT, timeout=120,
    )  # fmt: skip
    assert proc.returncode in (0, 1), proc.stderr
    doc = json.loads(proc.stdout)
    assert isinstance(doc, dict)
    return doc


@pytest.mark.parametrize("broker", ["redis://127.0.0.1:6379/0", "amqp://guest@127.0.0.1:5672//"])
def test_emitted_files_audit_clean(broker: str, tmp_path: Path) -> None:
    a = design(broker)
    files = autoscale.write(a, tmp_path, 0.1)
    paths = [Path(p) for p in files.values()]
    doc = audit_json(*paths)
    assert doc["findings"] == [], doc["findings"]
    command = autoscale.worker_command(a)
    assert "--prefetch-multiplier" in command and command[command.index("-c") + 1] == str(
        a.concurrency
    )
    assert ("--disable-prefetch" in command) == broker.startswith("redis")


def test_audit_reads_the_emitted_worker_command(tmp_path: Path) -> None:
    """The clean audit is not vacuous: the same Deployment with an option ``celery worker`` does
    not have is flagged (CT108)."""
    a = design("redis://127.0.0.1:6379/0")
    dep = autoscale.deployment(a)
    dep["spec"]["template"]["spec"]["containers"][0]["command"].append("--prefetch-multiplyer")  # type: ignore[index]
    path = tmp_path / "deployment.yaml"
    path.write_text(yaml.safe_dump(dep))
    doc = audit_json(path)
    codes = {f["code"] for f in doc["findings"]}  # type: ignore[attr-defined]
    assert "CT108" in codes


def test_current_config_with_prefetch_is_flagged(tmp_path: Path) -> None:
    """A --config with prefetch 4 and early acks: the manifests say the queue under-counts by
    multiplier x children per replica, and the audit flags it too (CT320), and nothing else (no
    reject-on-worker-lost without late acks: CT113)."""
    model = synthetic_model()
    target = Target(rate=60.0, p99_slo=0.5)
    rec = recommend(model, Settings(prefetch_multiplier=4, acks_late=False), target)
    assert rec.best is not None
    settings: dict[str, object] = {
        "worker_concurrency": rec.best.concurrency,
        "worker_prefetch_multiplier": 4,
        "task_acks_late": False,
    }
    a = autoscale.design(model, rec.best, target, settings, broker_url=None)
    assert a.hidden_per_replica == 4 * rec.best.concurrency
    files = autoscale.write(a, tmp_path, 0.1)
    assert "WARNING: each replica reserves" in Path(files["keda"]).read_text()
    assert "task_reject_on_worker_lost" not in Path(files["celeryconfig"]).read_text()
    doc = audit_json(*(Path(p) for p in files.values()))
    codes = [f["code"] for f in doc["findings"]]  # type: ignore[attr-defined]
    assert codes == ["CT320"], doc["findings"]


def test_grace_period_covers_the_time_limit() -> None:
    a = design("redis://127.0.0.1:6379/0")
    text = autoscale.celeryconfig(a, 0.1)
    limit = int(text.split("task_time_limit = ")[1].splitlines()[0])
    assert a.grace_seconds > limit


def test_io_workload_with_more_children_than_cpus_audits_clean(tmp_path: Path) -> None:
    """For an io workload plan may pick more children than CPUs; the Deployment says why, with a
    suppression the audit honours (and would report as CT002 if it silenced nothing)."""
    from dataclasses import replace as dc_replace

    a = dc_replace(design("amqp://guest@127.0.0.1:5672//"), workload_kind="io", concurrency=8)
    assert a.concurrency > a.cpus
    files = autoscale.write(a, tmp_path, 0.1)
    assert "ignore-file[CT201]" in Path(files["deployment"]).read_text()
    doc = audit_json(*(Path(p) for p in files.values()))
    assert doc["findings"] == [], doc["findings"]
    so = yaml.safe_load(Path(files["keda"]).read_text())
    assert so["spec"]["triggers"][0]["metadata"]["host"] == "amqp://127.0.0.1:5672/"
