"""Helpers of the report tests (no tests here): the app fixture for report jobs and a whole county submitted through
the real workflow (so the real roll-up, data builder and renderers write the reports)."""
from __future__ import annotations

import itertools

import pytest

EXTENDED_VALUES = {"commission.established": True, "plan.exists": False}


@pytest.fixture
def report_engine(app):
    """The app (so the job backend runs report jobs in-process, in an app context) with the real data builder
    (exports.report_data) and renderers (exports.render)."""
    return app


_seq = itertools.count(1)


def submit_county(campaign, tree, who, county: str = "A") -> None:
    """Submit every unit of the county (classes, unit forms), both schools, then the county (each by its own
    responsible, director and inspector; ``who`` holds A1.1's responsible and A1's director)."""
    from tests import support
    from tests.workflows.conftest import submit_unit
    from workflows import state

    def user(role, node):
        return support.make_user(role, node, f"{role}-{next(_seq)}@reports.test.arbor.ro")

    for s in (1, 2):
        school = tree.schools[f"{county}{s}"]
        for u in (1, 2):
            key = f"{county}{s}.{u}"
            submit_unit(campaign, tree, key, who.responsible if key == "A1.1" else user("unit_responsible",
                                                                                       tree.units[key]))
        state.transition(who.director if school.id == tree.schools["A1"].id else user("director", school),
                         campaign, school, "submit")
    state.transition(who.inspector if county == "A" else user("inspector", tree.counties[county]), campaign,
                     tree.counties[county], "submit")
