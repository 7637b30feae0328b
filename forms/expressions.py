"""A small, safe formula language for computed fields, defaults and cross-field rules.

Formulas are Python-like expressions parsed with :mod:`ast` and interpreted over a whitelist; nothing is ever
passed to ``eval``. Names are field keys or context parameters and may contain dots (``ethnicity.roma``,
``class.pupils``): the tokenizer joins ``name.name`` chains into one name before parsing, so there is no attribute
access in the language at all. Allowed: numbers, strings, ``True``/``False``/``None``, ``+ - * / // %``,
comparisons (chained, ``in``/``not in``), ``and``/``or``/``not``, ``a if c else b``, tuples/lists of literals, and
the functions in :data:`FUNCTIONS`. No ``**``, no attributes, subscripts, lambdas, comprehensions or f-strings.

Missing data is ``None`` and propagates (Kleene logic for ``and``/``or``/``not``); division by zero, overflow and
type mismatches evaluate to ``None`` — evaluation never raises on data.
"""
from __future__ import annotations

import ast
import io
import keyword
import math
import re
import tokenize
from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal
from functools import lru_cache
from typing import Any

MAX_SOURCE = 1000          # characters
MAX_NODES = 250            # AST nodes
MAX_DEPTH = 25             # AST nesting
MAX_STRING = 200           # string literal length
MAX_LITERAL = 10 ** 15     # largest numeric literal
MAX_RESULT = 10 ** 18      # larger intermediate results are treated as missing (None)

KEY_RE = re.compile(r"[a-z][a-z0-9_]*(?:\.[a-z][a-z0-9_]*)*\Z")
PATTERN_RE = re.compile(r"(?P<prefix>[a-z][a-z0-9_]*(?:\.[a-z][a-z0-9_]*)*)\.\*\Z")
_PLACEHOLDER = "_v{}"


class ExpressionError(ValueError):
    """A formula that does not parse or uses something outside the whitelist (a definition error)."""

    def __init__(self, message: str, source: str = ""):
        super().__init__(f"{message}: {source!r}" if source else message)
        self.message = message
        self.source = source


# --- value helpers -----------------------------------------------------------------------------------------

def _is_number(v) -> bool:
    return isinstance(v, int | float) and not (isinstance(v, float) and not math.isfinite(v))


def _num(v):
    """Bools count as 0/1; anything that is not a finite number is 'not a number' (None)."""
    if isinstance(v, bool):
        return int(v)
    return v if _is_number(v) else None


def _bounded(v):
    if v is None:
        return None
    if isinstance(v, float) and not math.isfinite(v):
        return None
    return v if abs(v) <= MAX_RESULT else None


def truth(v) -> bool | None:
    """Three-valued truth: None stays None (unknown)."""
    if v is None:
        return None
    if isinstance(v, list | tuple | str):
        return len(v) > 0
    return bool(v)


def round_half_up(v, digits: int = 0):
    """Round like people do (2.5 → 3), not banker's rounding; ints stay ints when digits ≤ 0."""
    if v is None or not _is_number(v):
        return None
    digits = max(0, min(int(digits), 10))
    q = Decimal(str(v)).quantize(Decimal(1).scaleb(-digits), rounding=ROUND_HALF_UP)
    return int(q) if digits == 0 else float(q)


# --- functions ---------------------------------------------------------------------------------------------

def _fn_min(*args):
    nums = [_num(a) for a in args]
    return None if any(n is None for n in nums) else min(nums)


def _fn_max(*args):
    nums = [_num(a) for a in args]
    return None if any(n is None for n in nums) else max(nums)


def _fn_abs(x):
    x = _num(x)
    return None if x is None else abs(x)


def _fn_round(x, digits=0):
    digits = _num(digits)
    if digits is None or digits != int(digits):
        return None
    return round_half_up(_num(x), int(digits))


def _fn_pct(a, b):
    """``100 · a / b``; None when either is missing or b is 0."""
    a, b = _num(a), _num(b)
    if a is None or b is None or b == 0:
        return None
    return _bounded(100.0 * a / b)


