"""The restricted script engine: BPMN scripts and expressions run in a RestrictedPython sandbox.

SpiffWorkflow's stock ``PythonScriptEngine`` runs script tasks, gateway conditions, timer,
message-payload and DMN expressions with plain ``exec``/``eval`` and full builtins, so a process
designer could ``import os``. :func:`make_script_engine` returns a Spiff engine whose environment
compiles every source with RestrictedPython plus the stricter policy below, runs it against a
deep copy of the task data under a deadline, and writes the data back only on success.
:func:`evaluate` does the same for expressions evaluated outside Spiff (assignee, candidate
groups, due date, priority).

Rules, enforced when compiling (:func:`check_script`, :func:`check_expression`):

* no ``import``/``__import__``, no names or attributes starting with ``_``, no frame/code
  attributes (``gi_frame``, ``f_globals``, ``mro`` ...);
* no calls of ``exec eval compile open globals locals vars getattr setattr delattr hasattr type
  breakpoint input dir help`` and friends (they are also missing from the builtins);
* no ``class``, ``with``, ``finally``, bare ``except:``, ``except BaseException`` and except
  clauses naming anything but exception classes: these are the only ways code could still run
  after the timeout fired, so forbidding them makes :class:`ScriptTimeout` final.

and at run time: a whitelist of builtins, ``_getattr_`` refusing the same attributes,
``str.format``/``format_map`` going through a formatter that applies that guard, item writes
only on lists and dicts, and ``except`` classes checked to derive from ``Exception``. A guard
refusal aborts the whole script (it cannot be caught) and surfaces as :class:`ScriptFailed`.

Bounded (each script run or expression evaluation gets ``time_limit`` seconds):

* wall-clock time of sandboxed Python code: a tracer checks the deadline on every line and call
  event of code compiled here, also of lambdas kept from an earlier run, and every ``while``
  body gets an instruction so that even ``while True: pass`` raises line events. C functions
  that iterate while calling back into C (``min``/``max`` with a key, ``zip``, ``enumerate``)
  read through a traced generator, and ``map``/``filter``/``iter`` are not offered;
* single operations that would allocate or compute without limit in C: ``*`` repetition of
  str/bytes/list/tuple and ``range()`` (at most ``MAX_ITEMS`` items); ``*``, ``**``, ``<<`` and
  ``pow()`` on ints (at most ``MAX_INT_BITS`` bits); Decimals (at most
  ``10**MAX_DECIMAL_EXPONENT``, so ``int(d)`` stays instant); the int arguments of ``ljust
  rjust center zfill expandtabs``; the result of ``str.replace``; widths and precisions in
  format specs (``str.format``, ``format_map``, f-strings, ``%``); ``sum()`` refuses a sequence
  as start value.

Not bounded:

* memory in general: code can still grow objects geometrically (``s = s + s``,
  ``lst.extend(lst)``) until the deadline stops it, or render aliased data large in one C call
  (``join``, ``translate``, ``str()`` of a list holding one long string many times, a template
  with many fields); only a separate process with an address-space limit would bound that;
* a C-level call already under way when the deadline passes (a big sort) finishes first;
* helper functions: they are trusted code and run untraced and untimed;
* the tracer replaces any tracer installed before (a debugger, coverage) while code runs.
"""

from __future__ import annotations

import _string  # the field-name parser of str.format, which string.Formatter uses as well
import ast
import builtins
import copy
import math
import operator
import re
import string
import sys
import textwrap
import time
import types
from collections.abc import Callable, Iterator, Mapping, Sequence
from datetime import date, datetime, timedelta
from decimal import Decimal, localcontext
from functools import lru_cache
from typing import Any, Final, Literal, NamedTuple, NoReturn

from RestrictedPython import compile_restricted_eval, compile_restricted_exec
from RestrictedPython.Guards import guarded_iter_unpack_sequence, guarded_unpack_sequence
from RestrictedPython.transformer import (
    FORBIDDEN_FUNC_NAMES,
    INSPECT_ATTRIBUTES,
    IOPERATOR_TO_STR,
    RestrictingNodeTransformer,
    copy_locations,
)
from SpiffWorkflow.bpmn.exceptions import WorkflowTaskException
from SpiffWorkflow.bpmn.script_engine import BasePythonScriptEngineEnvironment, PythonScriptEngine
from SpiffWorkflow.exceptions import SpiffWorkflowException

__all__ = [
    "DEFAULT_TIME_LIMIT",
    "MAX_DECIMAL_EXPONENT",
    "MAX_INT_BITS",
    "MAX_ITEMS",
    "SANDBOX_FILENAME",
    "SandboxEnvironment",
    "SandboxedScriptEngine",
    "ScriptFailed",
    "ScriptRejected",
    "ScriptTimeout",
    "check_expression",
    "check_script",
    "evaluate",
    "make_script_engine",
]

DEFAULT_TIME_LIMIT: Final[float] = 2.0
MAX_ITEMS: Final = 1_000_000
MAX_INT_BITS: Final = 100_000
# Largest adjusted exponent of a Decimal; converting 10**4300 to int is instant, 10**999999 takes
# half a minute. The same digit count Python allows for int/str conversions.
MAX_DECIMAL_EXPONENT: Final = 4300
# Code objects compiled here carry this file name: the tracer times only them, and error line
# numbers are looked up in tracebacks by it.
SANDBOX_FILENAME: Final = "<kalem-script>"

