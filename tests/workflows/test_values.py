"""Saving form values: defaults, draft/submit cleaning, optimistic versions, lock/submission checks."""
import pytest

from core.errors import Conflict, Forbidden, Invalid
from workflows import queries, state, values
from workflows.state import transition


def test_class_table_starts_from_generated_defaults(campaign, tree):
    cur = values.get_values(campaign, tree.classes["A1.1.1"])
    assert cur.version == 0
    assert cur.values["pupils"] == 21 and cur.values["ethnicity.undeclared"] == 21
    assert cur.values["ethnicity.roma"] == 0


def test_draft_accepts_incomplete_but_refuses_wrong_types(campaign, tree, who):
    c = tree.classes["A1.1.0"]
    saved = values.save_values(who.helper, campaign, c, {"ethnicity.roma": 3, "ethnicity.undeclared": 17}, 0)
    assert saved.version == 1 and saved.values["ethnicity.roma"] == 3
    assert state.state_for(campaign, c).state == "in_progress"
    with pytest.raises(Invalid) as e:
        values.save_values(who.helper, campaign, c, {"ethnicity.roma": "many", "pupils": -1}, 1)
    assert set(e.value.details["fields"]) == {"ethnicity.roma", "pupils"}
    with pytest.raises(Invalid) as e:
        values.save_values(who.helper, campaign, c, {}, 1, mode="submit")
    assert "last_benches.seats" in e.value.details["fields"]
    assert values.get_values(campaign, c).version == 1


def test_stale_version_is_a_conflict_naming_the_changed_fields(campaign, tree, who):
    c = tree.classes["A1.1.0"]
    values.save_values(who.helper, campaign, c, {"ethnicity.roma": 2, "ethnicity.undeclared": 18}, 0)
    with pytest.raises(Conflict) as e:
        values.save_values(who.responsible, campaign, c, {"repeating": 1}, 0)
    assert e.value.details["current_version"] == 1
    changed = set(e.value.details["changed_fields"])
    assert {"ethnicity.roma", "ethnicity.undeclared", "share.ethnicity.roma"} <= changed
    assert "repeating" not in changed


def test_who_may_fill(campaign, tree, who):
    c = tree.classes["A1.1.0"]
    for actor in (who.director, who.inspector, who.responsible_12, state.LinkActor(tree.classes["A1.1.1"].id)):
        with pytest.raises(Forbidden):
            values.save_values(actor, campaign, c, {"repeating": 1}, 0)
    values.save_values(state.LinkActor(c.id), campaign, c, {"repeating": 1}, 0)
    with pytest.raises(Invalid):
        values.save_values(who.responsible, campaign, tree.units["A1.1"], {"x": 1}, 0, section="class")


def test_locked_or_submitted_refuses_saves(campaign, tree, who):
    c = tree.classes["A1.1.0"]
    transition(who.director, campaign, tree.units["A1.1"], "lock")
    with pytest.raises(Conflict, match="locked above: the unit"):
        values.save_values(who.helper, campaign, c, {"repeating": 1}, 0)
    with pytest.raises(Conflict, match="locked: the unit"):
        values.save_values(who.helper, campaign, tree.units["A1.1"], {"buildings.classrooms": 3}, 0)
    transition(who.director, campaign, tree.units["A1.1"], "unlock")
    values.save_values(who.helper, campaign, c, {"last_benches.seats": 4}, 0)
    transition(who.helper, campaign, c, "submit")
    with pytest.raises(Conflict, match="submitted: the class 1A is submitted"):
        values.save_values(who.helper, campaign, c, {"repeating": 1}, 1)


def test_progress_counts_and_filters(campaign, tree, who):
    values.save_values(who.helper, campaign, tree.classes["A1.1.0"], {"last_benches.seats": 4}, 0)
    transition(who.helper, campaign, tree.classes["A1.1.0"], "submit")
    transition(who.inspector, campaign, tree.schools["A2"], "exclude", reason="merged")
    transition(who.inspector, campaign, tree.schools["A1"], "lock")
    counts = queries.node_counts(campaign, tree.a)
    assert {k: counts[k] for k in ("total", "not_started", "in_progress", "submitted", "locked", "excluded")} == \
        {"total": 2, "not_started": 0, "in_progress": 1, "submitted": 0, "locked": 1, "excluded": 1}
    assert counts["last_activity"] is not None
    top = queries.node_counts(campaign, tree.ministry)
    assert (top["total"], top["in_progress"], top["not_started"]) == (2, 1, 1)
    classes = queries.level_counts(campaign, tree.a, "class")
    assert (classes["total"], classes["submitted"], classes["not_started"]) == (8, 1, 7)
    assert queries.level_counts(campaign, None, "class")["total"] == 16
    assert queries.level_counts(campaign, tree.units["A1.1"], "class")["submitted"] == 1
    county_row = state.state_for(campaign, tree.b)
    from core.db import session
    not_started = session.execute(queries.children(campaign, county_row, state="not_started")).scalars().all()
    assert [s.node_id for s in not_started] == [tree.schools["B1"].id, tree.schools["B2"].id]
    many = queries.children_counts(campaign, [None, county_row])
    assert many[county_row.id]["total"] == 2 and many[None]["total"] == 2
    assert queries.last_activity(campaign, tree.a) is not None
