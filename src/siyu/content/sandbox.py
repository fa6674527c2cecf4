"""Bounds on the work one template render may do (see content/render.py, which renders in
this sandbox): operators write templates, and one template runs for thousands of contacts on
the journey worker, so a template must not be able to stall it or exhaust its memory.

The stock Jinja2 sandbox keeps templates away from Python internals; this adds a budget per
field — loop iterations and characters built — paid by rewriting each parsed template (every
``for`` loop's iterable, every filter, call and ``~`` result passes through a counting filter),
checks on the few calls that build a huge value from a small argument, and a streaming cap on
the output. Counting, not a timer: a thread cannot stop CPU-bound Python.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any

from jinja2 import Template, nodes
from jinja2.exceptions import SecurityError
from jinja2.runtime import Context
from jinja2.sandbox import SandboxedEnvironment
from jinja2.visitor import NodeTransformer

#: Longest output of one field; longer means a runaway loop, not a message.
MAX_FIELD_CHARS = 200_000
#: Longest string or list a ``*`` may build, and the largest integer exponent of ``**``.
MAX_REPEAT = 100_000
MAX_EXPONENT = 1_000
#: Loop iterations one field may run (nested loops multiply: 10^4 x 10^4 took 7.6 s), and
#: characters it may build along the way (every filter, call, ``~`` and ``+`` result counts).
#: A message needs a few dozen of each; counting, not a timer, because a thread cannot stop
#: CPU-bound Python.
MAX_LOOP_ITERATIONS = 10_000
MAX_BUILT_CHARS = 2_000_000


class LimitExceeded(SecurityError):
    """A template asked for more work or output than any message needs."""


@dataclass
class _Budget:
    iterations: int = MAX_LOOP_ITERATIONS
    chars: int = MAX_BUILT_CHARS


_budget: ContextVar[_Budget | None] = ContextVar("siyu_render_budget", default=None)


def _spend(iterations: int = 0, chars: int = 0) -> None:
    budget = _budget.get()
    if budget is None:  # outside a render (constant folding at compile time)
        return
    budget.iterations -= iterations
    budget.chars -= chars
    if budget.iterations < 0:
        raise LimitExceeded(f"loops ran more than {MAX_LOOP_ITERATIONS} times")
    if budget.chars < 0:
        raise LimitExceeded(f"built more than {MAX_BUILT_CHARS} characters")


def _counted(iterable: Any) -> Iterator[Any]:
    """Wraps every ``for`` loop's iterable: each item costs one iteration of the budget."""
    for item in iterable:
        _spend(iterations=1)
        yield item


def _sized(value: Any) -> Any:
    """Wraps what may build a large value (filters, calls, ``~``): its size costs characters."""
    if isinstance(value, str | list | tuple | dict):
        _spend(chars=len(value))
    return value


_COUNTED, _SIZED = "siyu_counted", "siyu_sized"


class _Bounded(NodeTransformer):
    """Rewrites a parsed template so loops and value-building expressions pay into the budget."""

    def _wrap(self, node: nodes.Expr, name: str) -> nodes.Expr:
        return nodes.Filter(node, name, [], [], None, None, lineno=node.lineno)

    def visit_For(self, node: nodes.For) -> nodes.Node:
        self.generic_visit(node)
        node.iter = self._wrap(node.iter, _COUNTED)
        return node

    def visit_Filter(self, node: nodes.Filter) -> nodes.Node:
        self.generic_visit(node)
        return node if node.node is None else self._wrap(node, _SIZED)  # None: {% filter %} block

    def visit_Call(self, node: nodes.Call) -> nodes.Node:
        self.generic_visit(node)
        return self._wrap(node, _SIZED)

    def visit_Concat(self, node: nodes.Concat) -> nodes.Node:
        self.generic_visit(node)
        return self._wrap(node, _SIZED)


#: str methods and filters whose one call can build a huge value from a small argument
#: (``'x'.center(10**9)``, ``'%999999999s'|format(1)``, ``[1]|slice(10**9)``).
_WIDTH_METHODS = frozenset({"center", "ljust", "rjust", "zfill", "expandtabs"})
_DIGITS = re.compile(r"\d+")
#: ``{:>{w}}`` / ``%*s``: the width comes from an argument, so arguments are checked too.
_NESTED_WIDTH = re.compile(r"\{[^{}]*:[^{}]*\{|%[-+ #0]*\*")


def _check_width(*values: Any) -> None:
    for v in values:
        if isinstance(v, int) and not isinstance(v, bool) and v > MAX_FIELD_CHARS:
            raise LimitExceeded(f"a width or count above {MAX_FIELD_CHARS} is not allowed")


def _check_format(fmt: Any) -> None:
    if isinstance(fmt, str) and any(int(d) > MAX_FIELD_CHARS for d in _DIGITS.findall(fmt)):
        raise LimitExceeded(f"a format width above {MAX_FIELD_CHARS} is not allowed")


def _check_replace(text: Any, old: Any, new: Any, count: Any = -1) -> None:
    if isinstance(text, str) and isinstance(old, str) and isinstance(new, str):
        n = text.count(old) if not isinstance(count, int) or count < 0 else count
        if len(text) + n * max(0, len(new) - len(old)) > MAX_FIELD_CHARS:
            raise LimitExceeded(f"a replacement longer than {MAX_FIELD_CHARS} characters")