def _fn_coalesce(*args):
    return next((a for a in args if a is not None), None)


def _fn_present(x):
    return x is not None and x != [] and x != ""


# name → (callable, min args, max args); ``sum`` is special (a key pattern), see _eval_call.
FUNCTIONS: dict[str, tuple[Any, int, int]] = {
    "sum": (None, 1, 1),
    "min": (_fn_min, 1, 20),
    "max": (_fn_max, 1, 20),
    "abs": (_fn_abs, 1, 1),
    "round": (_fn_round, 1, 2),
    "pct": (_fn_pct, 2, 2),
    "coalesce": (_fn_coalesce, 1, 20),
    "present": (_fn_present, 1, 1),
}

_BINOPS = (ast.Add, ast.Sub, ast.Mult, ast.Div, ast.FloorDiv, ast.Mod)
_CMPOPS = (ast.Eq, ast.NotEq, ast.Lt, ast.LtE, ast.Gt, ast.GtE, ast.In, ast.NotIn)
_UNARY = (ast.UAdd, ast.USub, ast.Not)
_ALLOWED = (ast.Expression, ast.Constant, ast.Name, ast.Load, ast.BinOp, ast.UnaryOp, ast.BoolOp, ast.And, ast.Or,
            ast.Compare, ast.IfExp, ast.Call, ast.Tuple, ast.List) + _BINOPS + _CMPOPS + _UNARY


# --- compilation -------------------------------------------------------------------------------------------

def _rewrite_names(source: str) -> tuple[str, dict[str, str]]:
    """Replace every (dotted) name with a placeholder identifier; function names in call position and
    keywords stay. Returns the rewritten source and placeholder → name."""
    try:
        tokens = list(tokenize.generate_tokens(io.StringIO(source).readline))
    except (tokenize.TokenError, SyntaxError) as e:
        raise ExpressionError("syntax error", source) from e
    out: list[str] = []
    names: dict[str, str] = {}
    by_name: dict[str, str] = {}
    pos, i = 0, 0
    while i < len(tokens):
        tok = tokens[i]
        if tok.type == tokenize.ERRORTOKEN and tok.string.strip():
            raise ExpressionError("syntax error", source)
        if tok.type != tokenize.NAME:
            i += 1
            continue
        if not tok.string.isascii():
            raise ExpressionError("names must be ASCII", source)
        # Join NAME . NAME . NAME written without spaces into one dotted name.
        j, parts, end = i, [tok.string], tok.end
        while (j + 2 < len(tokens) and tokens[j + 1].string == "." and tokens[j + 1].start == end
               and tokens[j + 2].type == tokenize.NAME and tokens[j + 2].start == tokens[j + 1].end):
            if not tokens[j + 2].string.isascii():
                raise ExpressionError("names must be ASCII", source)
            parts.append(tokens[j + 2].string)
            end = tokens[j + 2].end
            j += 2
        name = ".".join(parts)
        nxt = tokens[j + 1] if j + 1 < len(tokens) else None
        is_call = nxt is not None and nxt.string == "("
        if len(parts) == 1 and (keyword.iskeyword(name) or (is_call and name in FUNCTIONS)):
            i = j + 1
            continue
        if not KEY_RE.match(name):
            raise ExpressionError(f"invalid name {name!r}", source)
        ph = by_name.get(name)
        if ph is None:
            ph = by_name[name] = _PLACEHOLDER.format(len(names))
            names[ph] = name
        # Single-line source: columns index the string directly.
        out.append(source[pos:tok.start[1]])
        out.append(ph)
        pos = end[1]
        i = j + 1
    out.append(source[pos:])
    return "".join(out), names


