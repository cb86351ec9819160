"""JSON Schemas for the manifests ``plan`` emits, written from the published definitions.

No PyPI or npm package here ships them, so the fields checked are written down:

- KEDA ScaledObject: ``config/crd/bases/keda.sh_scaledobjects.yaml`` of kedacore/keda (read at
  commit 8b4f083ca8c8c2baf8477e322bd4d16ac4dfa09a, Aug 2026), version ``v1alpha1``, the
  ``openAPIV3Schema`` of ``spec``: its property names, types, minimums, required lists (``spec``:
  scaleTargetRef, triggers; ``scaleTargetRef``: name; each trigger: type, metadata, whose values
  are strings: ``additionalProperties: {type: string}``; ``triggers`` minItems 1), and the
  validation rule minReplicaCount <= maxReplicaCount (checked in the test).  The trigger metadata
  keys are those the Redis and RabbitMQ scalers read (pkg/scalers/redis_scaler.go: address,
  listName, listLength, activationListLength; rabbitmq_scaler.go: host, protocol, queueName, mode,
  value).
- HPA: Kubernetes ``autoscaling/v2`` HorizontalPodAutoscalerSpec (scaleTargetRef:
  CrossVersionObjectReference with kind and name required; minReplicas, maxReplicas (required);
  metrics: MetricSpec with type required, External: ExternalMetricSource {metric:
  MetricIdentifier {name required, selector}, target: MetricTarget {type required, value,
  averageValue, averageUtilization}}; behavior).

Objects are closed (``additionalProperties: false``) where the emitter writes them, so a
misspelled field fails; upstream they are open, and Kubernetes would prune it silently.
"""

from __future__ import annotations

from typing import Any

INT32 = {"type": "integer", "minimum": -(2**31), "maximum": 2**31 - 1}


def _int(minimum: int) -> dict[str, Any]:
    return {**INT32, "minimum": minimum}


OBJECT_META = {
    "type": "object",
    "properties": {"name": {"type": "string", "minLength": 1}, "namespace": {"type": "string"}},
    "required": ["name"],
}

SCALE_TARGET_REF = {
    "type": "object",
    "properties": {
        "apiVersion": {"type": "string"},
        "envSourceContainerName": {"type": "string"},
        "kind": {"type": "string"},
        "name": {"type": "string", "minLength": 1},
    },
    "required": ["name"],
    "additionalProperties": False,
}

REDIS_METADATA = {
    "type": "object",
    "properties": {
        k: {"type": "string"}
        for k in (
            "address",
            "addressFromEnv",
            "host",
            "port",
            "listName",
            "listLength",
            "activationListLength",
            "databaseIndex",
            "enableTLS",
            "unsafeSsl",
        )
    },
    "required": ["listName"],
    "additionalProperties": False,
}
RABBITMQ_METADATA = {
    "type": "object",
    "properties": {
        k: {"type": "string"}
        for k in (
            "host",
            "hostFromEnv",
            "protocol",
            "queueName",
            "mode",
            "value",
            "activationValue",
            "vhostName",
            "useRegex",
            "excludeUnacknowledged",
            "pageSize",
            "operation",
            "timeout",
            "unsafeSsl",
        )
    },
    "required": ["queueName", "mode", "value"],
    "additionalProperties": False,
}

TRIGGER = {
    "type": "object",
    "properties": {
        "type": {"type": "string", "minLength": 1, "enum": ["redis", "rabbitmq"]},
        "name": {"type": "string"},
        "metadata": {"type": "object", "additionalProperties": {"type": "string"}},
        "metricType": {"type": "string", "enum": ["AverageValue", "Value", "Utilization"]},
        "useCachedMetrics": {"type": "boolean"},
        "authenticationRef": {
            "type": "object",
            "properties": {
                "kind": {"enum": ["TriggerAuthentication", "ClusterTriggerAuthentication"]},
                "name": {"type": "string"},
            },
            "required": ["name"],
        },
    },
    "required": ["metadata", "type"],
    "additionalProperties": False,
    "allOf": [
        {
            "if": {"properties": {"type": {"const": "redis"}}},
            "then": {"properties": {"metadata": REDIS_METADATA}},
        },
        {
            "if": {"properties": {"type": {"const": "rabbitmq"}}},
            "then": {
                "properties": {
                    "metadata": {
                        **RABBITMQ_METADATA,
                        "properties": {
                            **RABBITMQ_METADATA["properties"],  # type: ignore[dict-item]
                            "mode": {"enum": ["QueueLength", "MessageRate"]},
                        },
                    }
                }
            },
        },
    ],
}

