"""The synthetic country at a small scale: its invariants hold and it is deterministic."""
from __future__ import annotations

from collections import Counter

from sqlalchemy import select

from core.db import session
from tenants.models import Node, SchoolClass
from tenants.national import COUNTIES, seed_national


def test_small_country_invariants(db):
    stats = seed_national(scale=0.02, seed=7)
    nodes = session.execute(select(Node)).scalars().all()
    by_level = Counter(n.level for n in nodes)
    assert len(COUNTIES) == 42
    assert by_level == {"ministry": 1, "inspectorate": 42, "school": stats.schools, "unit": stats.units}
    codes = Counter((n.level, n.code) for n in nodes)
    assert max(codes.values()) == 1, "codes must be unique per level"
    by_id = {n.id: n for n in nodes}
    for n in nodes:
        if n.parent_id is None:  # the root's path names it, as tenants.operations.create_node writes it
            assert n.path == f"/{n.id}/"
        else:
            parent = by_id[n.parent_id]
            assert n.path == f"{parent.path}{n.id}/"
        if n.level in ("school", "unit"):
            assert by_id[n.county_id].level == "inspectorate" and n.path.startswith(by_id[n.county_id].path)
            assert by_id[n.school_id].level == "school" and n.path.startswith(by_id[n.school_id].path)
    classes = session.execute(select(SchoolClass)).scalars().all()
    assert len(classes) == stats.classes and sum(c.pupils for c in classes) == stats.pupils
    for c in classes:
        assert by_id[c.unit_id].level == "unit"
    assert any(c.combined for c in classes) and any(n.environment == "rural" for n in nodes if n.level == "unit")
    # A new node created afterwards gets a fresh id (sequences were moved past the bulk-inserted ids).
    from tenants import operations
    extra = operations.create_node(level="school", code="9999999999", name="Nouă", parent=by_id[nodes[1].id])
    assert extra.id > max(by_id)


def _run(seed: int):
    nested = session.begin_nested()
    stats = seed_national(scale=0.01, seed=seed)
    rows = session.execute(select(Node.code, Node.name, Node.environment).order_by(Node.code)).all()
    pupils = session.execute(select(SchoolClass.name, SchoolClass.pupils).order_by(SchoolClass.id)).all()
    nested.rollback()
    return stats, rows, pupils


def test_generator_is_deterministic(db):
    first, second, other = _run(3), _run(3), _run(4)
    assert first == second
    assert first[1] != other[1] or first[2] != other[2]
    assert first[0].pupils == sum(p for _n, p in first[2])
