"""Field types: parsing HTML strings and JSON values, constraints, the registry."""
from __future__ import annotations

import datetime as dt
import json

import pytest

from forms.definitions import Choice
from forms.fieldtypes import (FieldError, FieldType, InvalidValue, RegistryError, get_type, register, type_names,
                              unregister)

CHOICES = [Choice("ro", "Română"), Choice("hu", "Maghiară"), Choice("de", "Germană")]


def parse(type_name, raw, **spec):
    t = get_type(type_name)
    value = t.parse(spec, raw)
    if value is not None:
        value = t.check(spec, value, CHOICES)
    json.dumps(value)                    # always JSON-safe
    return value


def code_of(type_name, raw, **spec):
    with pytest.raises(InvalidValue) as e:
        parse(type_name, raw, **spec)
    return e.value.code


def test_builtin_types_are_registered():
    assert {"text", "yesno", "single_choice", "multiple_choice", "integer", "decimal", "computed", "date"} <= set(
        type_names())


# --- integer -----------------------------------------------------------------------------------------------

@pytest.mark.parametrize("raw, expected", [
    ("12", 12), (" 12 ", 12), ("+3", 3), ("-4", -4), ("1 234", 1234), ("1\u00a0234", 1234), (7, 7), (7.0, 7),
    ("", None), ("   ", None), (None, None), ("0", 0),
])
def test_integer_parse(raw, expected):
    assert parse("integer", raw) == expected


@pytest.mark.parametrize("raw", ["12.5", "12,5", "abc", "1e3", "0x10", True, False, 12.5, float("nan"),
                                 float("inf"), [1], {"a": 1}, "٣"])
def test_integer_rejects(raw):
    assert code_of("integer", raw) == "invalid"


def test_integer_range_and_sanity_bound():
    assert parse("integer", "0", min=0, max=30) == 0
    assert code_of("integer", "-1", min=0) == "min"
    assert code_of("integer", "31", max=30) == "max"
    assert code_of("integer", 10 ** 13) == "out_of_range"
    assert code_of("integer", "9" * 16) == "invalid"
    with pytest.raises(InvalidValue) as e:
        parse("integer", "31", max=30)
    assert e.value.params == {"max": 30} and "{max}" in e.value.message


# --- decimal -----------------------------------------------------------------------------------------------

@pytest.mark.parametrize("raw, expected", [
    ("12,5", 12.5), ("12.5", 12.5), (",5", 0.5), ("3", 3.0), (3, 3.0), (2.25, 2.25), ("1 000,25", 1000.25),
    ("", None),
])
def test_decimal_parse(raw, expected):
    assert parse("decimal", raw) == expected


@pytest.mark.parametrize("raw", ["1.234,5", "1,2,3", "abc", "nan", "inf", float("nan"), True, "1e5", "."])
def test_decimal_rejects(raw):
    assert code_of("decimal", raw) == "invalid"


def test_decimal_rounding_and_range():
    assert parse("decimal", "2,345", decimals=2) == 2.35
    assert parse("decimal", "2,5", decimals=0) == 3
    assert code_of("decimal", "100,5", max=100) == "max"
    assert code_of("decimal", "-0,1", min=0) == "min"


# --- yes/no, text, date --------------------------------------------------------------------------------------

@pytest.mark.parametrize("raw, expected", [
    (True, True), (False, False), ("da", True), ("Nu", False), ("yes", True), ("no", False), ("on", True),
    ("1", True), ("0", False), (1, True), (0, False), ("", None), (None, None),
])
def test_yesno_parse(raw, expected):
    assert parse("yesno", raw) == expected


@pytest.mark.parametrize("raw", ["maybe", 2, [True], 0.5])
def test_yesno_rejects(raw):
    assert code_of("yesno", raw) == "invalid"


def test_text_normalises():
    assert parse("text", "  Școala   nr. 1\t ") == "Școala nr. 1"
    assert parse("text", "a\r\nb\x00c\x07", multiline=True) == "a\nbc"
    assert parse("text", "S\u0327") == "Ş"                 # NFC
    assert parse("text", "   ") is None
    assert parse("text", 12) == "12"
    assert code_of("text", "x" * 11, max_length=10) == "max_length"
    assert code_of("text", "x" * 2001) == "max_length"    # default limit
    assert code_of("text", ["a"]) == "invalid"
    assert code_of("text", True) == "invalid"


def test_date():
    assert parse("date", "2025-09-15") == "2025-09-15"
    assert parse("date", "15.09.2025") == "2025-09-15"
    assert parse("date", dt.date(2025, 9, 15)) == "2025-09-15"
    assert parse("date", "") is None
    assert code_of("date", "31.02.2025") == "invalid"
    assert code_of("date", 20250915) == "invalid"


# --- choices -----------------------------------------------------------------------------------------------

