"""Read a Python source statically (``ast`` only: the audited code is never imported or run).

Records every module-level assignment, every ``app.conf`` write (``.update(...)``, attribute and
item assignment), ``Celery(...)`` keyword settings and ``config_from_object`` calls.
"""

from __future__ import annotations

import ast
import re
import warnings
from collections.abc import Iterable

from tuner.audit.model import (
    InputError,
    NamespaceHint,
    Occurrence,
    Origin,
    SourceFile,
    Span,
    Value,
)
from tuner.audit.values import (
    Budget,
    SourceText,
    apply_binop,
    evaluate,
    shorten,
    source_text,
    split_lines,
)

DJANGO_NAMES = frozenset({"INSTALLED_APPS", "ROOT_URLCONF", "MIDDLEWARE", "DATABASES"})
DJANGO_ENV = "DJANGO_SETTINGS_MODULE"
# Only sources containing one of these need the whole-tree walk.
WALK_MARKERS = (".conf", "Celery", "config_from_object", DJANGO_ENV)
# Celery.__init__ parameters that are not settings; any other keyword becomes a setting.
CELERY_PARAMS = frozenset(
    {
        "main",
        "loader",
        "amqp",
        "events",
        "log",
        "control",
        "set_as_current",
        "tasks",
        "changes",
        "config_source",
        "fixups",
        "task_cls",
        "autofinalize",
        "namespace",
        "strict_typing",
        "config_source_silent",
    }
)
CELERY_RENAMED = {"broker": "broker_url", "backend": "result_backend"}
STRING_LITERAL = re.compile(r"([rRuU]?)('''|\"\"\"|'|\")(.*)\2", re.DOTALL)
WORD_AT = re.compile(r"\w+")
WORD_BEFORE = re.compile(r"\w+$")


def read_python(path: str, text: str) -> SourceFile:
    """Read one Python source.  Never raises: a problem is reported in ``SourceFile.error``."""
    text = text.removeprefix("\ufeff")
    src = source_text(text)
    result = SourceFile(path=path, kind="python", lines=list(src.lines))
    tree = _parse(result, text)
    if tree is None:
        return result
    try:
        _Reader(result, src, text).read(tree)
    except (RecursionError, MemoryError):
        result.occurrences.clear()
        result.error = InputError("too deeply nested to analyse")
    return result


def _parse(result: SourceFile, text: str) -> ast.Module | None:
    nul = text.find("\0")
    if nul >= 0:
        # Lines as ``split_lines`` counts them (``\r`` alone also ends a line).
        before = split_lines(text[:nul] + "x")
        line, column = len(before), len(before[-1])
        result.error = InputError("contains NUL bytes: not a Python source", line, column)
        return None
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # SyntaxWarning for odd escapes is not our business
            return ast.parse(text, filename=result.path)
    except SyntaxError as exc:
        line, column = _clamp(result.lines, exc.lineno or 1, exc.offset or 1)
        why = _not_python3(text, exc.msg)
        if why is not None:
            result.skipped = InputError(f"{why}: not Python 3 source, so not audited", line, column)
        else:
            result.error = InputError(f"syntax error: {exc.msg}", line, column)
    except (RecursionError, MemoryError):
        result.error = InputError("too deeply nested to parse")
    except ValueError as exc:
        result.error = InputError(f"cannot parse: {exc}")
    return None


# Template syntax (Jinja, Django startproject, cookiecutter): ``{{ name }}``, ``{% if %}``.
_TEMPLATE = re.compile(r"\{\{[^{}\n]*\}\}|\{%[^\n]*%\}")
# Python 2 only statements: ``print "x"``, ``except E, e:``, ``exec "code"``, ``raise E, "msg"``.
_PYTHON2 = re.compile(
    r"(?m)^[ \t]*(?:print[ \t]+[\"'\w]|exec[ \t]+[\"']|except[ \t]+[\w.]+[ \t]*,[ \t]*\w+[ \t]*:"
    r"|raise[ \t]+[\w.]+[ \t]*,)"
)

# What Python 3 says of Python 2 code: ``print x``, ``0644``.
_PYTHON2_ERRORS = ("Missing parentheses in call to", "leading zeros in decimal integer literals")


def _not_python3(text: str, message: str) -> str | None:
    """Why a file that does not parse is not Python 3 source at all (None: a real syntax error)."""
    if _TEMPLATE.search(text):
        return "template syntax ({{ }} or {% %})"
    if any(hint in message for hint in _PYTHON2_ERRORS) or _PYTHON2.search(text):
        return "Python 2 syntax"
    return None