def _check_tree(tree: ast.AST, names: dict[str, str], source: str) -> set[str]:
    """Walk the whitelist; return the sum() patterns used."""
    patterns: set[str] = set()
    count = 0

    def visit(node: ast.AST, depth: int) -> None:
        nonlocal count
        count += 1
        if count > MAX_NODES:
            raise ExpressionError("formula too long", source)
        if depth > MAX_DEPTH:
            raise ExpressionError("formula nested too deeply", source)
        if not isinstance(node, _ALLOWED):
            raise ExpressionError(f"{type(node).__name__} is not allowed", source)
        if isinstance(node, ast.Constant):
            v = node.value
            if isinstance(v, str):
                if len(v) > MAX_STRING:
                    raise ExpressionError("string literal too long", source)
            elif v is not None and not isinstance(v, bool | int | float):
                raise ExpressionError(f"constant {v!r} is not allowed", source)
            elif isinstance(v, int | float) and not isinstance(v, bool) and (
                    not math.isfinite(v) or abs(v) > MAX_LITERAL):
                raise ExpressionError("number too large", source)
        elif isinstance(node, ast.Name):
            if node.id not in names:
                raise ExpressionError(f"unknown name {node.id!r}", source)
        elif isinstance(node, ast.Call):
            fn = node.func
            if not isinstance(fn, ast.Name) or fn.id not in FUNCTIONS:
                raise ExpressionError("only the built-in functions may be called", source)
            if node.keywords:
                raise ExpressionError("keyword arguments are not allowed", source)
            _, lo, hi = FUNCTIONS[fn.id]
            if not lo <= len(node.args) <= hi:
                raise ExpressionError(f"{fn.id}() takes {lo}..{hi} arguments", source)
            if fn.id == "sum":
                arg = node.args[0]
                m = PATTERN_RE.match(arg.value) if isinstance(arg, ast.Constant) and isinstance(arg.value, str) \
                    else None
                if not m:
                    raise ExpressionError('sum() takes a key pattern such as "ethnicity.*"', source)
                patterns.add(m["prefix"] + ".")
            for a in node.args:
                visit(a, depth + 1)
            return
        elif isinstance(node, ast.Tuple | ast.List):
            if len(node.elts) > 50:
                raise ExpressionError("list too long", source)
            for e in node.elts:
                if not isinstance(e, ast.Constant):
                    raise ExpressionError("lists may only hold literals", source)
        for child in ast.iter_child_nodes(node):
            visit(child, depth + 1)

    visit(tree, 0)
    return patterns


@dataclass(frozen=True)
class Expression:
    """A compiled formula. ``names``: the keys it reads; ``patterns``: key prefixes read by ``sum("x.*")``."""

    source: str
    names: frozenset[str]
    patterns: frozenset[str]
    _tree: ast.Expression = field(repr=False, compare=False)
    _placeholders: dict = field(repr=False, compare=False)

    def dependencies(self, keys) -> set[str]:
        """The keys among ``keys`` this formula reads, directly or through a pattern."""
        keys = set(keys)
        deps = {n for n in self.names if n in keys}
        for p in self.patterns:
            deps.update(k for k in keys if k.startswith(p))
        return deps

    def evaluate(self, env: Mapping[str, Any]):
        """Evaluate over ``env`` (key → value; absent keys are None). Never raises on data."""
        try:
            return _Evaluator(env, self._placeholders).eval(self._tree.body)
        except (ArithmeticError, TypeError, ValueError, RecursionError):
            return None


@lru_cache(maxsize=4096)
def compile_expression(source: str) -> Expression:
    """Parse and check a formula; raises :class:`ExpressionError` for anything outside the language."""
    if not isinstance(source, str):
        raise ExpressionError("a formula must be a string")
    if not source.strip():
        raise ExpressionError("empty formula")
    if len(source) > MAX_SOURCE:
        raise ExpressionError("formula too long", source[:40] + "…")
    if any(c in source for c in "\r\n\x00") or not source.isprintable():
        raise ExpressionError("a formula is one line of printable text", source)
    rewritten, placeholders = _rewrite_names(source)
    try:
        tree = ast.parse(rewritten.strip(), mode="eval")
    except (SyntaxError, ValueError, RecursionError, MemoryError) as e:
        raise ExpressionError("syntax error", source) from e
    patterns = _check_tree(tree, placeholders, source)
    return Expression(source=source, names=frozenset(placeholders.values()), patterns=frozenset(patterns),
                      _tree=tree, _placeholders=placeholders)


