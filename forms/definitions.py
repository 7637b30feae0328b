"""Form definitions as data: parse and check a definition body (JSON), and load the built-in ones.

A definition has a key (``segregation.class_table``), a version, a scope (``unit``, ``class`` or ``extended``), a
title, the context parameters its formulas may read (``class.pupils``, …), sections of fields, and cross-field
rules. A section may repeat over a list of items supplied in the context (e.g. one block per flagged class); its
fields then get concrete keys ``<section>.<item>.<field>``.

:func:`parse_definition` checks everything a definition can get wrong — unknown types or attributes, bad keys,
formulas outside the language, references to keys that do not exist, dependency cycles — and raises
:class:`DefinitionError` listing every problem.
"""
from __future__ import annotations

import dataclasses
import hashlib
import json
from dataclasses import dataclass, field
from functools import cached_property, lru_cache
from pathlib import Path
from typing import Any

from forms.expressions import FUNCTIONS, KEY_RE, ExpressionError, compile_expression
from forms.fieldtypes import FieldType, get_type, type_names

SCOPES = ("unit", "class", "extended")
CONTEXT_TYPES = ("integer", "decimal", "text", "yesno", "list", "items")
LAYOUTS = ("fields", "table")
BUILTIN_DIR = Path(__file__).parent / "builtin"
DEFAULT_LOCALE = "ro"

_TOP = frozenset({"key", "version", "scope", "title", "description", "context", "sections", "rules"})
_SECTION = frozenset({"key", "title", "help", "layout", "repeat", "fields"})
_RULE = frozenset({"key", "expr", "message", "fields", "values", "when"})


class DefinitionError(ValueError):
    def __init__(self, problems: list[str], key: str | None = None):
        super().__init__(f"form definition {key or '?'}: " + "; ".join(problems))
        self.problems = problems
        self.key = key


def localize(text: Any, locale: str = DEFAULT_LOCALE) -> str:
    """A label is a string or ``{locale: string}``; pick ``locale``, then Romanian, then English, then any."""
    if text is None:
        return ""
    if isinstance(text, str):
        return text
    if isinstance(text, dict) and text:
        base = (locale or "").split("_")[0].split("-")[0]
        for loc in (locale, base, DEFAULT_LOCALE, "en"):
            if loc in text:
                return text[loc]
        return next(iter(text.values()))
    return str(text)


def _label_ok(text: Any) -> bool:
    if isinstance(text, str):
        return bool(text.strip())
    return isinstance(text, dict) and bool(text) and all(isinstance(k, str) and isinstance(v, str) and v.strip()
                                                         for k, v in text.items())


def canonical_json(data: Any) -> str:
    return json.dumps(data, sort_keys=True, ensure_ascii=False, separators=(",", ":"))


def checksum(body: dict) -> str:
    """Content hash of a definition body, ignoring its version number (so an unchanged body is one version)."""
    return hashlib.sha256(canonical_json({k: v for k, v in body.items() if k != "version"}).encode()).hexdigest()


@dataclass(frozen=True)
class Choice:
    value: str
    label: Any
    data: dict = field(default_factory=dict)


@dataclass(frozen=True)
class Field:
    """One field. ``spec`` is its attribute dict as written in the definition (min, max, choices, formula, …)."""

    key: str
    type: str
    section: str
    spec: dict = field(repr=False, compare=False)
    repeat: str | None = None          # the context list the field's section repeats over

    @property
    def label(self):
        return self.spec.get("label")

    @property
    def help(self):
        return self.spec.get("help")

    @property
    def required(self) -> bool:
        return bool(self.spec.get("required"))

    @property
    def required_if(self) -> str | None:
        return self.spec.get("required_if")

    @property
    def default(self) -> str | None:
        return self.spec.get("default")

    @property
    def formula(self) -> str | None:
        return self.spec.get("formula")

    @property
    def fieldtype(self) -> FieldType:
        return get_type(self.type)

    @property
    def is_input(self) -> bool:
        return self.fieldtype.input

    @property
    def choices(self) -> list[Choice] | None:
        """Inline choices; None for nomenclature-backed fields (resolved by the engine)."""
        if "choices" not in self.spec:
            return None
        return [Choice(c["value"], c.get("label"), c.get("data") or {}) for c in self.spec["choices"]]

    @property
    def nomenclature(self) -> str | None:
        return self.spec.get("nomenclature")