def _big_exponent(n: Any) -> bool:
    return isinstance(n, int) and abs(n) > MAX_EXPONENT


class Sandbox(SandboxedEnvironment):
    """The stock sandbox plus bounds on the work one render may do: ``*`` and ``**`` (one
    template line could otherwise exhaust memory or CPU: ``{{ 'x' * 10**10 }}``), loop
    iterations and built characters (a budget per field, see :class:`_Bounded`), and the few
    calls that build a huge value from a small argument. An unsafe attribute raises at once
    (``{{ ''|attr('__class__') }}`` must not pass silently through ``default`` or ``if``)."""

    intercepted_binops = frozenset({"*", "**", "+"})

    def _parse(self, source: str, name: str | None, filename: str | None) -> nodes.Template:
        tree = super()._parse(source, name, filename)
        return _Bounded().visit(tree)  # type: ignore[no-any-return]

    def unsafe_undefined(self, obj: Any, attribute: str) -> Any:
        raise SecurityError(f"access to attribute {attribute!r} of {type(obj).__name__!r} object is unsafe")

    def call_binop(self, context: Context, operator: str, left: Any, right: Any) -> Any:
        if operator == "*":
            for seq, n in ((left, right), (right, left)):
                if isinstance(seq, str | list | tuple) and isinstance(n, int) and len(seq) * n > MAX_REPEAT:
                    raise SecurityError(f"repetition longer than {MAX_REPEAT} is not allowed")
        elif operator == "**" and isinstance(left, int) and _big_exponent(right):
            raise SecurityError(f"exponent larger than {MAX_EXPONENT} is not allowed")
        return _sized(super().call_binop(context, operator, left, right))

    def call(__self, __context: Context, __obj: Any, *args: Any, **kwargs: Any) -> Any:
        name = getattr(__obj, "__name__", "")
        if isinstance(getattr(__obj, "__self__", None), str):
            if name in _WIDTH_METHODS:
                _check_width(*args, *kwargs.values())
            elif name == "replace":
                _check_replace(__obj.__self__, *args, **kwargs)
        return super().call(__context, __obj, *args, **kwargs)

    def wrap_str_format(self, value: Any) -> Any:
        """``'{:>999999999}'.format(1)``: the format string's widths are checked when the
        method is looked up (which also happens when Jinja folds constants at compile time)."""
        wrapped = super().wrap_str_format(value)
        if wrapped is None:
            return None
        fmt = value.__self__
        _check_format(fmt)
        if not _NESTED_WIDTH.search(fmt):
            return wrapped

        def checked(*args: Any, **kwargs: Any) -> Any:  # a width given as an argument
            _check_width(*args, *kwargs.values())
            return wrapped(*args, **kwargs)

        return checked


class BoundedTemplate(Template):
    """Renders with a fresh budget and stops as soon as the output is longer than a field may
    be, instead of building it whole first."""

    def render(self, *args: Any, **kwargs: Any) -> str:
        ctx = self.new_context(dict(*args, **kwargs))
        token = _budget.set(_Budget())
        try:
            parts: list[str] = []
            size = 0
            for piece in self.root_render_func(ctx):
                size += len(piece)
                if size > MAX_FIELD_CHARS:
                    raise LimitExceeded(f"longer than {MAX_FIELD_CHARS} characters")
                parts.append(piece)
            return self.environment.concat(parts)  # type: ignore[attr-defined,no-any-return]
        except Exception:
            self.environment.handle_exception()
        finally:
            _budget.reset(token)


def _guarded(inner: Any, position: int) -> Any:
    """``inner`` refusing a width/count argument (the ``position``-th after the value) above
    the field limit."""

    def checked(*args: Any, **kwargs: Any) -> Any:
        _check_width(*args[position:], *kwargs.values())
        return inner(*args, **kwargs)

    checked.__dict__.update(inner.__dict__)  # keeps Jinja's pass_context/pass_eval_context mark
    return checked


def _guarded_format(inner: Any) -> Any:
    def checked(value: Any, *args: Any, **kwargs: Any) -> Any:
        _check_format(value)
        if isinstance(value, str) and _NESTED_WIDTH.search(value):
            _check_width(*args, *kwargs.values())
        return inner(value, *args, **kwargs)

    checked.__dict__.update(inner.__dict__)
    return checked


def _guarded_replace(inner: Any) -> Any:
    def checked(eval_ctx: Any, s: Any, old: Any, new: Any, count: Any = None) -> Any:
        _check_replace(str(s), str(old), str(new), -1 if count is None else count)
        return inner(eval_ctx, s, old, new, count)

    checked.__dict__.update(inner.__dict__)
    return checked


def bound(env: Sandbox) -> None:
    """Installs the budget's filters and the guarded versions of the width-taking filters."""
    env.template_class = BoundedTemplate
    env.filters.update({_COUNTED: _counted, _SIZED: _sized})
    for name in ("center", "indent", "slice", "batch"):
        env.filters[name] = _guarded(env.filters[name], 1)
    env.filters["format"] = _guarded_format(env.filters["format"])
    env.filters["replace"] = _guarded_replace(env.filters["replace"])
