"""Field types: a registry (name → class) and the built-in types.

A type knows how to turn a submitted value — a string from an HTML form or a JSON value from the API — into its
normalised, JSON-safe stored value (:meth:`FieldType.parse`), how to check it against the field's constraints
(:meth:`FieldType.check`), and which attributes a definition may give it (:meth:`FieldType.problems`). Adding a type
is one class decorated with :func:`register`; a second class under the same name is rejected on import.

Problems with a value raise :class:`InvalidValue` carrying a machine-readable code and an English msgid with
``{placeholders}``; the UI translates it (see :class:`FieldError`).
"""
from __future__ import annotations

import datetime as dt
import math
import re
import unicodedata
from dataclasses import dataclass, field
from typing import Any, ClassVar

from forms.expressions import KEY_RE, compile_expression, round_half_up


def _(s: str) -> str:
    """Marks an English msgid for extraction; translation happens in the UI (forms/ has no Flask)."""
    return s


MAX_INT = 10 ** 12          # sanity bound on numbers, whatever the field's own range
MAX_TEXT = 10_000


class RegistryError(RuntimeError):
    pass


class InvalidValue(ValueError):
    def __init__(self, code: str, message: str, **params):
        super().__init__(code)
        self.code, self.message, self.params = code, message, params


@dataclass(frozen=True)
class FieldError:
    """One problem: with a field (``field``) or a cross-field rule (``rule`` and the ``fields`` it concerns).

    ``message`` is an English msgid with ``{placeholders}`` filled from ``params``; a rule's message comes from the
    definition as ``text`` (a string or a ``{locale: text}`` dict).
    """

    field: str | None
    code: str
    message: str
    params: dict = field(default_factory=dict)
    rule: str | None = None
    fields: tuple[str, ...] = ()
    text: Any = None

    def render(self, locale: str = "ro", gettext=None) -> str:
        from forms.definitions import localize
        template = localize(self.text, locale) if self.text is not None else (gettext or _)(self.message)
        try:
            return template.format(**self.params)
        except (KeyError, IndexError, ValueError):
            return template

    def to_dict(self, locale: str | None = None, gettext=None) -> dict:
        d = {"field": self.field, "code": self.code, "message": self.message, "params": dict(self.params)}
        if self.rule:
            d.update(rule=self.rule, fields=list(self.fields))
        if locale:
            d["text"] = self.render(locale, gettext)
        return d


_REGISTRY: dict[str, type[FieldType]] = {}


def register(cls: type[FieldType]) -> type[FieldType]:
    """Class decorator: add a field type under ``cls.name``; a duplicate name is an error."""
    name = getattr(cls, "name", None)
    if not isinstance(name, str) or not KEY_RE.match(name) or "." in name:
        raise RegistryError(f"field type {cls.__name__} needs a simple lower-case name, got {name!r}")
    if name in _REGISTRY and _REGISTRY[name] is not cls:
        raise RegistryError(f"field type {name!r} is already registered by {_REGISTRY[name].__qualname__}")
    _REGISTRY[name] = cls
    return cls


def unregister(name: str) -> None:
    """For tests that register throw-away types."""
    _REGISTRY.pop(name, None)


def get_type(name: str) -> FieldType:
    try:
        return _REGISTRY[name]()
    except KeyError:
        raise KeyError(f"unknown field type {name!r}") from None


def type_names() -> list[str]:
    return sorted(_REGISTRY)


# --- base --------------------------------------------------------------------------------------------------

# Attributes every field may carry; a type lists its own extra ones in ``attributes``.
COMMON_ATTRIBUTES = frozenset({"key", "type", "label", "help", "required", "required_if", "default", "unit"})


class FieldType:
    name: ClassVar[str] = ""
    attributes: ClassVar[frozenset[str]] = frozenset()
    input: ClassVar[bool] = True          # False for computed fields: never submitted, always derived
    uses_choices: ClassVar[bool] = False
    # A freely typed value (text, a date) could identify a pupil; class tables hold only counts and choices.
    free_form: ClassVar[bool] = False

    def problems(self, spec: dict) -> list[str]:
        """What is wrong with this field's attributes in a definition (empty when fine)."""
        unknown = set(spec) - COMMON_ATTRIBUTES - self.attributes
        return [f"unknown attribute {a!r}" for a in sorted(unknown)]

    def parse(self, spec: dict, raw: Any) -> Any:
        """Submitted value → normalised value, or None when empty. Raises InvalidValue."""
        raise NotImplementedError

    def check(self, spec: dict, value: Any, choices: list | None = None) -> Any:
        """Constraints on a parsed, non-empty value; returns the (possibly reordered) value. Raises InvalidValue."""
        return value


def _blank(raw) -> bool:
    return raw is None or (isinstance(raw, str) and not raw.strip())


