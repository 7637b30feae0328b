"""The forms engine's public surface: defaults, cleaning/validation and computed fields for a definition.

Values are a flat dict ``field key → JSON-safe value`` (``{"pupils": 25, "ethnicity.roma": 3, …}``); the context
is the class or unit parameters the formulas may read, as dotted keys (``{"class.pupils": 25}``) or nested dicts
(``{"class": {"pupils": 25}}``). :func:`class_context` / :func:`unit_context` / :func:`extended_context` build it
from tenant objects.

- :func:`generate_defaults` pre-fills a form from the context;
- :func:`clean` parses submitted values (HTML strings or JSON), checks them and returns normalised values with the
  computed fields, the errors, and (in draft mode) the broken rules as warnings; :func:`validate` returns only
  the errors. ``mode="draft"`` accepts incomplete data but refuses wrong types and out-of-range values;
  ``mode="submit"`` also enforces required fields and every cross-field rule;
- :func:`compute` adds the computed fields.
"""
from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from forms import nomenclatures as nomenclature_store
from forms.definitions import Choice, Definition, Field, localize
from forms.expressions import compile_expression, truth
from forms.fieldtypes import FieldError, InvalidValue, _

MODES = ("draft", "submit")
NomenclatureSource = Callable[[str], list[Choice]]


@dataclass
class Cleaned:
    values: dict                                  # normalised input values (None when empty) + computed fields
    errors: list[FieldError] = field(default_factory=list)
    warnings: list[FieldError] = field(default_factory=list)   # rules broken while still a draft

    @property
    def ok(self) -> bool:
        return not self.errors

    def errors_by_field(self) -> dict[str | None, list[FieldError]]:
        out: dict[str | None, list[FieldError]] = {}
        for e in self.errors:
            for k in (e.fields or (e.field,)):
                out.setdefault(k, []).append(e)
        return out


# --- context -----------------------------------------------------------------------------------------------

def flatten_context(context: Mapping | None) -> dict:
    """``{"class": {"pupils": 25}}`` → ``{"class.pupils": 25}``; dotted keys pass through; lists stay lists."""
    out: dict[str, Any] = {}

    def walk(prefix: str, value) -> None:
        if isinstance(value, Mapping):
            for k, v in value.items():
                walk(f"{prefix}.{k}" if prefix else str(k), v)
        else:
            out[prefix] = value

    for k, v in (context or {}).items():
        walk(str(k), v)
    return out


def class_context(school_class) -> dict:
    """The parameters of a class (``tenants.models.SchoolClass`` or anything with the same attributes)."""
    return {"class.pupils": school_class.pupils, "class.grade_level": school_class.grade_level,
            "class.teaching_language": school_class.teaching_language,
            "class.education_form": school_class.education_form, "class.combined": bool(school_class.combined),
            "class.building_id": school_class.building_id, "class.name": school_class.name}


def unit_context(unit, buildings: Iterable = (), classes: Iterable = ()) -> dict:
    """The parameters of a unit from its node, buildings and classes of the school year."""
    buildings, classes = list(buildings), list(classes)
    return {"unit.buildings": len(buildings), "unit.classrooms": sum(b.classrooms or 0 for b in buildings),
            "unit.classes": len(classes), "unit.unassigned_classes": sum(1 for c in classes if not c.building_id),
            "unit.pupils": sum(c.pupils or 0 for c in classes),
            "unit.languages": [x.strip() for x in (unit.languages or "").split(",") if x.strip()],
            "unit.environment": unit.environment}


def extended_context(flagged_classes: Iterable) -> dict:
    """The items of the extended section's per-class block: one per flagged class."""
    return {"flagged_classes": [{"key": f"c{c.id}", "label": c.name} for c in flagged_classes]}


def _env(definition: Definition, ctx: dict) -> dict:
    """Only declared context parameters are visible to formulas."""
    return {k: ctx.get(k) for k in definition.context}


def _full_env(definition: Definition, ctx: dict, values: Mapping) -> dict:
    """Context plus every (non-repeated) field's value; keys the definition does not know stay invisible."""
    env = _env(definition, ctx)
    for f in definition.fields:
        env[f.key] = values.get(f.key)
    return env


def _check_mode(mode: str) -> None:
    if mode not in MODES:
        raise ValueError(f"mode must be one of {MODES}, got {mode!r}")


# --- choices -----------------------------------------------------------------------------------------------

class _Choices:
    """Resolves a field's choices once per call: inline, or from a nomenclature."""

    def __init__(self, source: NomenclatureSource | None):
        self.source = source or nomenclature_store.choices
        self.cache: dict[str, list[Choice]] = {}

    def __call__(self, f: Field) -> list[Choice] | None:
        if not f.fieldtype.uses_choices:
            return None
        inline = f.choices
        if inline is not None:
            return inline
        key = f.nomenclature
        if key not in self.cache:
            self.cache[key] = self.source(key)
        return self.cache[key]


