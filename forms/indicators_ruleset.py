"""Indicator rulesets: the versioned parameters of the segregation indicators, parsed from plain JSON.

The shipped defaults live in ``forms/rulesets/<key>-v<version>.json``; the same ``params`` object is what the
``rulesets`` table stores, so :meth:`Ruleset.from_params` reads either. Thresholds become exact fractions, so a
comparison such as ``S >= 5`` never depends on binary floating point. No Flask, no database.
"""
from __future__ import annotations

import json
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from fractions import Fraction
from functools import lru_cache
from pathlib import Path
from typing import Any

RULESET_DIR = Path(__file__).with_name("rulesets")
LEVELS = ("building", "class", "bench", "locality")
OUTCOMES = ("risk", "missing_data", "insufficient", "ok", "exempt")
CLASS_REFERENCE_MODES = ("parallel", "unit")
_LANGUAGE_SPLIT = re.compile(r"[+,/;\s]+")


class RulesetError(ValueError):
    """A ruleset document that cannot be used (missing or out-of-range parameter)."""


def exact(value: Any, name: str = "value") -> Fraction:
    """An int, Fraction or decimal float/str as an exact Fraction (0.5 -> 1/2, never its binary approximation)."""
    if isinstance(value, bool) or value is None:
        raise RulesetError(f"{name}: a number is required, got {value!r}")
    if isinstance(value, int | Fraction):
        return Fraction(value)
    if isinstance(value, float | str):
        try:
            return Fraction(str(value))
        except ValueError:
            pass
    raise RulesetError(f"{name}: a number is required, got {value!r}")


@dataclass(frozen=True)
class Group:
    """A vulnerable group: n = sum of ``counts`` (or N minus it when ``complement``); ``bench`` = its bench key."""

    id: str
    criterion: str
    counts: tuple[str, ...]
    complement: bool = False
    bench: str | None = None


@dataclass(frozen=True)
class Criterion:
    key: str
    groups: tuple[Group, ...]
    locality: bool = False  # also compare the unit with the locality's school-age population


@dataclass(frozen=True)
class Ruleset:
    key: str
    version: int
    score_max: Fraction
    risk_score_threshold: Fraction
    predominance_threshold: Fraction
    missing_data_score: Fraction
    min_pupils: int
    min_group: int
    class_reference: str
    min_parallel_classes: int
    levels: tuple[str, ...]
    unit_outcome_precedence: tuple[str, ...]
    bench_seats: str
    locality_prefix: str
    criteria: tuple[Criterion, ...]
    language_exemptions: tuple[tuple[str, frozenset[str]], ...]

    @classmethod
    def from_document(cls, doc: Mapping[str, Any]) -> Ruleset:
        """A ruleset from a whole document: ``{"key", "version", "params": {...}}`` (notes are ignored)."""
        try:
            return cls.from_params(doc["params"], key=doc["key"], version=doc["version"])
        except (KeyError, TypeError) as e:
            raise RulesetError(f"ruleset document: missing {e}") from e

    @classmethod
    def from_params(cls, params: Mapping[str, Any], *, key: str, version: int) -> Ruleset:
        """A ruleset from its ``params`` object (the JSON stored per ruleset version)."""
        try:
            return _parse(params, key, version)
        except (KeyError, TypeError, AttributeError) as e:
            raise RulesetError(f"ruleset {key} v{version}: missing or malformed parameter {e}") from e

    # -- lookups ---------------------------------------------------------------------------------------------
    def groups(self) -> Iterator[Group]:
        for criterion in self.criteria:
            yield from criterion.groups

    def group(self, group_id: str) -> Group:
        for g in self.groups():
            if g.id == group_id:
                return g
        raise KeyError(group_id)

    def criterion(self, key: str) -> Criterion:
        for c in self.criteria:
            if c.key == key:
                return c
        raise KeyError(key)

    def exempt_groups(self, teaching_language: str | None) -> frozenset[str]:
        """Groups a class taught in ``teaching_language`` is exempt for; bilingual codes ("ro+hu") are split."""
        if not teaching_language:
            return frozenset()
        codes = {c for c in _LANGUAGE_SPLIT.split(teaching_language.strip().lower()) if c}
        table = dict(self.language_exemptions)
        return frozenset().union(*(table.get(c, frozenset()) for c in codes))

    def level_applies(self, criterion: Criterion, level: str) -> bool:
        """Whether ``level`` is computed for ``criterion`` under this ruleset."""
        if level not in self.levels:
            return False
        if level == "bench":
            return any(g.bench for g in criterion.groups)
        if level == "locality":
            return criterion.locality
        return True


