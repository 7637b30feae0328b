from __future__ import annotations

import pytest
from sqlalchemy import select

from core.db import session
from core.errors import Invalid, NotFound
from tenants import operations, policy, queries
from tenants.models import Node, SchoolClass


def test_paths_and_denormalised_ancestors(tree):
    unit = tree.units["A1.2"]
    school, county = tree.schools["A1"], tree.a
    assert unit.path == f"{tree.ministry.path}{county.id}/{school.id}/{unit.id}/"
    assert (unit.county_id, unit.school_id) == (county.id, school.id)
    assert (school.county_id, school.school_id) == (county.id, school.id)
    assert unit.is_within(county) and not unit.is_within(tree.b)


def test_levels_are_enforced(tree):
    with pytest.raises(Invalid):
        operations.create_node(level="unit", code="X", name="X", parent=tree.a)
    with pytest.raises(Invalid):
        operations.create_node(level="school", code="X", name="X")


def test_subtree_query_counts(tree):
    in_a = session.execute(queries.visible_nodes(None)).scalars().all()
    assert in_a == []
    q = select(Node).where(queries.subtree_filter([tree.a.path]))
    assert queries.count(q) == 1 + 2 + 4
    q = select(SchoolClass).join(Node, SchoolClass.unit_id == Node.id).where(queries.subtree_filter([tree.b.path]))
    assert queries.count(q) == 8


def test_policy_scopes_permissions_to_the_subtree(tree, make_user):
    inspector = make_user("inspector", tree.a)
    assert policy.can(inspector, "network.import", tree.schools["A1"])
    assert not policy.can(inspector, "network.import", tree.schools["B1"])
    assert not policy.can(inspector, "users.manage")
    director = make_user("director", tree.schools["A1"])
    assert policy.can(director, "structure.import", tree.units["A1.1"])
    assert not policy.can(director, "network.import", tree.units["A1.1"])
    with pytest.raises(KeyError):
        policy.can(director, "no.such.permission")


def test_role_must_sit_at_its_level(tree, make_user):
    with pytest.raises(Invalid):
        make_user("director", tree.a)


def test_loader_returns_404_outside_the_subtree(tree, make_user):
    inspector = make_user("inspector", tree.a)
    assert queries.get_visible_or_404(Node, tree.schools["A2"].id, inspector) is tree.schools["A2"]
    for obj in (tree.schools["B1"], tree.ministry):
        with pytest.raises(NotFound):
            queries.get_visible_or_404(Node, obj.id, inspector)
    with pytest.raises(NotFound):
        queries.get_visible_or_404(SchoolClass, tree.classes["B1.1.0"].id, inspector)
    with pytest.raises(NotFound):
        queries.get_visible_or_404(Node, "not-an-id", inspector)


def test_search_ignores_diacritics_and_case(tree, make_user):
    inspector = make_user("inspector", tree.a)
    found = session.execute(queries.search_nodes(inspector, "SCOALA a1")).scalars().all()
    assert [n.name for n in found] == ["Școala A1"]
    by_code = session.execute(queries.search_nodes(inspector, tree.units["A2.1"].code)).scalars().all()
    assert by_code == [tree.units["A2.1"]]
    assert session.execute(queries.search_nodes(inspector, "Școala B1")).scalars().all() == []


def test_pupils_and_parents_search_no_tree(tree, make_user):
    """A pupil's membership makes their school visible for their own register, not browsable or searchable."""
    pupil = make_user("pupil", tree.schools["A1"])
    assert session.execute(queries.search_nodes(pupil, "Școala")).scalars().all() == []
    assert policy.paths_with(pupil, "tree.view") == []
    teacher = make_user("teacher", tree.schools["A1"])
    assert [n.name for n in session.execute(queries.search_nodes(teacher, "scoala")).scalars()] == ["Școala A1"]