def choices_for(f: Field, nomenclatures: NomenclatureSource | None = None) -> list[Choice] | None:
    """The choices a field offers (None for fields without choices)."""
    return _Choices(nomenclatures)(f)


# --- the operations ----------------------------------------------------------------------------------------

def generate_defaults(definition: Definition, context: Mapping | None = None) -> dict:
    """Values for every field with a default, computed from the context (and from other defaults) in dependency
    order. A default that does not fit its field's type is left empty."""
    ctx = flatten_context(context)
    env = _env(definition, ctx)
    values: dict[str, Any] = {}
    for key in definition.default_order:
        f = definition.field(key)
        raw = compile_expression(f.default).evaluate(env)
        try:
            value = f.fieldtype.parse(f.spec, raw)
        except InvalidValue:
            value = None
        if value is not None:
            values[key] = value
        env[key] = value
    return values


def compute(definition: Definition, values: Mapping, context: Mapping | None = None) -> dict:
    """``values`` plus every computed field, evaluated in dependency order. Stale computed values are replaced."""
    ctx = flatten_context(context)
    env = _env(definition, ctx)
    for f in definition.fields:
        if f.is_input:
            env[f.key] = values.get(f.key)
    out = dict(values)
    for key in definition.computed_order:
        f = definition.field(key)
        env[key] = out[key] = f.fieldtype.derive(f.spec, env)
    return out


def clean(definition: Definition, raw: Mapping, context: Mapping | None = None, *, mode: str = "draft",
          nomenclatures: NomenclatureSource | None = None) -> Cleaned:
    """Parse and check a complete set of submitted values (merge partial updates with the stored values first).

    Unknown keys are errors; submitted computed fields are ignored (they are always recomputed)."""
    _check_mode(mode)
    if not isinstance(raw, Mapping):
        raise TypeError("values must be a mapping of field keys to values")
    ctx = flatten_context(context)
    fields = definition.concrete_fields(ctx)
    inputs = {f.key: f for f in fields if f.is_input}
    computed = {f.key for f in fields if not f.is_input}
    choices = _Choices(nomenclatures)
    errors: list[FieldError] = []
    for key in raw:
        if key not in inputs and key not in computed:
            errors.append(FieldError(str(key), "unknown_field", _("Unknown field.")))
    values: dict[str, Any] = {}
    bad: set[str] = set()
    for key, f in inputs.items():
        ftype = f.fieldtype
        try:
            value = ftype.parse(f.spec, raw.get(key))
            if value is not None:
                value = ftype.check(f.spec, value, choices(f))
        except InvalidValue as e:
            errors.append(FieldError(key, e.code, e.message, dict(e.params)))
            bad.add(key)
            value = None
        values[key] = value
    values = compute(definition, values, ctx)
    env = _full_env(definition, ctx, values)
    warnings: list[FieldError] = []
    if mode == "submit":
        for key, f in inputs.items():
            if values[key] is None and key not in bad and _is_required(f, env):
                errors.append(FieldError(key, "required", _("This field is required.")))
        errors.extend(_broken_rules(definition, env))  # values are computed already: no second compute
    else:
        warnings = _broken_rules(definition, env)
    return Cleaned(values=values, errors=errors, warnings=warnings)


def validate(definition: Definition, values: Mapping, context: Mapping | None = None, mode: str = "draft", *,
             nomenclatures: NomenclatureSource | None = None) -> list[FieldError]:
    """The errors :func:`clean` finds (an empty list when the values may be saved / submitted)."""
    return clean(definition, values, context, mode=mode, nomenclatures=nomenclatures).errors


def _is_required(f: Field, env: dict) -> bool:
    if f.required:
        return True
    if f.required_if:
        return truth(compile_expression(f.required_if).evaluate(env)) is True
    return False


def check_rules(definition: Definition, values: Mapping, context: Mapping | None = None) -> list[FieldError]:
    """Every broken cross-field rule. A rule that cannot be evaluated for lack of data is not reported (the
    missing fields are, by the required check)."""
    ctx = flatten_context(context)
    return _broken_rules(definition, _full_env(definition, ctx, compute(definition, values, ctx)))


def _broken_rules(definition: Definition, env: dict) -> list[FieldError]:
    """:func:`check_rules` over an environment already built from computed values."""
    broken = []
    for rule in definition.rules:
        if rule.when is not None and truth(compile_expression(rule.when).evaluate(env)) is not True:
            continue
        if truth(compile_expression(rule.expr).evaluate(env)) is not False:
            continue
        params = {name: compile_expression(src).evaluate(env) for name, src in rule.values.items()}
        broken.append(FieldError(None, "rule", localize(rule.message, "en"), params, rule=rule.key,
                                 fields=rule.fields, text=rule.message))
    return broken
