"""Workflow refusals carry a stable code and params beside the English message (built from one table)."""
from __future__ import annotations

import re
from pathlib import Path

import pytest

from core.errors import Conflict, Forbidden, Invalid
from workflows import state as sm, values as wv
from workflows.errors import MESSAGES, Refusal, message, refuse
from workflows.state import transition

WORKFLOWS = Path(__file__).resolve().parents[2] / "workflows"
# The modules whose refusals all go through workflows.errors.
REFUSING = ("state.py", "values.py", "campaigns.py")
CODE = re.compile(r'refuse\(\s*\w+,\s*"([a-z_]+)"(?:\s+if\s.+?\selse\s+"([a-z_]+)")?|Refusal\(\s*"([a-z_]+)"')
LEVELS = {"inspectorate", "school", "unit", "class"}


def raised_codes() -> dict[str, str]:
    """Every refusal code written in workflows/*.py → the file it is in."""
    found = {}
    for path in sorted(WORKFLOWS.glob("*.py")):
        for m in CODE.finditer(path.read_text(encoding="utf-8")):
            for code in filter(None, m.groups()):
                found.setdefault(code, path.name)
    return found


def test_every_raised_code_has_an_english_message():
    codes = raised_codes()
    assert len(codes) >= 30
    assert sorted(set(codes) - set(MESSAGES)) == []
    assert sorted(set(MESSAGES) - set(codes)) == [], "a message nobody raises"


@pytest.mark.parametrize("name", REFUSING)
def test_refusals_go_through_the_table(name):
    source = (WORKFLOWS / name).read_text(encoding="utf-8")
    assert not re.findall(r"raise (?:Conflict|Forbidden|Invalid)\(", source)


def test_messages_and_details():
    assert message("locked_above", level="school", name="Școala A1") == "locked above: the school Școala A1 is locked"
    assert message("children_pending", count=1, child_level="class") == "1 class not submitted"
    assert message("children_pending", count=2, child_level="class") == "2 classes not submitted"
    assert message("role_may_not", action="request-extended", level="unit") == \
        "your role may not request extended this unit"
    assert message("stale_version", based_on=3, current=4).startswith(
        "the data changed since version 3 (now version 4)")
    assert message("form_not_published", form="x", version=None) == "form x vlatest is not published"
    assert message("no_such_code", a=1) == "no_such_code"
    e = refuse(Conflict, "children_pending", details={"pending": 2}, count=2, child_level="unit")
    assert isinstance(e, Conflict) and e.message == "2 units not submitted"
    assert e.details == {"pending": 2, "code": "children_pending", "params": {"count": 2, "child_level": "unit"}}
    r = Refusal("campaign_read_only", {"status": "closed"})
    assert str(r) == r.message == "the campaign is closed: read-only"


def test_a_transition_refusal_names_the_level_by_code(campaign, tree, who):
    transition(who.inspector, campaign, tree.schools["A1"], "lock")
    with pytest.raises(Conflict, match="locked above: the school Școala A1 is locked") as e:
        transition(who.responsible, campaign, tree.units["A1.1"], "submit")
    assert e.value.details == {"code": "locked_above", "params": {"level": "school", "name": "Școala A1"}}
    with pytest.raises(Conflict) as e:
        wv.save_values(who.responsible, campaign, tree.classes["A1.1.0"], {"ethnicity.roma": 1}, 0)
    assert e.value.details["code"] == "locked_above" and e.value.details["params"]["level"] in LEVELS
    with pytest.raises(Forbidden) as e:
        transition(who.director, campaign, tree.schools["A1"], "lock")
    assert e.value.details == {"code": "role_may_not", "params": {"action": "lock", "level": "school"}}
    with pytest.raises(Invalid) as e:
        transition(who.inspector, campaign, tree.units["A2.1"], "exclude", reason=" ")
    assert e.value.details == {"reason": "required", "code": "reason_required", "params": {"action": "exclude"}}


def test_stale_saves_keep_their_details(campaign, tree, who):
    cls = tree.classes["A1.1.0"]
    wv.save_values(who.helper, campaign, cls, {"ethnicity.roma": 4}, 0)
    with pytest.raises(Conflict) as e:
        wv.save_values(who.responsible, campaign, cls, {"ethnicity.roma": 2}, 0)
    d = e.value.details
    assert d["current_version"] == 1 and "ethnicity.roma" in d["changed_fields"]
    assert d["code"] == "stale_version" and d["params"] == {"based_on": 0, "current": 1}


def test_edit_refusal_and_the_english_blocker_agree(campaign, tree, who):
    cls = tree.classes["A1.1.0"]
    transition(who.responsible, campaign, cls, "lock")
    chain = sm.read_chain(sm.state_for(campaign, cls))
    r = sm.edit_refusal(campaign, chain, "class")
    assert (r.code, r.params) == ("locked", {"level": "class", "name": "1A"})
    assert sm.edit_blocker(campaign, chain, "class") == "locked: the class 1A is locked"