def _clamp(lines: list[str], line: int, column: int) -> tuple[int, int]:
    line = min(max(line, 1), max(len(lines), 1))
    width = len(lines[line - 1]) if lines else 0
    return line, min(max(column, 1), width + 1)


def _is_conf(node: ast.expr) -> bool:
    """``<anything>.conf``: ``app.conf``, ``celery_app.conf``, ``self.app.conf``."""
    return isinstance(node, ast.Attribute) and node.attr == "conf"


def _str_const(node: ast.expr | None) -> str | None:
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value
    return None


def _keyword(call: ast.Call, name: str) -> ast.keyword | None:
    return next((kw for kw in call.keywords if kw.arg == name), None)


def _stored_names(node: ast.AST) -> Iterable[str]:
    for sub in ast.walk(node):
        if isinstance(sub, ast.Name) and not isinstance(sub.ctx, ast.Load):
            yield sub.id


class _Reader:
    def __init__(self, out: SourceFile, src: SourceText, text: str) -> None:
        self.out = out
        self.src = src
        self.text = text
        self.scope: dict[str, Value] = {}
        self.budget = Budget()
        self.dicts: dict[str, ast.Dict] = {}  # module names bound to a dict literal
        self.modules: dict[str, str] = {}  # module names bound by an import -> module path
        self.celery_names = {"Celery"}
        self.app_namespace: str | None = None
        self.plain_configs: list[tuple[str, Span]] = []  # config_from_object without namespace

    def read(self, tree: ast.Module) -> None:
        self.block(tree.body)
        if any(marker in self.text for marker in WALK_MARKERS):
            # Every write below resolves against the module scope as it is at the end of the
            # module: good enough for configuration, which is rarely rebound.
            for st in tree.body:
                if self.may_matter(st):
                    self.walk(st)
            if self.app_namespace:
                for ref, span in self.plain_configs:
                    self.out.namespaces.append(NamespaceHint(self.app_namespace, ref, span))
        self.out.occurrences.sort(
            key=lambda o: (o.span.line, o.span.column, o.key_span.line, o.key_span.column)
        )

    def value(self, node: ast.expr) -> Value:
        return evaluate(node, self.scope, self.text, self.budget)

    # --- module level ------------------------------------------------------------------------

    def block(self, body: list[ast.stmt]) -> None:
        for st in body:
            if isinstance(st, ast.Assign):
                value = self.value(st.value)
                for target in st.targets:
                    self.bind(target, value, st, st.value)
            elif isinstance(st, ast.AnnAssign):
                if st.value is not None:
                    self.bind(st.target, self.value(st.value), st, st.value)
            elif isinstance(st, ast.AugAssign):
                self.augmented(st)
            elif isinstance(st, ast.If):
                self.block(st.body)
                self.block(st.orelse)
            elif isinstance(st, ast.Try) or type(st).__name__ == "TryStar":
                self.try_(st)
            elif isinstance(st, ast.With):
                for item in st.items:
                    if item.optional_vars is not None:
                        self.forget(_stored_names(item.optional_vars))
                self.block(st.body)
            elif isinstance(st, (ast.Import, ast.ImportFrom)):
                self.imports(st)
            elif isinstance(st, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                self.forget([st.name])
            else:  # loops, match, del, walrus in expressions ...: those names are not static
                self.forget(_stored_names(st))

    def try_(self, st: ast.stmt) -> None:
        self.block(getattr(st, "body", []))
        for handler in getattr(st, "handlers", []):
            if handler.name:
                self.forget([handler.name])
            self.block(handler.body)
        self.block(getattr(st, "orelse", []))
        self.block(getattr(st, "finalbody", []))

    def forget(self, names: Iterable[str]) -> None:
        for name in names:
            self.scope.pop(name, None)
            self.dicts.pop(name, None)
            self.modules.pop(name, None)

    def bind(self, target: ast.expr, value: Value, st: ast.stmt, value_node: ast.expr) -> None:
        if isinstance(target, ast.Name):
            name = target.id
            self.forget([name])
            self.scope[name] = value
            if isinstance(value_node, ast.Dict):
                self.dicts[name] = value_node
            self.record(name, value, self.src.span(st), self.src.span(target), "module")
        elif isinstance(target, (ast.Tuple, ast.List, ast.Starred)):
            self.forget(_stored_names(target))

    def record(self, key: str, value: Value, span: Span, key_span: Span, origin: Origin) -> None:
        if origin == "module" and key in DJANGO_NAMES:
            self.out.django_like = True
        self.out.occurrences.append(Occurrence(key, value, span, key_span, origin))

    def augmented(self, st: ast.AugAssign) -> None:
        if not isinstance(st.target, ast.Name):
            return
        name = st.target.id
        right = self.value(st.value)
        value = apply_binop(st.op, self.scope.get(name, Value("unknown")), right, self.budget)
        value = Value(value.kind, value.value, shorten(self.src.segment(st)), value.env)
        self.forget([name])
        self.scope[name] = value
        self.record(name, value, self.src.span(st), self.src.span(st.target), "module")

    def imports(self, st: ast.Import | ast.ImportFrom) -> None:
        for alias in st.names:
            if alias.name == "*":
                continue
            bound = alias.asname or alias.name.split(".")[0]
            self.forget([bound])
            if isinstance(st, ast.Import):
                self.modules[bound] = alias.name if alias.asname else bound
            else:
                base = st.module or ""
                self.modules[bound] = f"{base}.{alias.name}" if base else alias.name
                if base.split(".")[0] == "celery" and alias.name == "Celery":
                    self.celery_names.add(bound)

    # --- anywhere in the module --------------------------------------------------------------

    def may_matter(self, st: ast.stmt) -> bool:
        """Whether a top-level statement's text holds a marker (walking every node is slow)."""
        first, last = st.lineno, st.end_lineno or st.lineno
        text = "\n".join(self.src.lines[first - 1 : last])
        markers = (*WALK_MARKERS, *self.celery_names)
        return any(marker in text for marker in markers)

    def walk(self, st: ast.stmt) -> None:
        for node in ast.walk(st):
            if isinstance(node, ast.Call):
                self.call(node)
            elif isinstance(node, ast.Assign):
                for target in node.targets:
                    self.conf_target(target, node.value, node)
            elif isinstance(node, ast.AnnAssign) and node.value is not None:
                self.conf_target(node.target, node.value, node)

    def call(self, node: ast.Call) -> None:
        func = node.func
        if isinstance(func, ast.Attribute):
            if func.attr == "update" and _is_conf(func.value):
                self.conf_update(node)
            elif func.attr == "config_from_object":
                self.config_from_object(node)
            elif func.attr == "Celery":
                self.celery(node)
            elif self.sets_django_env(node, func.attr):
                self.out.django_like = True
        elif isinstance(func, ast.Name) and func.id in self.celery_names:
            self.celery(node)

    @staticmethod
    def sets_django_env(node: ast.Call, method: str) -> bool:
        """``os.environ.setdefault("DJANGO_SETTINGS_MODULE", ...)`` and the like."""
        if method in ("setdefault", "putenv"):
            return _str_const(node.args[0] if node.args else None) == DJANGO_ENV
        return method == "update" and _keyword(node, DJANGO_ENV) is not None

    def conf_target(self, target: ast.expr, value_node: ast.expr, st: ast.stmt) -> None:
        if isinstance(target, ast.Attribute) and _is_conf(target.value):
            value = self.value(value_node)
            self.record(target.attr, value, self.src.span(st), self.attr_span(target), "conf.attr")
        elif isinstance(target, ast.Subscript):
            key = _str_const(target.slice)
            if key is None:
                return
            if _is_conf(target.value):
                value = self.value(value_node)
                key_span = self.string_span(target.slice)
                self.record(key, value, self.src.span(st), key_span, "conf.item")
            elif key == DJANGO_ENV:
                self.out.django_like = True

    def conf_update(self, node: ast.Call) -> None:
        self.keywords(node.keywords, "conf.update")
        for arg in node.args:
            self.mapping(arg, "conf.update")

    def mapping(self, arg: ast.expr, origin: Origin) -> None:
        """The items of a dict literal, ``dict(k=v)`` or a module name bound to a dict literal."""
        if isinstance(arg, ast.Name) and arg.id in self.dicts:
            arg = self.dicts[arg.id]
        if isinstance(arg, ast.Dict):
            for key_node, value_node in zip(arg.keys, arg.values, strict=True):
                key = _str_const(key_node)
                if key is None or key_node is None:
                    continue
                start, end = self.src.span(key_node), self.src.span(value_node)
                span = Span(start.line, start.column, end.end_line, end.end_column)
                value = self.value(value_node)
                self.record(key, value, span, self.string_span(key_node), origin)
        elif isinstance(arg, ast.Call) and isinstance(arg.func, ast.Name) and arg.func.id == "dict":
            self.keywords(arg.keywords, origin)
            for inner in arg.args:
                self.mapping(inner, origin)

    def keywords(
        self, keywords: list[ast.keyword], origin: Origin, rename: dict[str, str] | None = None
    ) -> None:
        for kw in keywords:
            if kw.arg is None:
                continue  # **mapping: not resolved
            value = self.value(kw.value)
            key = (rename or {}).get(kw.arg, kw.arg)
            self.record(key, value, self.src.span(kw), self.keyword_span(kw), origin)

    def celery(self, node: ast.Call) -> None:
        self.out.has_app = True
        settings = [kw for kw in node.keywords if kw.arg not in CELERY_PARAMS]
        self.keywords(settings, "Celery()", CELERY_RENAMED)
        changes = _keyword(node, "changes")
        if changes is not None:
            self.mapping(changes.value, "Celery()")
        source = _keyword(node, "config_source")
        if source is not None:
            self.config_source(source.value, None, node)
        namespace = _keyword(node, "namespace")
        if namespace is not None:
            value = self.value(namespace.value)
            if value.kind != "unknown" and isinstance(value.value, str) and value.value:
                self.app_namespace = value.value
                self.out.namespaces.append(
                    NamespaceHint(value.value, None, self.src.span(namespace))
                )

    def config_from_object(self, node: ast.Call) -> None:
        obj = node.args[0] if node.args else None
        if obj is None:
            keyword = _keyword(node, "obj")
            obj = keyword.value if keyword is not None else None
        if obj is None:
            return
        namespace: ast.keyword | ast.expr | None = _keyword(node, "namespace")
        if namespace is None and len(node.args) > 3:
            namespace = node.args[3]
        self.config_source(obj, namespace, node)

    def config_source(
        self, obj: ast.expr, namespace: ast.keyword | ast.expr | None, call: ast.Call
    ) -> None:
        ref = self.reference(obj)
        if ref is not None:
            self.out.config_refs.append(ref)
        target = ref if ref is not None else self.src.segment(obj)
        if namespace is None:
            self.plain_configs.append((target, self.src.span(call)))
            return
        node = namespace.value if isinstance(namespace, ast.keyword) else namespace
        value = self.value(node)
        if value.kind != "unknown" and isinstance(value.value, str) and value.value:
            self.out.namespaces.append(NamespaceHint(value.value, target, self.src.span(namespace)))

    def reference(self, obj: ast.expr) -> str | None:
        """What a config object names: a module path string, ``__name__``, an imported module."""
        if isinstance(obj, ast.Name) and obj.id == "__name__":
            return "__name__"
        parts: list[str] = []
        node = obj
        while isinstance(node, ast.Attribute):
            parts.append(node.attr)
            node = node.value
        if isinstance(node, ast.Name) and node.id in self.modules:
            return ".".join([self.modules[node.id].lstrip("."), *reversed(parts)])
        value = self.value(obj)
        if value.kind != "unknown" and isinstance(value.value, str):
            return value.value
        return None

    # --- spans of names ----------------------------------------------------------------------

    def keyword_span(self, kw: ast.keyword) -> Span:
        """Just the name of ``name=value`` (the keyword node starts at the name)."""
        span = self.src.span(kw)
        arg = kw.arg or ""
        line = self.src.lines[span.line - 1] if span.line <= len(self.src.lines) else ""
        start = span.column - 1
        if line[start : start + len(arg)] == arg:
            end = start + len(arg)
        else:  # a name the parser normalised (NFKC)
            match = WORD_AT.match(line, start)
            end = match.end() if match else start + len(arg)
        return Span(span.line, span.column, span.line, end + 1)

    def attr_span(self, node: ast.Attribute) -> Span:
        """Just the attribute name of ``x.name`` (it ends the node)."""
        span = self.src.span(node)
        lines = self.src.lines
        line = lines[span.end_line - 1] if span.end_line <= len(lines) else ""
        end = span.end_column - 1
        if line[end - len(node.attr) : end] == node.attr:
            start = end - len(node.attr)
        else:
            match = WORD_BEFORE.search(line, 0, end)
            start = match.start() if match else end - len(node.attr)
        return Span(span.end_line, start + 1, span.end_line, end + 1)

    def string_span(self, node: ast.expr) -> Span:
        """The characters inside the quotes of a simple string literal, else the whole literal."""
        span = self.src.span(node)
        value = _str_const(node)
        if span.line != span.end_line or value is None:
            return span
        match = STRING_LITERAL.fullmatch(self.src.text_of(span))
        if match is None or match.group(3) != value:
            return span
        start = span.column + len(match.group(1)) + len(match.group(2))
        return Span(span.line, start, span.line, start + len(value))