@dataclass(frozen=True)
class Rule:
    key: str
    expr: str
    message: Any
    fields: tuple[str, ...]
    values: dict = field(default_factory=dict, compare=False)   # placeholder → formula, shown in the message
    when: str | None = None                                     # the rule applies only when this holds


@dataclass(frozen=True)
class Section:
    key: str
    title: Any
    fields: tuple[Field, ...]
    help: Any = None
    layout: str = "fields"
    repeat: str | None = None


@dataclass(frozen=True, eq=False)
class Definition:
    key: str
    version: int
    scope: str
    title: Any
    description: Any
    context: dict
    sections: tuple[Section, ...]
    rules: tuple[Rule, ...]
    body: dict = field(repr=False)
    default_order: tuple[str, ...] = ()     # fields with defaults, dependencies first
    computed_order: tuple[str, ...] = ()    # computed fields, dependencies first

    @cached_property
    def fields(self) -> tuple[Field, ...]:
        """Every field outside repeating sections, in definition order."""
        return tuple(f for s in self.sections if not s.repeat for f in s.fields)

    @cached_property
    def by_key(self) -> dict[str, Field]:
        return {f.key: f for f in self.fields}

    def field(self, key: str) -> Field:
        return self.by_key[key]

    @property
    def checksum(self) -> str:
        return checksum(self.body)

    def repeat_items(self, section: Section, context: dict | None) -> list[dict]:
        """The items a repeating section expands over: ``context[section.repeat]`` = [{"key", "label"}, …]."""
        items = (context or {}).get(section.repeat) or []
        out = []
        for item in items:
            key = item.get("key") if isinstance(item, dict) else None
            if not isinstance(key, str) or not KEY_RE.match(key) or "." in key:
                raise ValueError(f"context {section.repeat!r}: item key {key!r} must be a simple lower-case code")
            out.append(item)
        return out

    def concrete_fields(self, context: dict | None = None) -> list[Field]:
        """All fields with their final keys: repeating sections expanded over their context items."""
        out: list[Field] = []
        for s in self.sections:
            if not s.repeat:
                out.extend(s.fields)
                continue
            for item in self.repeat_items(s, context):
                out.extend(dataclasses.replace(f, key=f"{s.key}.{item['key']}.{f.key}") for f in s.fields)
        return out

    def to_dict(self) -> dict:
        return json.loads(canonical_json(self.body))


# --- parsing and checking ----------------------------------------------------------------------------------

def parse_definition(body: dict) -> Definition:
    """Check ``body`` and build a :class:`Definition`; raises :class:`DefinitionError` with every problem."""
    if not isinstance(body, dict):
        raise DefinitionError(["a definition is a JSON object"])
    try:
        text = canonical_json(body)
    except (TypeError, ValueError) as e:
        raise DefinitionError([f"not JSON-serialisable: {e}"], body.get("key")) from e
    return _parse_cached(text)


@lru_cache(maxsize=256)
def _parse_cached(text: str) -> Definition:
    return _Parser(json.loads(text)).build()