Mode = Literal["exec", "eval"]
TraceFunction = Callable[[types.FrameType, str, Any], Any]

FORBIDDEN = "İzin verilmeyen işlem"
IMPORT_MESSAGE: Final = f"{FORBIDDEN}: içe aktarma (import) kullanılamaz"
CATCH_HINT: Final = "'except Exception:' yazın"


# --- errors --------------------------------------------------------------------------------


class _Located:
    """Mixin: a Turkish ``message`` and the script line it refers to, if known."""

    def __init__(self, message: str, lineno: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.lineno = lineno

    def __str__(self) -> str:
        return self.message if self.lineno is None else f"{self.message} (satır {self.lineno})"


class ScriptRejected(_Located, Exception):
    """The source does not compile in the sandbox: a syntax error or a forbidden construct."""


class ScriptTimeout(_Located, BaseException):
    """The code ran past its time limit (a BaseException: ``except Exception`` cannot stop it)."""


class ScriptFailed(_Located, Exception):
    """The sandboxed code failed at run time, or tried something the guards refuse."""


class _Forbidden(_Located, BaseException):
    """A guard refusal inside the sandbox; uncatchable there, turned into ScriptFailed outside."""


def _forbid(message: str) -> NoReturn:
    raise _Forbidden(message)


def _size_exceeded() -> NoReturn:
    limit = f"{MAX_ITEMS:,}".replace(",", ".")
    _forbid(f"Boyut sınırı aşıldı: bir işlemin sonucu en fazla {limit} öğe olabilir")


def _error_lineno(err: BaseException) -> int | None:
    """The line of the innermost sandboxed frame in the traceback of ``err``."""
    if isinstance(err, _Located) and err.lineno is not None:
        return err.lineno
    if isinstance(err, SyntaxError) and isinstance(err.lineno, int):
        return err.lineno
    lineno = None
    tb = err.__traceback__
    while tb is not None:
        if tb.tb_frame.f_code.co_filename == SANDBOX_FILENAME:
            lineno = tb.tb_lineno
        tb = tb.tb_next
    return lineno


def _describe(err: BaseException) -> str:
    if isinstance(err, _Located):
        return str(err)
    return f"{type(err).__name__}: {err}"


# --- run-time guards -----------------------------------------------------------------------

_BLOCKED_ATTRIBUTES: Final = INSPECT_ATTRIBUTES | {"mro"}
_SEQUENCES: Final = (str, bytes, list, tuple)
_PADDING_METHODS: Final = frozenset({"ljust", "rjust", "center", "zfill", "expandtabs"})


def _check_attribute_name(name: str) -> None:
    if name.startswith("_"):
        _forbid(f"Alt çizgiyle başlayan özniteliklere erişilemez: {name}")
    if name in _BLOCKED_ATTRIBUTES or name.endswith("__roles__"):
        _forbid(f"{FORBIDDEN}: '{name}' özniteliğine erişilemez")


def _is_text(obj: object, kinds: tuple[type, ...] = (str, bytes)) -> bool:
    """Whether ``obj`` is a str/bytes, or the class itself (``str.format(...)``)."""
    return isinstance(obj, kinds) or (isinstance(obj, type) and issubclass(obj, kinds))


def _guarded_getattr(obj: object, name: str) -> Any:
    """``obj.name`` in sandboxed code; ``format`` and the padding methods come back wrapped."""
    _check_attribute_name(name)
    if name in ("format", "format_map") and _is_text(obj, (str,)):
        return _safe_format_method(obj, name)
    value = getattr(obj, name)
    if _is_text(obj) and name in _PADDING_METHODS:
        return _with_int_arguments_capped(value)
    if _is_text(obj) and name == "replace":
        return _capped_replace(obj, value)
    return value


def _with_int_arguments_capped(method: Callable[..., Any]) -> Callable[..., Any]:
    def call(*args: Any, **kwargs: Any) -> Any:
        if any(isinstance(arg, int) and arg > MAX_ITEMS for arg in (*args, *kwargs.values())):
            _size_exceeded()
        return method(*args, **kwargs)

    return call


def _capped_replace(obj: object, method: Callable[..., Any]) -> Callable[..., Any]:
    def replace(*args: Any) -> Any:
        # Bound method: (old, new[, count]); through the class: (text, old, new[, count]).
        text, old, new, *_ = (*args, None, None, None) if isinstance(obj, type) else (obj, *args, None, None)
        if isinstance(text, (str, bytes)) and isinstance(old, type(text)) and isinstance(new, type(text)):
            growth = len(new) - len(old)
            if growth > 0 and len(text) + text.count(old) * growth > MAX_ITEMS:
                _size_exceeded()
        return method(*args)

    return replace


_NUMBER = re.compile(r"\d+")


def _check_format_spec(spec: str) -> None:
    """Refuse format specs with a width or precision above MAX_ITEMS (they allocate in C)."""
    for digits in _NUMBER.findall(spec):
        digits = digits.lstrip("0")
        if len(digits) > len(str(MAX_ITEMS)) or (digits and int(digits) > MAX_ITEMS):
            _size_exceeded()


class _SafeFormatter(string.Formatter):
    """``str.format`` for sandboxed code: field attributes go through the attribute guard."""

    def get_field(self, field_name: str, args: Sequence[Any], kwargs: Mapping[str, Any]) -> tuple[Any, Any]:
        first, rest = _string.formatter_field_name_split(field_name)
        obj = self.get_value(first, args, kwargs)
        for is_attribute, key in rest:
            obj = _guarded_getattr(obj, key) if is_attribute else obj[key]
        return obj, first

    def format_field(self, value: Any, format_spec: str) -> Any:
        _check_format_spec(format_spec)
        return super().format_field(value, format_spec)


_FORMATTER: Final = _SafeFormatter()


def _safe_format_method(obj: object, name: str) -> Callable[..., str]:
    def template_of(value: object) -> str:
        if not isinstance(value, str):
            raise TypeError(f"{name} yalnızca metinlerle kullanılabilir")
        return value

    if isinstance(obj, type):  # str.format(template, ...), str.format_map(template, mapping)
        if name == "format":
            return lambda template, *args, **kwargs: _FORMATTER.vformat(template_of(template), args, kwargs)
        return lambda template, mapping: _FORMATTER.vformat(template_of(template), (), mapping)
    if name == "format":
        return lambda *args, **kwargs: _FORMATTER.vformat(template_of(obj), args, kwargs)
    return lambda mapping: _FORMATTER.vformat(template_of(obj), (), mapping)


_CONVERSIONS: Final[dict[int, Callable[[Any], Any]]] = {
    -1: lambda value: value,
    ord("s"): str,
    ord("r"): repr,
    ord("a"): ascii,
}


def _format_value(value: Any, conversion: int, spec: str) -> str:
    """An f-string field with a format spec: ``f'{value!conversion:spec}'``."""
    _check_format_spec(spec)
    return format(_CONVERSIONS[conversion](value), spec)


# A %-format conversion: optional (key), flags, width, precision; the key may hold digits.
_PERCENT_SPEC = re.compile(r"%(?:\([^)]*\))?[-#0 +]*(\*|\d+)?(?:\.(\*|\d+))?")


def _check_percent_format(template: str | bytes, args: Any) -> None:
    text = template.decode("latin-1") if isinstance(template, bytes) else template
    for width, precision in _PERCENT_SPEC.findall(text):
        _check_format_spec(f"{width}.{precision}")
        if "*" in (width, precision):  # widths taken from the arguments
            values = args if isinstance(args, tuple) else (args,)
            if any(isinstance(value, int) and value > MAX_ITEMS for value in values):
                _size_exceeded()


def _int_too_big() -> NoReturn:
    _forbid(f"Boyut sınırı aşıldı: tamsayı en fazla {MAX_INT_BITS} bit olabilir")


def _check_mul(a: Any, b: Any) -> None:
    if isinstance(a, int) and isinstance(b, int):
        if a.bit_length() + b.bit_length() > MAX_INT_BITS:
            _int_too_big()
    elif isinstance(a, _SEQUENCES) and isinstance(b, int):
        if len(a) * b > MAX_ITEMS:
            _size_exceeded()
    elif isinstance(b, _SEQUENCES) and isinstance(a, int) and len(b) * a > MAX_ITEMS:
        _size_exceeded()


def _check_pow(base: Any, exponent: Any) -> None:
    if not (isinstance(base, int) and isinstance(exponent, int) and exponent > 1 and abs(base) > 1):
        return
    # |base| >= 2, so the result has at least `exponent` bits; testing that first keeps the
    # float multiplication from overflowing.
    if exponent > MAX_INT_BITS or exponent * math.log2(abs(base)) > MAX_INT_BITS:
        _int_too_big()


def _check_lshift(a: Any, b: Any) -> None:
    if isinstance(a, int) and isinstance(b, int) and b > 0 and (b > MAX_INT_BITS or a.bit_length() + b > MAX_INT_BITS):
        _int_too_big()


def _check_mod(a: Any, b: Any) -> None:
    if isinstance(a, (str, bytes)):
        _check_percent_format(a, b)


def _checked(check: Callable[[Any, Any], None], op: Callable[[Any, Any], Any]) -> Callable[[Any, Any], Any]:
    def run(a: Any, b: Any) -> Any:
        check(a, b)
        return op(a, b)

    return run


_INPLACE_OPERATORS: Final[dict[str, Callable[[Any, Any], Any]]] = {
    "+=": operator.iadd,
    "-=": operator.isub,
    "*=": _checked(_check_mul, operator.imul),
    "/=": operator.itruediv,
    "//=": operator.ifloordiv,
    "%=": _checked(_check_mod, operator.imod),
    "**=": _checked(_check_pow, operator.ipow),
    "<<=": _checked(_check_lshift, operator.ilshift),
    ">>=": operator.irshift,
    "&=": operator.iand,
    "|=": operator.ior,
    "^=": operator.ixor,
    "@=": operator.imatmul,
}


def _inplace(op: str, target: Any, value: Any) -> Any:
    """``target op= value`` (RestrictedPython rewrites ``x += 1`` to ``x = _inplacevar_(...)``)."""
    return _INPLACE_OPERATORS[op](target, value)


def _augmented_item(container: Any, key: Any, op: str, value: Any) -> None:
    """``container[key] op= value``; ``container`` already passed the write guard."""
    container[key] = _inplace(op, container[key], value)


def _guarded_write(obj: Any) -> Any:
    """The target of ``obj[k] = v``, ``del obj[k]`` and ``obj.a = v``: only lists and dicts."""
    if isinstance(obj, (dict, list)):
        return obj
    _forbid(f"{FORBIDDEN}: yalnızca liste ve sözlük öğeleri değiştirilebilir")


def _except_guard(spec: Any) -> Any:
    """The class(es) of an ``except`` clause must derive from Exception, never BaseException."""
    for item in spec if isinstance(spec, tuple) else (spec,):
        if not (isinstance(item, type) and issubclass(item, Exception)):
            _forbid(f"{FORBIDDEN}: yalnızca Exception türevi hatalar yakalanabilir; {CATCH_HINT}")
    return spec


def _apply(function: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    return function(*args, **kwargs)


class _NullPrinter:
    """Target of ``print`` in scripts: there is no console, so output is discarded."""

    def __init__(self, _getattr: object = None) -> None:
        pass

    def _call_print(self, *objects: object, **kwargs: object) -> None:
        pass

    def __call__(self) -> str:
        return ""


def _capped_range(*args: int) -> range:
    result = range(*args)
    try:
        too_long = len(result) > MAX_ITEMS
    except OverflowError:  # longer than sys.maxsize
        too_long = True
    if too_long:
        _size_exceeded()
    return result


def _capped_pow(base: Any, exponent: Any, mod: Any = None) -> Any:
    if mod is None:
        _check_pow(base, exponent)
    return pow(base, exponent, mod)


class _DecimalType(type):
    """Metaclass of the sandbox's ``Decimal``: isinstance and issubclass answer as for the real one."""

    def __instancecheck__(cls, obj: object) -> bool:
        return isinstance(obj, Decimal)

    def __subclasscheck__(cls, subclass: type) -> bool:
        return issubclass(subclass, Decimal)


class _SandboxDecimal(metaclass=_DecimalType):
    """``Decimal`` as scripts see it: refuses values above 10**MAX_DECIMAL_EXPONENT.

    Construction is exact and ignores the context, so the bound is checked here; arithmetic
    results are bounded by the context ``_run`` installs.
    """

    def __new__(cls, value: Any = "0") -> Decimal:  # type: ignore[misc]
        result = Decimal(value)
        if result.is_finite() and result.adjusted() > MAX_DECIMAL_EXPONENT:
            _forbid(f"Boyut sınırı aşıldı: ondalık sayı en fazla 10**{MAX_DECIMAL_EXPONENT} olabilir")
        return result


# C functions that iterate and call back into C can loop without a single trace event when the
# callback grows the list being read: max(x, key=x.append), x.extend(zip(x)). Their iterables go
# through this generator, compiled under the sandbox's file name so the tracer times it.
_TIMED_ITER_SOURCE: Final = "def timed_iter(iterable):\n    for item in iterable:\n        yield item\n"
_TIMED_ITER_FILENAME: Final = "<kalem-timed-iter>"


def _make_timed_iter() -> Callable[[Any], Iterator[Any]]:
    namespace: dict[str, Any] = {}
    exec(compile(_TIMED_ITER_SOURCE, _TIMED_ITER_FILENAME, "exec"), namespace)
    return namespace["timed_iter"]


_timed_iter: Final = _make_timed_iter()


def _timed_zip(*iterables: Any, strict: bool = False) -> Iterator[tuple[Any, ...]]:
    return zip(*(_timed_iter(iterable) for iterable in iterables), strict=strict)


def _timed_enumerate(iterable: Any, start: int = 0) -> Iterator[tuple[int, Any]]:
    return enumerate(_timed_iter(iterable), start)


def _timed_extremum(function: Callable[..., Any]) -> Callable[..., Any]:
    def call(*args: Any, **kwargs: Any) -> Any:
        if len(args) == 1:  # min(iterable, key=...), not min(a, b)
            args = (_timed_iter(args[0]),)
        return function(*args, **kwargs)

    return call


_SUMMABLE_STARTS: Final = (int, float, Decimal, timedelta)


def _numeric_sum(iterable: Any, /, start: Any = 0) -> Any:
    # sum() with a list or tuple start concatenates in C, quadratically and untimed.
    if not isinstance(start, _SUMMABLE_STARTS):
        _forbid(f"{FORBIDDEN}: sum() yalnızca sayıları ve süreleri toplayabilir")
    return sum(iterable, start)


# C functions such as date.today() and datetime.strptime() import through the builtins of the
# calling frame; sandboxed code itself cannot name __import__ (rejected at compile time).
_C_LEVEL_IMPORTS: Final = frozenset({"time", "_strptime"})


def _import_for_c_code(
    name: str,
    globals_: Mapping[str, Any] | None = None,
    locals_: Mapping[str, Any] | None = None,
    fromlist: Sequence[str] = (),
    level: int = 0,
) -> types.ModuleType:
    if level != 0 or name not in _C_LEVEL_IMPORTS:
        _forbid(IMPORT_MESSAGE)
    return builtins.__import__(name, globals_, locals_, fromlist, level)


def _refuse(name: str) -> Callable[..., NoReturn]:
    def refused(*args: object, **kwargs: object) -> NoReturn:
        _forbid(f"{FORBIDDEN}: '{name}' kullanılamaz")

    return refused


# Called by name these are rejected at compile time; referenced otherwise (``f = open``) they
# resolve to a stub that refuses, so the message is the same.
_REFUSED_BUILTINS: Final = (
    "breakpoint", "compile", "delattr", "dir", "eval", "exec", "exit", "getattr", "globals", "hasattr", "help",
    "input", "locals", "memoryview", "open", "quit", "setattr", "super", "type", "vars",
)  # fmt: skip

_EXCEPTIONS: Final = (
    ArithmeticError, AssertionError, AttributeError, Exception, IndexError, KeyError, LookupError, NameError,
    NotImplementedError, OverflowError, RuntimeError, StopIteration, TypeError, ValueError, ZeroDivisionError,
)  # fmt: skip

_BUILTINS: Final[dict[str, Any]] = {
    "abs": abs, "all": all, "any": any, "bool": bool, "chr": chr, "dict": dict, "divmod": divmod,
    "enumerate": _timed_enumerate, "float": float, "frozenset": frozenset, "int": int,
    "isinstance": isinstance, "len": len, "list": list, "max": _timed_extremum(max),
    "min": _timed_extremum(min), "ord": ord, "pow": _capped_pow, "range": _capped_range,
    "repr": repr, "reversed": reversed, "round": round, "set": set, "sorted": sorted, "str": str,
    "sum": _numeric_sum, "tuple": tuple, "zip": _timed_zip,
    "Decimal": _SandboxDecimal, "date": date, "datetime": datetime, "timedelta": timedelta,
    **{cls.__name__: cls for cls in _EXCEPTIONS},
    **{name: _refuse(name) for name in _REFUSED_BUILTINS},
    "__import__": _import_for_c_code,
}  # fmt: skip

# Names the compiled code refers to; RestrictedPython's transformer emits the first group,
# _SandboxPolicy the second.
_GUARDS: Final[dict[str, Any]] = {
    "_getattr_": _guarded_getattr,
    "_getitem_": operator.getitem,
    "_getiter_": iter,
    "_iter_unpack_sequence_": guarded_iter_unpack_sequence,
    "_unpack_sequence_": guarded_unpack_sequence,
    "_write_": _guarded_write,
    "_inplacevar_": _inplace,
    "_apply_": _apply,
    "_print_": _NullPrinter,
    "_except_guard_": _except_guard,
    "_tick_": None,
    "_augitem_": _augmented_item,
    "_format_value_": _format_value,
    "_mul_": _checked(_check_mul, operator.mul),
    "_pow_": _checked(_check_pow, operator.pow),
    "_lshift_": _checked(_check_lshift, operator.lshift),
    "_mod_": _checked(_check_mod, operator.mod),
}
_RESERVED_NAMES: Final = frozenset({"__builtins__", *_GUARDS})


# --- compile-time policy -------------------------------------------------------------------

_FORBIDDEN_CALLS: Final[dict[str, str]] = {
    "__import__": IMPORT_MESSAGE,
    **{name: f"{FORBIDDEN}: '{name}' kullanılamaz" for name in _REFUSED_BUILTINS},
}
# Catching these would also catch ScriptTimeout or stop generators and interpreter exits.
_UNCATCHABLE: Final = frozenset({"BaseException", "GeneratorExit", "KeyboardInterrupt", "SystemExit"})
_GUARDED_BINOPS: Final[dict[type[ast.operator], str]] = {
    ast.Mult: "_mul_",
    ast.Pow: "_pow_",
    ast.LShift: "_lshift_",
    ast.Mod: "_mod_",
}


def _call(name: str, args: list[ast.expr], location: ast.AST) -> ast.Call:
    node = ast.Call(func=ast.Name(name, ast.Load()), args=args, keywords=[])
    copy_locations(node, location)
    return node


class _SandboxPolicy(RestrictingNodeTransformer):
    """RestrictedPython's policy, stricter (see the module docstring) and with Turkish messages.

    (``ast.NodeTransformer`` dispatches on ``visit_<NodeClass>``, hence the N802 exemptions.)
    """

    def _reject(self, node: ast.AST, message: str) -> None:
        RestrictingNodeTransformer.error(self, node, message)

    def error(self, node: ast.AST, info: str) -> None:
        # Only RestrictedPython's own (English) findings arrive here; ours use _reject.
        self._reject(node, f"{FORBIDDEN}: {info}")

    def not_allowed(self, node: ast.AST) -> None:
        self._reject(node, f"{FORBIDDEN}: {type(node).__name__} kullanılamaz")

    def check_name(self, node: Any, name: str | None, allow_magic_methods: bool = False) -> None:
        if name is None or name == "_":
            return
        if name.startswith("_"):
            self._reject(node, f"Alt çizgiyle başlayan adlar kullanılamaz: {name}")
        elif name in FORBIDDEN_FUNC_NAMES or name.endswith("__roles__"):
            self._reject(node, f"Ayrılmış ad kullanılamaz: {name}")

    def visit_Import(self, node: ast.Import) -> ast.AST:  # noqa: N802
        self._reject(node, IMPORT_MESSAGE)
        return node

    def visit_ImportFrom(self, node: ast.ImportFrom) -> ast.AST:  # noqa: N802
        self._reject(node, IMPORT_MESSAGE)
        return node

    def visit_ClassDef(self, node: ast.ClassDef) -> ast.AST:  # noqa: N802
        self._reject(node, f"{FORBIDDEN}: sınıf tanımı (class) kullanılamaz")
        return node

    def visit_With(self, node: ast.With) -> ast.AST:  # noqa: N802
        self._reject(node, f"{FORBIDDEN}: 'with' bloğu kullanılamaz")
        return node

    def visit_Call(self, node: ast.Call) -> Any:  # noqa: N802
        if isinstance(node.func, ast.Name) and node.func.id in _FORBIDDEN_CALLS:
            self._reject(node, _FORBIDDEN_CALLS[node.func.id])
            return node
        return super().visit_Call(node)

    def visit_Attribute(self, node: ast.Attribute) -> Any:  # noqa: N802
        if node.attr.startswith("_"):
            message = f"Alt çizgiyle başlayan özniteliklere erişilemez: {node.attr}"
        elif node.attr in _BLOCKED_ATTRIBUTES or node.attr.endswith("__roles__"):
            message = f"{FORBIDDEN}: '{node.attr}' özniteliğine erişilemez"
        else:
            return super().visit_Attribute(node)
        self.node_contents_visit(node)  # report `().__class__` before `.__base__` in a chain
        self._reject(node, message)
        return node

    def visit_Try(self, node: ast.Try) -> Any:  # noqa: N802
        if node.finalbody:
            self._reject(node.finalbody[0], f"{FORBIDDEN}: 'finally' bloğu kullanılamaz")
        return super().visit_Try(node)

    def visit_ExceptHandler(self, node: ast.ExceptHandler) -> Any:  # noqa: N802
        if node.type is None:
            self._reject(node, f"{FORBIDDEN}: çıplak 'except:' kullanılamaz; {CATCH_HINT}")
            return node
        names = node.type.elts if isinstance(node.type, ast.Tuple) else [node.type]
        if not all(isinstance(name, ast.Name) for name in names):
            self._reject(node, f"{FORBIDDEN}: 'except' yalnızca hata sınıfı adlarıyla kullanılabilir")
            return node
        for name in names:
            if isinstance(name, ast.Name) and name.id in _UNCATCHABLE:
                self._reject(node, f"{FORBIDDEN}: '{name.id}' yakalanamaz; {CATCH_HINT}")
                return node
        node = super().visit_ExceptHandler(node)
        # Only names may appear, so evaluating the clause runs no sandboxed code even after
        # the tracer fired; the guard then checks what the names are bound to.
        node.type = _call("_except_guard_", [node.type], node.type)
        return node

    def visit_While(self, node: ast.While) -> Any:  # noqa: N802
        node = super().visit_While(node)
        # A loop whose body compiles to nothing (`while True: pass`, `continue`, dead `if 0:`)
        # is a jump to itself, which raises no trace event. Loading a name first makes every
        # iteration a backward jump to an earlier instruction, and those are traced.
        tick = ast.Expr(ast.Name("_tick_", ast.Load()))
        copy_locations(tick, node)
        node.body.insert(0, tick)
        return node

    def visit_BinOp(self, node: ast.BinOp) -> Any:  # noqa: N802
        node = self.node_contents_visit(node)
        guard = _GUARDED_BINOPS.get(type(node.op))
        return node if guard is None else _call(guard, [node.left, node.right], node)

    def visit_AugAssign(self, node: ast.AugAssign) -> Any:  # noqa: N802
        if isinstance(node.target, ast.Attribute):
            self._reject(node, f"{FORBIDDEN}: özniteliklere artırımlı atama yapılamaz")
            return node
        if not isinstance(node.target, ast.Subscript):
            return super().visit_AugAssign(node)  # names: x = _inplacevar_('+=', x, value)
        if isinstance(node.target.slice, ast.Slice):
            self._reject(node, f"{FORBIDDEN}: dilimlere artırımlı atama yapılamaz")
            return node
        node = self.node_contents_visit(node)  # the target becomes _write_(container)[key]
        target = node.target
        assert isinstance(target, ast.Subscript)
        op = ast.Constant(IOPERATOR_TO_STR[type(node.op)])
        statement = ast.Expr(_call("_augitem_", [target.value, target.slice, op, node.value], node))
        copy_locations(statement, node)
        return statement

    def visit_FormattedValue(self, node: ast.FormattedValue) -> Any:  # noqa: N802
        node = self.node_contents_visit(node)
        if node.format_spec is None:
            return node
        # f'{x!r:>{n}}' becomes f'{_format_value_(x, conversion, f">{n}")}' so the spec is checked.
        value = _call("_format_value_", [node.value, ast.Constant(node.conversion), node.format_spec], node)
        formatted = ast.FormattedValue(value=value, conversion=-1, format_spec=None)
        copy_locations(formatted, node)
        return formatted


# --- compiling -----------------------------------------------------------------------------


class _Rejection(NamedTuple):
    message: str
    lineno: int | None


_RP_ERROR = re.compile(r"Line (\d+): (.*)", re.DOTALL)


@lru_cache(maxsize=2048)
def _compile_cached(source: str, mode: Mode) -> types.CodeType | _Rejection:
    """Compile once per source text; shared by all engines (they are re-created on every load)."""
    try:
        tree = ast.parse(source, SANDBOX_FILENAME, mode)
        compile_restricted = compile_restricted_exec if mode == "exec" else compile_restricted_eval
        result = compile_restricted(tree, filename=SANDBOX_FILENAME, policy=_SandboxPolicy)
    except SyntaxError as err:  # also raised by compile() itself, e.g. 'return' outside a function
        return _Rejection(f"Sözdizimi hatası: {err.msg}", err.lineno)
    except (ValueError, RecursionError, MemoryError) as err:  # null bytes, absurd nesting
        return _Rejection(f"Sözdizimi hatası: {err}", None)
    if result.errors:
        match = _RP_ERROR.fullmatch(result.errors[0])
        if match is None:
            return _Rejection(result.errors[0], None)
        return _Rejection(match.group(2), int(match.group(1)))
    assert result.code is not None
    return result.code


def _compile(source: str | None, mode: Mode) -> types.CodeType:
    # Script bodies from BPMN XML are often indented as a block; expressions carry stray spaces.
    text = textwrap.dedent(source or "") if mode == "exec" else (source or "").strip()
    compiled = _compile_cached(text, mode)
    if isinstance(compiled, _Rejection):
        raise ScriptRejected(compiled.message, compiled.lineno)
    return compiled


def check_script(source: str) -> None:
    """Compile a script task body in the sandbox; raise ScriptRejected if it cannot run there."""
    _compile(source, "exec")


def check_expression(source: str) -> None:
    """Compile an expression (condition, timer, candidateGroups ...) in the sandbox."""
    _compile(source, "eval")


# --- running -------------------------------------------------------------------------------


_TIMED_FILENAMES: Final = frozenset({SANDBOX_FILENAME, _TIMED_ITER_FILENAME})


def _deadline_tracer(deadline: float, message: str) -> TraceFunction:
    def trace(frame: types.FrameType, event: str, arg: Any) -> TraceFunction | None:
        filename = frame.f_code.co_filename
        if filename not in _TIMED_FILENAMES:
            return None  # trusted code (helpers, guards) is neither traced nor interrupted
        if event in ("call", "line") and time.monotonic() > deadline:
            # In the timed iterator the script line is found in the traceback instead.
            raise ScriptTimeout(message, frame.f_lineno if filename == SANDBOX_FILENAME else None)
        return trace

    return trace


def _run(code: types.CodeType, scope: dict[str, Any], time_limit: float, kind: str) -> Any:
    limit = f"{time_limit:g}".replace(".", ",")
    tracer = _deadline_tracer(time.monotonic() + time_limit, f"Süre sınırı aşıldı: {kind} {limit} saniyeden uzun sürdü")
    previous = sys.gettrace()
    # Decimal arithmetic overflows past MAX_DECIMAL_EXPONENT, matching _SandboxDecimal.
    with localcontext(Emax=MAX_DECIMAL_EXPONENT):
        sys.settrace(tracer)
        try:
            return eval(code, scope)  # also runs 'exec'-mode code objects (and returns None)
        except _Forbidden as err:
            raise ScriptFailed(err.message, _error_lineno(err)) from err
        except ScriptTimeout as err:
            err.lineno = _error_lineno(err)
            raise
        finally:
            sys.settrace(previous)


def _is_transient(value: object) -> bool:
    """Functions, classes, modules, iterators: not data, so not kept in task data."""
    return callable(value) or isinstance(value, (types.ModuleType, Iterator))


class SandboxEnvironment(BasePythonScriptEngineEnvironment):
    """A Spiff script environment running sources through the sandbox.

    ``self.globals`` (Spiff's name) holds the helpers. Code runs on a deep copy of the data, so a
    failed or timed-out run leaves the task data untouched.
    """

    globals: dict[str, Callable[..., Any]]

    def __init__(
        self,
        helpers: Mapping[str, Callable[..., Any]] | None = None,
        time_limit: float = DEFAULT_TIME_LIMIT,
    ) -> None:
        helpers = dict(helpers or {})
        for name in helpers:
            if not name.isidentifier() or name.startswith("_"):
                raise ValueError(f"invalid helper name: {name!r}")
        if not time_limit > 0:
            raise ValueError(f"time_limit must be positive, got {time_limit!r}")
        super().__init__(helpers)
        self.time_limit = time_limit

    def _scope(self, context: Mapping[str, Any], external_context: Mapping[str, Any] | None) -> dict[str, Any]:
        names = context.keys() | (external_context or {}).keys()
        clashes = sorted(names & self.globals.keys())
        if clashes:
            raise ScriptFailed(
                f"Süreç verisindeki şu adlar yardımcı fonksiyonlarla çakışıyor: {', '.join(clashes)}; "
                "lütfen alanları yeniden adlandırın"
            )
        scope = copy.deepcopy({**(external_context or {}), **context})
        scope.update(self.globals)
        scope.update(_GUARDS)
        scope["__builtins__"] = _BUILTINS
        return scope

    def run_expression(
        self, expression: str, context: Mapping[str, Any], external_context: Mapping[str, Any] | None = None
    ) -> Any:
        """Evaluate ``expression``; raises ScriptRejected, ScriptFailed, ScriptTimeout or the code's error."""
        code = _compile(expression, "eval")
        return _run(code, self._scope(context, external_context), self.time_limit, "ifade")

    def run_script(
        self, script: str, context: dict[str, Any], external_context: Mapping[str, Any] | None = None
    ) -> None:
        """Execute ``script`` and update ``context`` with its variables only if it succeeds."""
        code = _compile(script, "exec")
        scope = self._scope(context, external_context)
        _run(code, scope, self.time_limit, "betik")
        data = self._data_after(scope, context, external_context or {})
        context.clear()
        context.update(data)

    # Spiff's interface. Spiff also calls these directly, outside the engine's error wrapping
    # (process data outputs, completion conditions, message correlation), and it and its callers
    # catch Exception: a timeout therefore leaves here as ScriptFailed, caused by ScriptTimeout.

    def evaluate(
        self, expression: str, context: Mapping[str, Any], external_context: Mapping[str, Any] | None = None
    ) -> Any:
        try:
            return self.run_expression(expression, context, external_context)
        except ScriptTimeout as err:
            raise ScriptFailed(err.message, err.lineno) from err

    def execute(self, script: str, context: dict[str, Any], external_context: Mapping[str, Any] | None = None) -> bool:
        try:
            self.run_script(script, context, external_context)
        except ScriptTimeout as err:
            raise ScriptFailed(err.message, err.lineno) from err
        return True

    def _data_after(
        self, scope: dict[str, Any], before: Mapping[str, Any], external: Mapping[str, Any]
    ) -> dict[str, Any]:
        """The task data a finished script leaves: its variables minus helpers and machinery."""
        for name, helper in self.globals.items():
            if scope.get(name) is not helper:
                raise ScriptFailed(f"'{name}' bir yardımcı fonksiyonun adı; betikte değişken adı olarak kullanılamaz")
        data: dict[str, Any] = {}
        for key, value in scope.items():
            if key in _RESERVED_NAMES or key in self.globals or _is_transient(value):
                continue
            # Underscore names cannot be written by scripts: new ones are RestrictedPython's
            # temporaries. Data objects passed in as external context stay out of task data.
            if key not in before and (key.startswith("_") or key in external):
                continue
            data[key] = value
        for key in _RESERVED_NAMES & before.keys():  # shadowed by the machinery, never changed
            data[key] = before[key]
        return data


class SandboxedScriptEngine(PythonScriptEngine):
    """A SpiffWorkflow script engine whose scripts and expressions run in the sandbox.

    Every failure surfaces as Spiff's ``WorkflowTaskException`` carrying the Turkish
    explanation, caused by the original (ScriptRejected, ScriptFailed, ZeroDivisionError ...);
    a timeout is a ScriptFailed caused by the ScriptTimeout.
    """

    environment: SandboxEnvironment

    def __init__(
        self,
        helpers: Mapping[str, Callable[..., Any]] | None = None,
        time_limit: float = DEFAULT_TIME_LIMIT,
    ) -> None:
        super().__init__(environment=SandboxEnvironment(helpers, time_limit))

    def evaluate(self, task: Any, expression: str, external_context: Mapping[str, Any] | None = None) -> Any:
        try:
            return self.environment.evaluate(expression, task.data, external_context)
        except SpiffWorkflowException as err:
            err.add_note(f"'{expression}' ifadesi değerlendirilirken")
            raise
        except Exception as err:
            message = f"İfade değerlendirilemedi: '{expression}': {_describe(err)}"
            raise WorkflowTaskException(message, task=task, exception=err) from err

    def execute(self, task: Any, script: str, external_context: Mapping[str, Any] | None = None) -> bool:
        try:
            return self.environment.execute(script, task.data, external_context)
        except Exception as err:
            raise self.create_task_exec_exception(task, script, err) from err

    def create_task_exec_exception(self, task: Any, script: str, err: BaseException) -> Exception:
        if isinstance(err, SpiffWorkflowException):
            return super().create_task_exec_exception(task, script, err)
        line_number, error_line = self.get_error_line_number_and_content(script, err)
        return WorkflowTaskException(
            f"Betik çalıştırılamadı: {_describe(err)}",
            task=task,
            exception=err,
            line_number=line_number,
            error_line=error_line,
        )

    def get_error_line_number_and_content(self, script: str, err: BaseException) -> tuple[int, str]:
        # Spiff's version looks for '<string>' frames and crashes on a SyntaxError without lineno.
        line_number = _error_lineno(err) or 0
        lines = textwrap.dedent(script or "").splitlines()
        error_line = lines[line_number - 1] if 0 < line_number <= len(lines) else ""
        return line_number, error_line


def make_script_engine(
    helpers: Mapping[str, Callable[..., Any]] | None = None,
    time_limit: float = DEFAULT_TIME_LIMIT,
) -> PythonScriptEngine:
    """A sandboxed Spiff script engine; ``helpers`` become globals of scripts and expressions.

    Cheap to create (compiled code is cached at module level), so callers attach a new one
    after every workflow load.
    """
    return SandboxedScriptEngine(helpers, time_limit)


def evaluate(
    expression: str,
    data: Mapping[str, Any],
    helpers: Mapping[str, Callable[..., Any]] | None = None,
    time_limit: float = DEFAULT_TIME_LIMIT,
) -> Any:
    """Evaluate ``expression`` against ``data`` (never mutated) outside Spiff.

    Raises ScriptRejected (does not compile), ScriptTimeout, or ScriptFailed (any other error).
    """
    environment = SandboxEnvironment(helpers, time_limit)
    try:
        return environment.run_expression(expression, data)
    except (ScriptRejected, ScriptFailed):
        raise
    except Exception as err:
        message = f"İfade hesaplanamadı: {type(err).__name__}: {err}"
        raise ScriptFailed(message, _error_lineno(err)) from err
