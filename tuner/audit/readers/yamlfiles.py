"""Worker command lines in docker-compose files and Kubernetes manifests.

PyYAML's composer keeps every node's position, so each list item and each string keeps its own
place in the file.  ``yaml`` is imported only here, and only when such a file is read.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Sequence
from typing import TYPE_CHECKING

from tuner.audit.model import UNKNOWN, CommandLine, InputError, Manifest, Span, Trigger, Value
from tuner.audit.readers.cmdline import Finder
from tuner.audit.readers.shellwords import (
    FileText,
    Located,
    Mode,
    Token,
    Var,
    align,
    expand_word,
    tokenize,
)

if TYPE_CHECKING:
    from yaml import Node

CPU = re.compile(r"\s*([0-9]*\.?[0-9]+)\s*(m?)\s*")
MAX_MERGE_DEPTH = 10
NULL_TAG = "tag:yaml.org,2002:null"
MERGE_TAG = "tag:yaml.org,2002:merge"
POD_PATHS = {
    "Pod": ("spec",),
    "CronJob": ("spec", "jobTemplate", "spec", "template", "spec"),
    "PodTemplate": ("template", "spec"),
}


def documents(ft: FileText) -> tuple[list[Node], InputError | None]:
    """All YAML documents of a file as position-carrying nodes, or the first error."""
    import yaml

    try:
        # libyaml's composer is ~5x faster and reports the same character indices.
        loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
        docs = list(yaml.compose_all(ft.text, Loader=loader))
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        # By character index: YAML also breaks lines at U+2028, U+2029 and U+0085.
        line, column = ft.position(mark.index) if mark is not None else (1, 1)
        return [], InputError(f"YAML error: {exc.problem or exc.context}", line, column)
    except yaml.YAMLError as exc:
        line, column = ft.position(int(getattr(exc, "position", 0) or 0))
        first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        return [], InputError(f"YAML error: {first}", line, column)
    except RecursionError:
        return [], InputError("YAML error: nested too deeply", 1, 1)
    return [d for d in docs if d is not None], None


# --------------------------------------------------------------------------- nodes


def _items(node: Node | None, depth: int = 0) -> list[tuple[str, Node]]:
    """A mapping's (key, value) pairs, with ``<<`` merge keys applied."""
    import yaml

    if not isinstance(node, yaml.MappingNode) or depth > MAX_MERGE_DEPTH:
        return []
    own: list[tuple[str, Node]] = []
    merged: list[tuple[str, Node]] = []
    for key, value in node.value:
        if not isinstance(key, yaml.ScalarNode):
            continue
        if key.tag == MERGE_TAG or key.value == "<<":
            sources = value.value if isinstance(value, yaml.SequenceNode) else [value]
            for source in sources:
                merged.extend(_items(source, depth + 1))
        else:
            own.append((str(key.value), value))
    seen = {k for k, _ in own}
    return own + [(k, v) for k, v in merged if k not in seen]


def _get(node: Node | None, *path: str) -> Node | None:
    for key in path:
        found = None
        for k, v in _items(node):
            if k == key:
                found = v  # the last duplicate wins, as when PyYAML constructs
        if found is None:
            return None
        node = found
    return node


def _seq(node: Node | None) -> list[Node]:
    import yaml

    return list(node.value) if isinstance(node, yaml.SequenceNode) else []


def _text(node: Node | None) -> str | None:
    import yaml

    if isinstance(node, yaml.ScalarNode) and node.tag != NULL_TAG:
        return str(node.value)
    return None


def _scalar(whole: Located, node: Node | None) -> Located | None:
    """A scalar's value, each character placed where it is written."""
    text = _text(node)
    if text is None or node is None:
        return None
    return align(text, whole, node.start_mark.index, node.end_mark.index)