class _Parser:
    def __init__(self, body: dict):
        self.body = body
        self.problems: list[str] = []

    def problem(self, where: str, msg: str) -> None:
        self.problems.append(f"{where}: {msg}" if where else msg)

    def expr(self, where: str, source, known: set[str], field_keys: set[str]):
        try:
            e = compile_expression(source)
        except ExpressionError as err:
            self.problem(where, f"formula {source!r}: {err.message}")
            return None
        for name in sorted(e.names - known):
            self.problem(where, f"formula {source!r} refers to unknown key {name!r}")
        for p in sorted(e.patterns):
            if not any(k.startswith(p) for k in field_keys):
                self.problem(where, f"formula {source!r}: pattern {p}* matches no field")
        return e

    def build(self) -> Definition:
        b = self.body
        key = b.get("key")
        for a in sorted(set(b) - _TOP):
            self.problem("", f"unknown attribute {a!r}")
        if not isinstance(key, str) or not KEY_RE.match(key):
            self.problem("key", "must be a lower-case dotted key such as segregation.class_table")
        version = b.get("version")
        if isinstance(version, bool) or not isinstance(version, int) or version < 1:
            self.problem("version", "must be a positive integer")
        if b.get("scope") not in SCOPES:
            self.problem("scope", f"must be one of {', '.join(SCOPES)}")
        if not _label_ok(b.get("title")):
            self.problem("title", "missing")
        context = b.get("context") or {}
        if not isinstance(context, dict):
            self.problem("context", "must map parameter names to types")
            context = {}
        for name, typ in context.items():
            if not KEY_RE.match(name):
                self.problem("context", f"bad parameter name {name!r}")
            if typ not in CONTEXT_TYPES:
                self.problem("context", f"{name}: type must be one of {', '.join(CONTEXT_TYPES)}")

        sections = self._sections(b.get("sections"), context)
        if b.get("scope") == "class":
            for f in (f for s in sections for f in s.fields if f.fieldtype.free_form):
                self.problem(f"field {f.key}", f"a class table holds no {f.type} fields: they could identify a pupil")
        fields = [f for s in sections if not s.repeat for f in s.fields]
        field_keys = {f.key for f in fields}
        known = field_keys | set(context)
        compiled: dict[str, dict[str, Any]] = {}
        for s in sections:
            for f in s.fields:
                where = f"field {s.key + '.' if s.repeat else ''}{f.key}"
                exprs = compiled.setdefault(f.key, {}) if not s.repeat else {}
                for attr in ("default", "required_if", "formula"):
                    src = f.spec.get(attr)
                    if src is None:
                        continue
                    if s.repeat and attr != "required_if":
                        self.problem(where, f"fields of a repeating section cannot have a {attr}")
                        continue
                    e = self.expr(where, src, known, field_keys)
                    if e is not None:
                        exprs[attr] = e
                        if attr != "required_if" and f.key in e.dependencies(field_keys):
                            self.problem(where, f"the {attr} refers to the field itself")
        rules = self._rules(b.get("rules") or [], known, field_keys)
        default_order = self._order("defaults", [f.key for f in fields if f.default is not None],
                                    {k: c["default"] for k, c in compiled.items() if "default" in c})
        computed_order = self._order("computed fields", [f.key for f in fields if not f.is_input],
                                     {k: c["formula"] for k, c in compiled.items() if "formula" in c})
        if self.problems:
            raise DefinitionError(self.problems, key if isinstance(key, str) else None)
        return Definition(key=key, version=version, scope=b["scope"], title=b["title"],
                          description=b.get("description"), context=dict(context), sections=tuple(sections),
                          rules=tuple(rules), body=b, default_order=default_order, computed_order=computed_order)

    def _sections(self, raw, context: dict) -> list[Section]:
        if not isinstance(raw, list) or not raw:
            self.problem("sections", "a definition needs at least one section")
            return []
        sections: list[Section] = []
        seen_sections: set[str] = set()
        seen_fields: set[str] = set()
        for i, s in enumerate(raw):
            if not isinstance(s, dict):
                self.problem(f"section {i + 1}", "must be an object")
                continue
            skey = s.get("key")
            where = f"section {skey or i + 1}"
            if not isinstance(skey, str) or not KEY_RE.match(skey):
                self.problem(where, "bad or missing key")
                skey = f"_{i}"
            elif skey in seen_sections:
                self.problem(where, "duplicate section key")
            seen_sections.add(skey)
            for a in sorted(set(s) - _SECTION):
                self.problem(where, f"unknown attribute {a!r}")
            if not _label_ok(s.get("title")):
                self.problem(where, "missing title")
            layout = s.get("layout", "fields")
            if layout not in LAYOUTS:
                self.problem(where, f"layout must be one of {', '.join(LAYOUTS)}")
            repeat = s.get("repeat")
            if repeat is not None and context.get(repeat) != "items":
                self.problem(where, f"repeat must name a context parameter of type items, got {repeat!r}")
            local: set[str] = set()
            fields = []
            for j, fs in enumerate(s.get("fields") or []):
                f = self._field(fs, skey, repeat, f"{where} field {j + 1}")
                if f is None:
                    continue
                scope_keys = local if repeat else seen_fields
                if f.key in scope_keys:
                    self.problem(f"field {f.key}", "duplicate key")
                elif not repeat and f.key in context:
                    self.problem(f"field {f.key}", "clashes with a context parameter")
                scope_keys.add(f.key)
                fields.append(f)
            if not fields:
                self.problem(where, "has no fields")
            sections.append(Section(key=skey, title=s.get("title"), help=s.get("help"), layout=layout,
                                    repeat=repeat, fields=tuple(fields)))
        for sec in sections:
            if sec.repeat and any(k == sec.key or k.startswith(sec.key + ".") for k in seen_fields):
                self.problem(f"section {sec.key}", "a repeating section's key must not prefix other field keys")
        return sections

    def _field(self, spec, section: str, repeat: str | None, where: str) -> Field | None:
        if not isinstance(spec, dict):
            self.problem(where, "must be an object")
            return None
        key, typ = spec.get("key"), spec.get("type")
        if not isinstance(key, str) or not KEY_RE.match(key) or key in FUNCTIONS:
            self.problem(where, f"bad key {key!r}")
            return None
        where = f"field {key}"
        if repeat and "." in key:
            self.problem(where, "fields of a repeating section have simple keys")
        if typ not in type_names():
            self.problem(where, f"unknown type {typ!r} (known: {', '.join(type_names())})")
            return None
        for p in get_type(typ).problems(spec):
            self.problem(where, p)
        if not _label_ok(spec.get("label")):
            self.problem(where, "missing label")
        if "required" in spec and not isinstance(spec["required"], bool):
            self.problem(where, "required must be true or false")
        return Field(key=key, type=typ, section=section, spec=spec, repeat=repeat)

    def _rules(self, raw, known: set[str], field_keys: set[str]) -> list[Rule]:
        rules, seen = [], set()
        if not isinstance(raw, list):
            self.problem("rules", "must be a list")
            return []
        for i, r in enumerate(raw):
            rkey = r.get("key") if isinstance(r, dict) else None
            where = f"rule {rkey or i + 1}"
            if not isinstance(rkey, str) or not KEY_RE.match(rkey):
                self.problem(where, "bad or missing key")
                continue
            if rkey in seen:
                self.problem(where, "duplicate rule key")
            seen.add(rkey)
            for a in sorted(set(r) - _RULE):
                self.problem(where, f"unknown attribute {a!r}")
            if not isinstance(r.get("expr"), str):
                self.problem(where, "missing expr")
                continue
            self.expr(where, r["expr"], known, field_keys)
            if r.get("when") is not None:
                self.expr(where, r["when"], known, field_keys)
            values = r.get("values") or {}
            if not isinstance(values, dict):
                self.problem(where, "values must map placeholders to formulas")
                values = {}
            for src in values.values():
                self.expr(where, src, known, field_keys)
            if not _label_ok(r.get("message")):
                self.problem(where, "missing message")
            concerned = r.get("fields")
            if not isinstance(concerned, list) or not concerned:
                self.problem(where, "must list the fields it concerns")
                concerned = []
            for k in concerned:
                if k not in field_keys:
                    self.problem(where, f"concerns unknown field {k!r}")
            rules.append(Rule(key=rkey, expr=r["expr"], message=r.get("message"), fields=tuple(concerned),
                              values=dict(values), when=r.get("when")))
        return rules

    def _order(self, what: str, keys: list[str], exprs: dict) -> tuple[str, ...]:
        """Topological order of ``keys`` by the dependencies of their formulas among themselves."""
        pending = {k: (exprs[k].dependencies(keys) - {k}) if k in exprs else set() for k in keys}
        order: list[str] = []
        while pending:
            ready = [k for k in keys if k in pending and not pending[k] - set(order)]
            if not ready:
                self.problem(what, "dependency cycle among " + ", ".join(sorted(pending)))
                break
            for k in ready:
                order.append(k)
                del pending[k]
        return tuple(order)


# --- files -------------------------------------------------------------------------------------------------

def load_file(path: str | Path) -> Definition:
    path = Path(path)
    try:
        body = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as e:
        raise DefinitionError([f"{path.name}: {e}"]) from e
    return parse_definition(body)


def builtin_files() -> list[Path]:
    return sorted(BUILTIN_DIR.glob("*.json"))


def builtin_definitions() -> list[Definition]:
    """The definitions shipped in ``forms/builtin/*.json``, checked."""
    return [load_file(p) for p in builtin_files()]


def builtin(key: str) -> Definition:
    """The shipped definition with this key (highest version when several files share it)."""
    found = [d for d in builtin_definitions() if d.key == key]
    if not found:
        raise KeyError(f"no built-in form definition {key!r}")
    return max(found, key=lambda d: d.version)