def test_single_choice():
    assert parse("single_choice", " hu ") == "hu"
    assert parse("single_choice", "") is None
    assert code_of("single_choice", "xx") == "choice"
    assert code_of("single_choice", ["ro"]) == "invalid"


def test_multiple_choice_normalises_to_choice_order():
    assert parse("multiple_choice", ["de", "ro", "de"]) == ["ro", "de"]
    assert parse("multiple_choice", "hu") == ["hu"]            # a single checkbox from an HTML form
    assert parse("multiple_choice", []) is None
    assert parse("multiple_choice", ["", " "]) is None
    with pytest.raises(InvalidValue) as e:
        parse("multiple_choice", ["ro", "xx", "yy"])
    assert e.value.code == "choice" and e.value.params == {"value": "xx, yy"}
    assert code_of("multiple_choice", {"ro": True}) == "invalid"
    assert code_of("multiple_choice", ["ro"] * 201) == "invalid"


def test_choice_spec_problems():
    t = get_type("single_choice")
    assert t.problems({"choices": [{"value": "a", "label": "A"}]}) == []
    assert t.problems({"nomenclature": "ethnicities"}) == []
    assert t.problems({}) == ["give either choices or a nomenclature"]
    assert t.problems({"choices": [{"value": "a", "label": "A"}], "nomenclature": "x"})
    assert "duplicate choice 'a'" in t.problems({"choices": [{"value": "a", "label": "A"}] * 2})
    assert t.problems({"choices": [{"value": "A B", "label": "x"}]})
    assert t.problems({"nomenclature": "ethnicities", "maximum": 3}) == ["unknown attribute 'maximum'"]


def test_number_spec_problems():
    t = get_type("integer")
    assert t.problems({"min": 0, "max": 10}) == []
    assert t.problems({"min": 10, "max": 0}) == ["min is greater than max"]
    assert t.problems({"min": 0.5}) == ["min must be an integer"]
    assert t.problems({"max": "10"}) == ["max must be an integer"]
    assert get_type("decimal").problems({"decimals": 9}) == ["decimals must be an integer 0..6"]


# --- computed ----------------------------------------------------------------------------------------------

def test_computed():
    t = get_type("computed")
    assert not t.input
    assert t.derive({"formula": "pct(a, b)", "decimals": 1}, {"a": 1, "b": 3}) == 33.3
    assert t.derive({"formula": "a + b"}, {"a": 1, "b": 2}) == 3
    assert t.derive({"formula": "a / b"}, {"a": 1, "b": 0}) is None
    assert t.problems({"formula": "a", "required": True}) == ["a computed field cannot have 'required'"]
    assert t.problems({}) == ["a computed field needs a formula"]
    with pytest.raises(InvalidValue):
        t.parse({"formula": "a"}, 3)


# --- registry and errors -----------------------------------------------------------------------------------

def test_registry_rejects_duplicate_names():
    with pytest.raises(RegistryError):
        @register
        class AnotherInteger(FieldType):
            name = "integer"


def test_registry_rejects_bad_names():
    for bad in ("", "Bad Name", "a.b", None):
        with pytest.raises(RegistryError):
            register(type("T", (FieldType,), {"name": bad}))


def test_new_type_is_one_class():
    @register
    class Percent(FieldType):
        name = "percent_test"
        attributes = frozenset({"min", "max"})

        def parse(self, spec, raw):
            return get_type("decimal").parse({"decimals": 1}, raw)

        def check(self, spec, value, choices=None):
            if not 0 <= value <= 100:
                raise InvalidValue("range", "Between 0 and 100.")
            return value

    try:
        assert "percent_test" in type_names()
        assert parse("percent_test", "12,34") == 12.3
        assert code_of("percent_test", "101") == "range"
        register(Percent)                     # re-registering the same class is harmless
    finally:
        unregister("percent_test")
    with pytest.raises(KeyError):
        get_type("percent_test")


def test_field_error_render_and_dict():
    e = FieldError("pupils", "max", "Must be at most {max}.", {"max": 30})
    assert e.render("en") == "Must be at most 30."
    assert e.render("ro", gettext=lambda s: "Cel mult {max}." if s == "Must be at most {max}." else s) == \
        "Cel mult 30."
    assert e.to_dict() == {"field": "pupils", "code": "max", "message": "Must be at most {max}.",
                           "params": {"max": 30}}
    r = FieldError(None, "rule", "Sum is {total}.", {"total": 3}, rule="r", fields=("a", "b"),
                   text={"ro": "Suma este {total}.", "en": "Sum is {total}."})
    assert r.render("ro") == "Suma este 3." and r.render("en") == "Sum is 3."
    assert r.to_dict("ro")["fields"] == ["a", "b"] and r.to_dict("ro")["text"] == "Suma este 3."
    assert FieldError("x", "c", "Broken {placeholder").render() == "Broken {placeholder"