def _number_problems(spec: dict, integer: bool) -> list[str]:
    out = []
    for a in ("min", "max"):
        v = spec.get(a)
        if v is not None and (isinstance(v, bool) or not isinstance(v, int | float)
                              or (integer and not float(v).is_integer())):
            out.append(f"{a} must be {'an integer' if integer else 'a number'}")
    lo, hi = spec.get("min"), spec.get("max")
    if not out and lo is not None and hi is not None and lo > hi:
        out.append("min is greater than max")
    return out


def _check_range(spec: dict, value) -> None:
    lo, hi = spec.get("min"), spec.get("max")
    if lo is not None and value < lo:
        raise InvalidValue("min", _("Must be at least {min}."), min=lo)
    if hi is not None and value > hi:
        raise InvalidValue("max", _("Must be at most {max}."), max=hi)


_SPACES = re.compile(r"[\s\u00a0\u202f']")   # "1 234", "1'234", non-breaking spaces
_DECIMAL = re.compile(r"[+-]?([0-9]{1,15}([.,][0-9]{0,9})?|[.,][0-9]{1,9})")   # "12,5" or "12.5", ASCII digits


# --- built-in types ----------------------------------------------------------------------------------------

@register
class TextType(FieldType):
    name = "text"
    attributes = frozenset({"max_length", "multiline"})
    free_form = True

    def problems(self, spec):
        out = super().problems(spec)
        ml = spec.get("max_length")
        if ml is not None and (isinstance(ml, bool) or not isinstance(ml, int) or not 1 <= ml <= MAX_TEXT):
            out.append(f"max_length must be an integer 1..{MAX_TEXT}")
        return out

    def parse(self, spec, raw):
        if raw is None:
            return None
        if isinstance(raw, bool) or not isinstance(raw, str | int | float):
            raise InvalidValue("invalid", _("Enter text."))
        text = unicodedata.normalize("NFC", str(raw)).replace("\r\n", "\n").replace("\r", "\n")
        text = "".join(c for c in text if c in "\n\t" or unicodedata.category(c)[0] != "C")
        if not spec.get("multiline"):
            text = " ".join(text.split())
        text = text.strip()
        return text or None

    def check(self, spec, value, choices=None):
        limit = spec.get("max_length") or 2000
        if len(value) > limit:
            raise InvalidValue("max_length", _("At most {max_length} characters."), max_length=limit)
        return value


YES = frozenset({"yes", "da", "true", "1", "on", "y"})
NO = frozenset({"no", "nu", "false", "0", "off", "n"})


@register
class YesNoType(FieldType):
    name = "yesno"

    def parse(self, spec, raw):
        if _blank(raw):
            return None
        if isinstance(raw, bool):
            return raw
        if isinstance(raw, int) and raw in (0, 1):
            return bool(raw)
        if isinstance(raw, str):
            s = raw.strip().lower()
            if s in YES:
                return True
            if s in NO:
                return False
        raise InvalidValue("invalid", _("Choose yes or no."))


@register
class IntegerType(FieldType):
    name = "integer"
    attributes = frozenset({"min", "max"})

    def problems(self, spec):
        return super().problems(spec) + _number_problems(spec, integer=True)

    def parse(self, spec, raw):
        if _blank(raw):
            return None
        if isinstance(raw, bool):
            raise InvalidValue("invalid", _("Enter a whole number."))
        if isinstance(raw, float):
            if not math.isfinite(raw) or not raw.is_integer():
                raise InvalidValue("invalid", _("Enter a whole number."))
            raw = int(raw)
        if isinstance(raw, str):
            s = _SPACES.sub("", raw)
            if not re.fullmatch(r"[+-]?[0-9]{1,15}", s):
                raise InvalidValue("invalid", _("Enter a whole number."))
            raw = int(s)
        if not isinstance(raw, int):
            raise InvalidValue("invalid", _("Enter a whole number."))
        if abs(raw) > MAX_INT:
            raise InvalidValue("out_of_range", _("The number is too large."))
        return raw

    def check(self, spec, value, choices=None):
        _check_range(spec, value)
        return value


@register
class DecimalType(FieldType):
    name = "decimal"
    attributes = frozenset({"min", "max", "decimals"})

    def problems(self, spec):
        out = super().problems(spec) + _number_problems(spec, integer=False)
        d = spec.get("decimals")
        if d is not None and (isinstance(d, bool) or not isinstance(d, int) or not 0 <= d <= 6):
            out.append("decimals must be an integer 0..6")
        return out

    def parse(self, spec, raw):
        if _blank(raw):
            return None
        if isinstance(raw, bool):
            raise InvalidValue("invalid", _("Enter a number."))
        if isinstance(raw, str):
            s = _SPACES.sub("", raw)
            if s.count(",") + s.count(".") > 1 or not _DECIMAL.fullmatch(s):
                raise InvalidValue("invalid", _("Enter a number."))
            raw = float(s.replace(",", "."))
        if not isinstance(raw, int | float) or not math.isfinite(raw):
            raise InvalidValue("invalid", _("Enter a number."))
        if abs(raw) > MAX_INT:
            raise InvalidValue("out_of_range", _("The number is too large."))
        digits = spec.get("decimals")
        return round_half_up(raw, digits) if digits is not None else float(raw)

    def check(self, spec, value, choices=None):
        _check_range(spec, value)
        return value


