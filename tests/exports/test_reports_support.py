"""Helpers of the report tests (no tests here): the campaign people, the real data builder and renderers — or, while
``exports.report_data`` / ``exports.render`` are still being written, a tiny contract-shaped stand-in for them."""
from __future__ import annotations

import itertools

import pytest
from sqlalchemy import select

from core.db import session, utcnow
from core.errors import NotFound
from exports import reports
from tenants import queries
from tenants.models import Node
from workflows.models import CampaignState

EXTENDED_VALUES = {"commission.established": True, "plan.exists": False}


def tiny_build(campaign, node, *, version: int = 1, reason: str = "on_demand") -> dict:
    """A small report dict following the contract of exports.report_data (used only until the real one lands)."""
    from workflows import state as sm
    try:
        submitted = sm.state_for(campaign, node).state == "submitted"
    except NotFound:
        submitted = False
    return {"schema": 1, "campaign": {"id": campaign.id, "name": campaign.name, "school_year": "2025-2026"},
            "node": {"id": node.id, "level": node.level, "code": node.code, "name": node.name, "county": None,
                     "school": None},
            "version": version, "reason": reason, "provisional": not submitted, "generated_at": utcnow().isoformat(),
            "ruleset": {"key": campaign.ruleset_key, "version": campaign.ruleset_version},
            "completion": {"children_level": "class", "total": 2, "submitted": 2, "excluded": 0, "pending": 0},
            "totals": {"units": 1, "classes": 2, "pupils": 41, "units_at_risk": 1, "units_at_risk_share": 1.0,
                       "groups": {"ethnicity.roma": {"criterion": "ethnicity", "n": 5, "N": 41, "missing": 0,
                                                     "share": 0.122, "reference_share": 0.1, "gap_pp": 2.2,
                                                     "score": 6.0}}},
            "risk": [{"unit": {"id": node.id, "name": node.name}, "criterion": "ethnicity", "group": "ethnicity.roma",
                      "level": "class", "item": "c1", "item_name": "5A", "outcome": "risk", "score": 6.0,
                      "share": 0.6, "reference_share": 0.1, "gap_pp": 50.0, "codes": ["predominant"]}],
            "children": [{"id": k.id, "code": k.code, "name": k.name, "level": k.level, "state": "submitted",
                          "excluded": False, "exclusion_reason": None, "units": 1, "classes": 2, "pupils": 41,
                          "units_at_risk": 0, "at_risk": False, "groups": {}}
                         for k in session.execute(queries.children(node)).scalars()],
            "exclusions": [{"id": st.node_id, "code": st.node.code, "name": st.node.name, "level": st.level,
                            "reason": st.exclusion_reason} for st in session.execute(
                select(CampaignState).join(Node, Node.id == CampaignState.node_id).where(
                    CampaignState.campaign_id == campaign.id, CampaignState.class_id.is_(None),
                    CampaignState.excluded.is_(True), Node.path.like(node.path + "%"))).scalars()],
            "dissimilarity": {}, "aggregate": {}}


def tiny_render(fmt: str, data: dict, lang: str = "ro") -> bytes:
    return f"{fmt}\n".encode() + reports.canonical(data)


def tiny_filename(data: dict, fmt: str) -> str:
    return f"raport-{data['node']['id']}-v{data['version']}.{fmt}"


def _pending(fn, *args) -> bool:
    try:
        fn(*args)
    except NotImplementedError:
        return True
    except Exception:
        return False
    return False


def install_stand_ins(monkeypatch) -> None:
    """Swap in the stand-ins for what is not written yet (nothing once both modules have landed)."""
    from exports import render, report_data
    if _pending(report_data.build, None, None):
        monkeypatch.setattr(report_data, "build", tiny_build)
    if _pending(render.filename, {}, "csv"):
        monkeypatch.setattr(render, "render", tiny_render)
        monkeypatch.setattr(render, "filename", tiny_filename)


@pytest.fixture
def report_engine(app, monkeypatch):
    install_stand_ins(monkeypatch)


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
