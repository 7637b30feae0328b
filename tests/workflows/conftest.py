"""Fixtures: the test tree with one user per workflow role, and a launched campaign on it."""
from __future__ import annotations

import datetime as dt
from types import SimpleNamespace

import pytest

from forms.operations import sync_builtin
from workflows import campaigns


def people(tree, make_user):
    """One user per role where the A1.1 unit sits (commission, county A, school A1, unit A1.1) and a director and
    responsible of the neighbouring school/unit, to test that membership must cover the node."""
    return SimpleNamespace(
        commission=make_user("commission", tree.ministry),
        isg=make_user("isg", tree.a), inspector=make_user("inspector", tree.a),
        inspector_b=make_user("inspector", tree.b),
        director=make_user("director", tree.schools["A1"]), director_a2=make_user("director", tree.schools["A2"]),
        responsible=make_user("unit_responsible", tree.units["A1.1"]),
        responsible_12=make_user("unit_responsible", tree.units["A1.2"]),
        helper=make_user("unit_helper", tree.units["A1.1"]),
        teacher=make_user("teacher", tree.schools["A1"]),
    )


@pytest.fixture
def who(tree, make_user):
    return people(tree, make_user)


# Two months from today: links and reminders work relative to the deadline, so it must lie ahead.
DEADLINE = dt.date.today() + dt.timedelta(days=60)


def launch(who, tree, name="Monitorizare 2025"):
    sync_builtin()
    c = campaigns.create_campaign(who.commission, name=name, school_year=tree.year, deadline=DEADLINE)
    campaigns.launch_campaign(who.commission, c, "Vă invităm să începeți colectarea datelor.")
    return c


@pytest.fixture
def campaign(who, tree):
    return launch(who, tree)


VALID_CLASS = {"last_benches.seats": 6}


def fill_class(campaign, school_class, actor):
    """Save values that pass submit-mode validation (the defaults only lack the last-benches seat count)."""
    from workflows import values
    cur = values.get_values(campaign, school_class)
    return values.save_values(actor, campaign, school_class, VALID_CLASS, cur.version)


VALID_UNIT = {"buildings.classrooms": 4, "buildings.notes": "Toate clasele în corpul A"}


def fill_unit(campaign, unit, actor):
    from workflows import values
    cur = values.get_values(campaign, unit)
    return values.save_values(actor, campaign, unit, VALID_UNIT, cur.version)


def submit_unit(campaign, tree, key, who_resp, who_unit=None):
    """Fill and submit both classes of unit ``key``, then its form, then the unit."""
    from workflows import state
    for k in (0, 1):
        fill_class(campaign, tree.classes[f"{key}.{k}"], who_resp)
        state.transition(who_resp, campaign, tree.classes[f"{key}.{k}"], "submit")
    fill_unit(campaign, tree.units[key], who_resp)
    state.transition(who_unit or who_resp, campaign, tree.units[key], "submit")
