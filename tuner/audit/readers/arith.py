"""Shell arithmetic over the CPU count, statically: ``$(nproc)``, ``$((2 * $(nproc) + 1))``,
``$(expr 2 \\* $(nproc) + 1)``, ``$(( $(nproc) * 2 ))``.

:func:`cpu_expression` turns such a word into a function of the CPU count, so the concurrency
rules can judge it against ``--cpus``.  Anything else (another command, a variable, ``nproc
--all``, a division by zero) is ``None``: unknown, never judged.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Callable

# The CPU count as the shell sees it.  ``nproc`` counts the CPUs of the affinity mask, as does
# ``getconf _NPROCESSORS_ONLN`` on a machine without a narrower mask; neither sees a cgroup quota.
CPU_COUNT = re.compile(
    r"\$\(\s*(?:nproc|getconf\s+_NPROCESSORS_ONLN)\s*\)|`\s*(?:nproc|getconf\s+_NPROCESSORS_ONLN)\s*`"
)
ARITHMETIC = re.compile(r"\$\(\(([^()]*(?:\([^()]*\)[^()]*)*)\)\)")
EXPR = re.compile(r"\$\(\s*expr\s+([^()`$]*)\)|`\s*expr\s+([^()`$]*)`")
ECHO = re.compile(r"\$\(\s*echo\s+([^()`$]*)\)")
SAFE = re.compile(r"[0-9N+\-*/%() \t]*")
MAX_STEPS = 20


def _expr_args(args: str) -> str:
    """``expr``'s arguments as an arithmetic expression: ``2 \\* N + 1`` -> ``2 * N + 1``."""
    words = [w.strip("'\"") for w in args.replace("\\*", "*").split()]
    return "(" + " ".join(words) + ")"


def _normalize(text: str) -> str | None:
    """The word as an expression over ``N`` (the CPU count), or None."""
    text = text.strip().strip("\"'")
    for _ in range(MAX_STEPS):
        before = text
        text = CPU_COUNT.sub(" N ", text)
        text = ARITHMETIC.sub(lambda m: "(" + m.group(1) + ")", text)
        text = EXPR.sub(lambda m: _expr_args(m.group(1) or m.group(2)), text)
        text = ECHO.sub(lambda m: m.group(1), text)
        if text == before:
            break
    if not text.strip() or not SAFE.fullmatch(text):
        return None
    return text


def _evaluate(node: ast.AST, n: int) -> int:
    if isinstance(node, ast.Expression):
        return _evaluate(node.body, n)
    if isinstance(node, ast.Constant) and type(node.value) is int:
        return node.value
    if isinstance(node, ast.Name) and node.id == "N":
        return n
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, (ast.USub, ast.UAdd)):
        value = _evaluate(node.operand, n)
        return -value if isinstance(node.op, ast.USub) else value
    if isinstance(node, ast.BinOp):
        left, right = _evaluate(node.left, n), _evaluate(node.right, n)
        if isinstance(node.op, ast.Add):
            return left + right
        if isinstance(node.op, ast.Sub):
            return left - right
        if isinstance(node.op, ast.Mult):
            return left * right
        if isinstance(node.op, (ast.FloorDiv, ast.Mod)):
            if right == 0:
                raise ZeroDivisionError
            # The shell truncates toward zero, as C does.
            quotient = abs(left) // abs(right) * (1 if (left >= 0) == (right >= 0) else -1)
            return quotient if isinstance(node.op, ast.FloorDiv) else left - right * quotient
    raise ValueError("not shell arithmetic")


def cpu_expression(text: str) -> Callable[[int], int | None] | None:
    """A function of the CPU count when ``text`` is shell arithmetic over it, else None."""
    expr = _normalize(text)
    if expr is None or "N" not in expr:
        return None
    try:
        tree = ast.parse(expr.replace("/", "//").strip(), mode="eval")
        _evaluate(tree, 1)  # the form is one we evaluate
    except (SyntaxError, ValueError, ZeroDivisionError, RecursionError):
        return None

    def at(cpus: int) -> int | None:
        try:
            return _evaluate(tree, cpus)
        except ZeroDivisionError:
            return None

    return at