def evaluate(source: str, env: Mapping[str, Any]):
    """Compile (cached) and evaluate in one step."""
    return compile_expression(source).evaluate(env)


# --- interpretation ----------------------------------------------------------------------------------------

class _Evaluator:
    def __init__(self, env: Mapping[str, Any], placeholders: dict[str, str]):
        self.env = env
        self.ph = placeholders

    def eval(self, node: ast.AST):
        method = getattr(self, "_" + type(node).__name__)
        return method(node)

    def _Constant(self, node: ast.Constant):
        return node.value

    def _Name(self, node: ast.Name):
        return self.env.get(self.ph[node.id])

    def _Tuple(self, node: ast.Tuple):
        return [e.value for e in node.elts]

    _List = _Tuple

    def _UnaryOp(self, node: ast.UnaryOp):
        v = self.eval(node.operand)
        if isinstance(node.op, ast.Not):
            t = truth(v)
            return None if t is None else not t
        v = _num(v)
        if v is None:
            return None
        return -v if isinstance(node.op, ast.USub) else v

    def _BinOp(self, node: ast.BinOp):
        a, b = _num(self.eval(node.left)), _num(self.eval(node.right))
        if a is None or b is None:
            return None
        op = node.op
        if isinstance(op, ast.Add):
            r = a + b
        elif isinstance(op, ast.Sub):
            r = a - b
        elif isinstance(op, ast.Mult):
            r = a * b
        elif b == 0:
            return None
        elif isinstance(op, ast.Div):
            r = a / b
        elif isinstance(op, ast.FloorDiv):
            r = a // b
        else:
            r = a % b
        return _bounded(r)

    def _BoolOp(self, node: ast.BoolOp):
        is_and = isinstance(node.op, ast.And)
        unknown = False
        for v in node.values:
            t = truth(self.eval(v))
            if t is None:
                unknown = True
            elif t is not is_and:   # a False in an `and`, a True in an `or` decides
                return t
        return None if unknown else is_and

    def _Compare(self, node: ast.Compare):
        left = self.eval(node.left)
        for op, right_node in zip(node.ops, node.comparators, strict=True):
            right = self.eval(right_node)
            r = _compare(op, left, right)
            if r is not True:
                return r
            left = right
        return True

    def _IfExp(self, node: ast.IfExp):
        t = truth(self.eval(node.test))
        if t is None:
            return None
        return self.eval(node.body if t else node.orelse)

    def _Call(self, node: ast.Call):
        name = node.func.id
        if name == "sum":
            prefix = PATTERN_RE.match(node.args[0].value)["prefix"] + "."
            nums = [_num(v) for k, v in self.env.items() if k.startswith(prefix)]
            nums = [n for n in nums if n is not None]
            return _bounded(sum(nums)) if nums else None
        fn = FUNCTIONS[name][0]
        return fn(*(self.eval(a) for a in node.args))


def _compare(op: ast.cmpop, a, b):
    if isinstance(op, ast.In | ast.NotIn):
        if a is None or b is None or not isinstance(b, list | tuple):
            return None
        r = a in b
        return r if isinstance(op, ast.In) else not r
    if a is None or b is None:
        return None
    if isinstance(op, ast.Eq | ast.NotEq):
        if _num(a) is not None and _num(b) is not None:
            r = _num(a) == _num(b)
        else:
            r = a == b
        return r if isinstance(op, ast.Eq) else not r
    if _num(a) is None or _num(b) is None:
        return None
    a, b = _num(a), _num(b)
    if isinstance(op, ast.Lt):
        return a < b
    if isinstance(op, ast.LtE):
        return a <= b
    if isinstance(op, ast.Gt):
        return a > b
    return a >= b