@register
class DateType(FieldType):
    """A calendar date, stored as ISO ``YYYY-MM-DD``; accepts ``DD.MM.YYYY`` as typed in Romania."""

    name = "date"
    free_form = True

    def parse(self, spec, raw):
        if _blank(raw):
            return None
        if isinstance(raw, dt.datetime):
            raw = raw.date()
        if isinstance(raw, dt.date):
            return raw.isoformat()
        if isinstance(raw, str):
            s = raw.strip()
            for fmt in ("%Y-%m-%d", "%d.%m.%Y", "%d/%m/%Y"):
                try:
                    return dt.datetime.strptime(s, fmt).date().isoformat()
                except ValueError:
                    continue
        raise InvalidValue("invalid", _("Enter a date (dd.mm.yyyy)."))


class _ChoiceType(FieldType):
    attributes = frozenset({"choices", "nomenclature"})
    uses_choices = True

    def problems(self, spec):
        out = super().problems(spec)
        has_choices, has_nom = "choices" in spec, "nomenclature" in spec
        if has_choices == has_nom:
            return out + ["give either choices or a nomenclature"]
        if has_nom:
            if not isinstance(spec["nomenclature"], str) or not KEY_RE.match(spec["nomenclature"]):
                out.append("nomenclature must be a nomenclature key")
            return out
        choices = spec["choices"]
        if not isinstance(choices, list) or not choices:
            return out + ["choices must be a non-empty list"]
        seen = set()
        for c in choices:
            value = c.get("value") if isinstance(c, dict) else None
            if not isinstance(value, str) or not KEY_RE.match(value) or "." in value:
                out.append(f"choice value {value!r} must be a simple lower-case code")
            elif value in seen:
                out.append(f"duplicate choice {value!r}")
            elif "label" not in c:
                out.append(f"choice {value!r} has no label")
            seen.add(value)
        return out

    @staticmethod
    def _code(raw) -> str:
        if isinstance(raw, bool) or not isinstance(raw, str | int):
            raise InvalidValue("invalid", _("Not a valid choice."))
        return str(raw).strip()

    @staticmethod
    def _allowed(choices) -> list[str]:
        return [c.value if hasattr(c, "value") else c["value"] for c in (choices or [])]


@register
class SingleChoiceType(_ChoiceType):
    name = "single_choice"

    def parse(self, spec, raw):
        if _blank(raw):
            return None
        return self._code(raw)

    def check(self, spec, value, choices=None):
        if value not in self._allowed(choices):
            raise InvalidValue("choice", _("Not a valid choice."), value=value)
        return value


@register
class MultipleChoiceType(_ChoiceType):
    name = "multiple_choice"

    def parse(self, spec, raw):
        if _blank(raw):
            return None
        items = [raw] if isinstance(raw, str | int) and not isinstance(raw, bool) else raw
        if not isinstance(items, list | tuple | set | frozenset) or len(items) > 200:
            raise InvalidValue("invalid", _("Not a valid choice."))
        codes = []
        for item in items:
            if _blank(item):
                continue
            code = self._code(item)
            if code not in codes:
                codes.append(code)
        return codes or None

    def check(self, spec, value, choices=None):
        allowed = self._allowed(choices)
        bad = [v for v in value if v not in allowed]
        if bad:
            raise InvalidValue("choice", _("Not a valid choice: {value}."), value=", ".join(bad))
        return sorted(value, key=allowed.index)   # stored in the nomenclature's order


@register
class ComputedType(FieldType):
    """Derived from other fields by ``formula``; never typed in. ``decimals`` rounds a numeric result."""

    name = "computed"
    attributes = frozenset({"formula", "decimals"})
    input = False

    def problems(self, spec):
        out = super().problems(spec)
        if not isinstance(spec.get("formula"), str):
            out.append("a computed field needs a formula")
        out += [f"a computed field cannot have {a!r}" for a in ("required", "required_if", "default") if spec.get(a)]
        d = spec.get("decimals")
        if d is not None and (isinstance(d, bool) or not isinstance(d, int) or not 0 <= d <= 6):
            out.append("decimals must be an integer 0..6")
        return out

    def derive(self, spec: dict, env) -> Any:
        value = compile_expression(spec["formula"]).evaluate(env)
        if isinstance(value, float) and spec.get("decimals") is not None:
            value = round_half_up(value, spec["decimals"])
        if isinstance(value, float) and not math.isfinite(value):
            return None
        if value is None or isinstance(value, bool | int | float | str):
            return value
        return list(value) if isinstance(value, list | tuple) else None

    def parse(self, spec, raw):
        raise InvalidValue("read_only", _("This value is computed."))