def _cpus(text: str | None) -> Value | None:
    """A CPU quantity: ``"500m"`` -> 0.5, ``"2"`` -> 2.0."""
    if text is None:
        return None
    m = CPU.fullmatch(text)
    if not m:
        # A limit is set, but not to a figure this file shows (``${CPUS}``, a Helm template).
        return Value("unknown", None, text)
    cpus = float(m.group(1)) / (1000 if m.group(2) else 1)
    return Value("known", cpus, text)


def _words(whole: Located, node: Node | None, env: dict[str, Var], k8s: bool) -> list[Token]:
    """A command given as a list (one word per item) or, in Compose, as a string (split like a
    shell, without running one)."""
    import yaml

    if isinstance(node, yaml.SequenceNode):
        words = []
        for item in node.value:
            loc = _scalar(whole, item)
            if loc is not None:
                mode: Mode = "kubernetes" if k8s else "compose"
                words.append(expand_word(loc, env, mode, item.start_mark.index))
        return words
    loc = _scalar(whole, node)
    if loc is None or k8s:
        return []
    return [t for cmd in tokenize(loc, env, "compose") for t in cmd]


def _with_cpu(found: Sequence[CommandLine], cpu: Value | None) -> list[CommandLine]:
    if cpu is None:
        return list(found)
    return [dataclasses.replace(c, cpu_limit=cpu) for c in found]


# --------------------------------------------------------------------------- compose


def _compose_env(ft: FileText, whole: Located, node: Node | None) -> dict[str, Var]:
    """``environment:`` as a mapping or a list of ``K=V``; unset entries stay unknown."""
    env: dict[str, Var] = {}
    for key, value in _items(node):
        loc = _scalar(whole, value)
        if loc is not None:
            env[key] = Var(expand_word(loc, {}, "compose", value.start_mark.index).loc)
    for item in _seq(node):
        loc = _scalar(whole, item)
        if loc is None or "=" not in loc.text:
            continue
        eq = loc.text.index("=")
        value_loc = loc.slice(eq + 1)
        env[loc.text[:eq]] = Var(expand_word(value_loc, {}, "compose", item.start_mark.index).loc)
    return env


SERVICE_KEYS = frozenset({"image", "build", "command", "entrypoint"})


def _services(doc: Node) -> list[tuple[str, Node]]:
    """``services:``; in the old v1 format (no ``services:`` key), the top-level entries that
    look like services (they have an ``image``, ``build``, ``command`` or ``entrypoint``)."""
    services = _get(doc, "services")
    if services is not None:
        return _items(services)
    return [
        (name, node)
        for name, node in _items(doc)
        if name not in ("version", "volumes", "networks", "configs", "secrets")
        and not name.startswith("x-")
        and any(key in SERVICE_KEYS for key, _ in _items(node))
    ]


def read_compose(ft: FileText) -> tuple[list[CommandLine], InputError | None]:
    docs, error = documents(ft)
    whole = ft.whole()
    found: list[CommandLine] = []
    for doc in docs:
        for name, service in _services(doc):
            env = _compose_env(ft, whole, _get(service, "environment"))
            entrypoint = _words(whole, _get(service, "entrypoint"), env, k8s=False)
            command = _words(whole, _get(service, "command"), env, k8s=False)
            cpu = _cpus(_text(_get(service, "cpus"))) or _cpus(
                _text(_get(service, "deploy", "resources", "limits", "cpus"))
            )
            finder = Finder(ft, env, f"compose service '{name}'")
            found += _with_cpu(finder.find(entrypoint + command), cpu)
    return found, error


# --------------------------------------------------------------------------- kubernetes


def _pod_spec(obj: Node, kind: str) -> Node | None:
    path = POD_PATHS.get(kind, ("spec", "template", "spec"))
    return _get(obj, *path)


def _node_span(ft: FileText, node: Node) -> Span:
    return ft.span(node.start_mark.index, node.end_mark.index)