SCALED_OBJECT = {
    "type": "object",
    "properties": {
        "apiVersion": {"const": "keda.sh/v1alpha1"},
        "kind": {"const": "ScaledObject"},
        "metadata": OBJECT_META,
        "spec": {
            "type": "object",
            "properties": {
                "advanced": {"type": "object"},
                "cooldownPeriod": _int(0),
                "fallback": {"type": "object"},
                "idleReplicaCount": _int(0),
                "initialCooldownPeriod": _int(0),
                "maxReplicaCount": _int(1),
                "minReplicaCount": _int(0),
                "pollingInterval": _int(1),
                "scaleTargetRef": SCALE_TARGET_REF,
                "triggers": {"type": "array", "minItems": 1, "items": TRIGGER},
            },
            "required": ["scaleTargetRef", "triggers"],
            "additionalProperties": False,
        },
    },
    "required": ["apiVersion", "kind", "metadata", "spec"],
    "additionalProperties": False,
}

QUANTITY = {
    "type": "string",
    "pattern": r"^[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+|[KMGTPE]i?|[munkMGTPE])?$",
}
METRIC_TARGET = {
    "type": "object",
    "properties": {
        "type": {"enum": ["Utilization", "Value", "AverageValue"]},
        "value": QUANTITY,
        "averageValue": QUANTITY,
        "averageUtilization": INT32,
    },
    "required": ["type"],
    "additionalProperties": False,
}
HPA = {
    "type": "object",
    "properties": {
        "apiVersion": {"const": "autoscaling/v2"},
        "kind": {"const": "HorizontalPodAutoscaler"},
        "metadata": OBJECT_META,
        "spec": {
            "type": "object",
            "properties": {
                "scaleTargetRef": {
                    "type": "object",
                    "properties": {
                        "apiVersion": {"type": "string"},
                        "kind": {"type": "string"},
                        "name": {"type": "string"},
                    },
                    "required": ["kind", "name"],
                    "additionalProperties": False,
                },
                "minReplicas": _int(1),
                "maxReplicas": _int(1),
                "metrics": {
                    "type": "array",
                    "items": {
                        "type": "object",
                        "properties": {
                            "type": {
                                "enum": [
                                    "ContainerResource",
                                    "External",
                                    "Object",
                                    "Pods",
                                    "Resource",
                                ]
                            },
                            "external": {
                                "type": "object",
                                "properties": {
                                    "metric": {
                                        "type": "object",
                                        "properties": {
                                            "name": {"type": "string"},
                                            "selector": {
                                                "type": "object",
                                                "properties": {
                                                    "matchLabels": {
                                                        "type": "object",
                                                        "additionalProperties": {"type": "string"},
                                                    },
                                                    "matchExpressions": {"type": "array"},
                                                },
                                                "additionalProperties": False,
                                            },
                                        },
                                        "required": ["name"],
                                        "additionalProperties": False,
                                    },
                                    "target": METRIC_TARGET,
                                },
                                "required": ["metric", "target"],
                                "additionalProperties": False,
                            },
                        },
                        "required": ["type"],
                        "additionalProperties": False,
                    },
                },
                "behavior": {
                    "type": "object",
                    "properties": {
                        "scaleUp": {"$ref": "#/$defs/rules"},
                        "scaleDown": {"$ref": "#/$defs/rules"},
                    },
                    "additionalProperties": False,
                },
            },
            "required": ["scaleTargetRef", "maxReplicas"],
            "additionalProperties": False,
        },
    },
    "required": ["apiVersion", "kind", "metadata", "spec"],
    "additionalProperties": False,
    "$defs": {
        "rules": {
            "type": "object",
            "properties": {
                "stabilizationWindowSeconds": {**INT32, "minimum": 0, "maximum": 3600},
                "selectPolicy": {"enum": ["Max", "Min", "Disabled"]},
                "policies": {"type": "array"},
                "tolerance": {"type": ["string", "number"]},
            },
            "additionalProperties": False,
        }
    },
}