def _parse(p: Mapping[str, Any], key: str, version: int) -> Ruleset:
    if not isinstance(key, str) or not key or isinstance(version, bool) or not isinstance(version, int):
        raise RulesetError(f"ruleset key/version: got {key!r}/{version!r}")
    where = f"ruleset {key} v{version}"
    score_max = exact(p["score_max"], "score_max")
    if score_max <= 0:
        raise RulesetError(f"{where}: score_max must be positive")
    risk = exact(p["risk_score_threshold"], "risk_score_threshold")
    missing = exact(p["missing_data_score"], "missing_data_score")
    for name, value in (("risk_score_threshold", risk), ("missing_data_score", missing)):
        if not 0 <= value <= score_max:
            raise RulesetError(f"{where}: {name} must be between 0 and score_max")
    predominance = exact(p["predominance_threshold"], "predominance_threshold")
    if not 0 <= predominance <= 1:
        raise RulesetError(f"{where}: predominance_threshold must be a share between 0 and 1")
    small = p["small_numbers"]
    min_pupils, min_group = _count(small["min_pupils"], "min_pupils"), _count(small["min_group"], "min_group")
    reference = p["class_reference"]
    mode = reference["mode"]
    if mode not in CLASS_REFERENCE_MODES:
        raise RulesetError(f"{where}: class_reference.mode must be one of {CLASS_REFERENCE_MODES}")
    min_parallel = _count(reference.get("min_parallel_classes", 2), "min_parallel_classes")
    levels = tuple(p["levels"])
    if not set(levels) <= set(LEVELS) or len(set(levels)) != len(levels):
        raise RulesetError(f"{where}: levels must be distinct values among {LEVELS}")
    precedence = tuple(p["unit_outcome_precedence"])
    if sorted(precedence) != sorted(OUTCOMES):
        raise RulesetError(f"{where}: unit_outcome_precedence must order exactly {OUTCOMES}")
    criteria = tuple(_criterion(c, where) for c in p["criteria"])
    ids = [g.id for c in criteria for g in c.groups]
    if len(set(ids)) != len(ids) or len({c.key for c in criteria}) != len(criteria):
        raise RulesetError(f"{where}: criterion keys and group ids must be unique")
    exemptions = []
    for code, groups in sorted(p.get("minority_language_exemptions", {}).items()):
        unknown = set(groups) - set(ids)
        if unknown:
            raise RulesetError(f"{where}: minority_language_exemptions[{code}] names unknown groups {sorted(unknown)}")
        exemptions.append((code.lower(), frozenset(groups)))
    return Ruleset(
        key=key, version=version, score_max=score_max, risk_score_threshold=risk,
        predominance_threshold=predominance, missing_data_score=missing, min_pupils=min_pupils,
        min_group=min_group, class_reference=mode, min_parallel_classes=min_parallel, levels=levels,
        unit_outcome_precedence=precedence, bench_seats=p.get("bench", {}).get("seats", "last_benches.seats"),
        locality_prefix=p.get("locality", {}).get("prefix", "locality."), criteria=criteria,
        language_exemptions=tuple(exemptions),
    )


def _criterion(c: Mapping[str, Any], where: str) -> Criterion:
    key = c["key"]
    groups = []
    for g in c["groups"]:
        counts = tuple(g["counts"])
        if not counts or not all(isinstance(k, str) and k for k in counts):
            raise RulesetError(f"{where}: group {g.get('id')!r} needs at least one count key")
        groups.append(Group(id=g["id"], criterion=key, counts=counts, complement=bool(g.get("complement", False)),
                            bench=g.get("bench")))
    if not groups:
        raise RulesetError(f"{where}: criterion {key!r} has no groups")
    return Criterion(key=key, groups=tuple(groups), locality=bool(c.get("locality", False)))


def _count(value: Any, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise RulesetError(f"{name} must be a non-negative integer, got {value!r}")
    return value


def ruleset_path(key: str, version: int) -> Path:
    return RULESET_DIR / f"{key}-v{version}.json"


def ruleset_document(key: str = "segregation", version: int = 1) -> dict[str, Any]:
    """The shipped JSON document of a ruleset version (what seeds the ``rulesets`` table)."""
    path = ruleset_path(key, version)
    if not path.is_file():
        raise RulesetError(f"no shipped ruleset {key} v{version}")
    return json.loads(path.read_text(encoding="utf-8"))


def shipped_rulesets() -> list[tuple[str, int]]:
    """(key, version) of every JSON document under forms/rulesets/, sorted."""
    found = []
    for path in RULESET_DIR.glob("*-v*.json"):
        key, _, version = path.stem.rpartition("-v")
        if version.isdigit():
            found.append((key, int(version)))
    return sorted(found)


@lru_cache(maxsize=16)
def load_ruleset(key: str = "segregation", version: int = 1) -> Ruleset:
    """The parsed shipped ruleset (cached; a Ruleset is immutable)."""
    doc = ruleset_document(key, version)
    if (doc.get("key"), doc.get("version")) != (key, version):
        raise RulesetError(f"{ruleset_path(key, version).name} declares {doc.get('key')} v{doc.get('version')}")
    return Ruleset.from_document(doc)