def _container(
    ft: FileText, whole: Located, node: Node, label: str, owner: str = ""
) -> list[CommandLine]:
    env: dict[str, Var] = {}
    names: list[tuple[str, str | None]] = []
    if _get(node, "envFrom") is not None:
        names.append(("*", None))
    for item in _seq(_get(node, "env")):
        name = _text(_get(item, "name"))
        if name is None:
            continue
        names.append((name, _text(_get(item, "value"))))
        loc = _scalar(whole, _get(item, "value"))
        if loc is None:
            env.pop(name, None)  # valueFrom: not known statically
            continue
        base = _get(item, "value")
        at = base.start_mark.index if base is not None else 0
        env[name] = Var(expand_word(loc, env, "kubernetes", at).loc)
    words = _words(whole, _get(node, "command"), env, k8s=True)
    words += _words(whole, _get(node, "args"), env, k8s=True)
    cname = _text(_get(node, "name")) or "?"
    finder = Finder(ft, env, f"{label} container '{cname}'")
    cpu = _cpus(_text(_get(node, "resources", "limits", "cpu")))
    found = [dataclasses.replace(c, owner=owner, env=tuple(names)) for c in finder.find(words)]
    return _with_cpu(found, cpu)


def _int(text: str | None) -> int | None:
    try:
        return int(text) if text is not None else None
    except ValueError:
        return None


def _manifest(ft: FileText, obj: Node, kind: str, name: str, pod: Node | None) -> Manifest:
    name_node = _get(obj, "metadata", "name") or _get(obj, "kind") or obj
    span = _node_span(ft, name_node)
    namespace = _text(_get(obj, "metadata", "namespace"))
    if kind == "ScaledObject":
        ref = _get(obj, "spec", "scaleTargetRef")
        target = _get(ref, "name")
        triggers = tuple(
            Trigger(
                _text(_get(t, "type")) or "",
                _node_span(ft, _get(t, "type") or t),
                tuple(
                    (k, str(v.value))
                    for k, v in _items(_get(t, "metadata"))
                    if _text(v) is not None
                ),
            )
            for t in _seq(_get(obj, "spec", "triggers"))
        )
        return Manifest(
            kind,
            name,
            span,
            namespace,
            target_kind=_text(_get(ref, "kind")) or "Deployment",
            target=_text(target),
            target_span=_node_span(ft, target) if target is not None else None,
            triggers=triggers,
        )
    grace_node = _get(pod, "terminationGracePeriodSeconds")
    grace_text = _text(grace_node)
    seconds = _int(grace_text)
    grace = None
    if grace_node is not None:
        grace = Value("known", seconds, grace_text or "") if seconds is not None else UNKNOWN
    return Manifest(
        kind,
        name,
        span,
        namespace,
        grace=grace,
        grace_span=_node_span(ft, grace_node) if grace_node is not None else None,
    )


def _k8s_object(
    ft: FileText, whole: Located, obj: Node, manifests: list[Manifest], depth: int = 0
) -> list[CommandLine]:
    kind = _text(_get(obj, "kind")) or ""
    if kind == "List" or kind.endswith("List"):
        if depth > MAX_MERGE_DEPTH:
            return []
        return [
            c
            for item in _seq(_get(obj, "items"))
            for c in _k8s_object(ft, whole, item, manifests, depth + 1)
        ]
    name = _text(_get(obj, "metadata", "name")) or "?"
    label = f"Kubernetes {kind or 'object'} '{name}'"
    pod = _pod_spec(obj, kind)
    if kind:
        manifests.append(_manifest(ft, obj, kind, name, pod))
    found: list[CommandLine] = []
    for container in _seq(_get(pod, "containers")):
        found += _container(ft, whole, container, label, f"{kind}/{name}")
    return found


def read_kubernetes(
    ft: FileText, manifests: list[Manifest] | None = None
) -> tuple[list[CommandLine], InputError | None]:
    """Containers' commands; ``manifests`` receives each object the deployment checks read."""
    docs, error = documents(ft)
    whole = ft.whole()
    into: list[Manifest] = [] if manifests is None else manifests
    return [c for doc in docs for c in _k8s_object(ft, whole, doc, into)], error
