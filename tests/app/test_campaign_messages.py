"""The workflow's refusals on the pages: every code has a translation, and a Romanian page shows Romanian text."""
from __future__ import annotations

import pytest
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po

from app.config import ROOT
from app.web import campaign_messages as cm
from tests import support
from tests.workflows.test_errors import raised_codes
from workflows import state as sm
from workflows.errors import MESSAGES

TRANSLATIONS = ROOT / "app" / "translations"
# Sample params for every code (the shapes workflows/ raises).
NODE = {"level": "school", "name": "Școala A1"}
SAMPLES = {
    "unknown_action": {"action": "fly"}, "role_may_not": {"action": "lock", "level": "school"},
    "campaign_read_only": {"status": "closed"}, "children_pending": {"count": 2, "child_level": "class"},
    "reason_required": {"action": "exclude"}, "section_problems": {"section": "class", "count": 3},
    "no_such_section": {"level": "class", "section": "extended"}, "role_may_not_fill": {"level": "class"},
    "stale_version": {"based_on": 1, "current": 2}, "values_problems": {"count": 1},
    "form_not_published": {"form": "segregation.unit_form", "version": None, "section": "unit"},
    "form_wrong_scope": {"form": "segregation.class_table", "scope": "class", "section": "unit"},
    "ruleset_not_published": {"ruleset": "segregation", "version": None},
    "launch_not_draft": {"status": "running"}, "wrong_status": {"status": "draft", "expected": "running"},
}


@pytest.fixture(scope="module")
def compiled(app):
    """The .mo catalogs as the .po files say (scripts/setup normally compiles them)."""
    for lang in app.config["LANGUAGES"]:
        po = TRANSLATIONS / lang / "LC_MESSAGES" / "messages.po"
        mo = po.with_suffix(".mo")
        if not mo.exists() or mo.stat().st_mtime < po.stat().st_mtime:
            with open(po, "rb") as f, open(mo, "wb") as out:
                write_mo(out, read_po(f, locale=lang))
    with app.app_context():
        app.extensions["babel"].instance.domain_instance.cache.clear()


def test_every_code_raised_in_workflows_has_a_web_translation():
    codes = set(raised_codes()) | set(MESSAGES)
    assert sorted(codes - set(cm.TEXTS)) == []


def test_every_msgid_of_the_table_is_translated_to_romanian():
    with open(TRANSLATIONS / "ro" / "LC_MESSAGES" / "messages.po", "rb") as f:
        ro = read_po(f, locale="ro")
    ids = [e._args[0] for e in cm.TEXTS.values() if not callable(e)]
    ids += [e._args[0] for table in (cm.LEVEL_THE, cm.LEVEL_NOUN, cm.SECTION) for e in table.values()]
    missing = [i for i in ids if ro.get(i) is None or not ro.get(i).string]
    assert missing == []


@pytest.mark.parametrize("lang", ["ro", "en"])
def test_every_code_renders_without_falling_back(app, compiled, lang):
    with app.test_request_context(headers={"Accept-Language": lang}):
        from flask import session
        session["lang"] = lang
        for code in sorted(cm.TEXTS):
            params = SAMPLES.get(code, NODE)
            out = cm.text(code, params, fallback="FALLBACK")
            assert out and out != "FALLBACK" and "%(" not in out, code
        ro_or_en = cm.text("locked_above", NODE)
        assert ro_or_en == ("blocat la nivelul superior: școala Școala A1 are starea „blocat”" if lang == "ro"
                            else "locked above: the school Școala A1 is locked")
        assert cm.text("children_pending", {"count": 21, "child_level": "class"}) == (
            "21 de clase netrimise" if lang == "ro" else "21 classes not submitted")
        assert cm.text("no_such_code", {}, "the English message") == "the English message"


def _client(app, user):
    c = app.test_client()
    support.login(c, user)
    c.post("/language", data={"lang": "ro"})
    return c


def test_a_locked_school_shows_romanian_text_on_the_class_table(app, compiled, who, tree, campaign):
    sm.transition(who.inspector, campaign, tree.schools["A1"], "lock")
    cls = tree.classes["A1.1.0"]
    html = _client(app, who.responsible).get(f"/campaigns/{campaign.id}/classes/{cls.id}/table") \
        .get_data(as_text=True)
    assert 'id="read-only"' in html
    assert "Doar pentru citire: blocat la nivelul superior: școala Școala A1 are starea „blocat”." in html
    assert "locked above" not in html and "is locked" not in html


def test_refusals_flashed_and_403_pages_are_in_romanian(app, compiled, who, tree, campaign):
    cls = tree.classes["A1.1.0"]
    c = _client(app, who.responsible)
    url = f"/campaigns/{campaign.id}/classes/{cls.id}/actions"
    c.post(url, data={"action": "lock"})
    html = c.post(url, data={"action": "lock"}, follow_redirects=True).get_data(as_text=True)
    assert "Nu este posibil acum: clasa 1A are deja starea „blocat”" in html and "already locked" not in html
    c.post(url, data={"action": "unlock"})
    unit_url = f"/campaigns/{campaign.id}/nodes/{tree.units['A1.1'].id}/actions"
    html = c.post(unit_url, data={"action": "submit"}, follow_redirects=True).get_data(as_text=True)
    assert "Nu este posibil acum: 2 clase netrimise" in html and "not submitted" not in html
    r = _client(app, who.director).post(f"/campaigns/{campaign.id}/nodes/{tree.schools['A1'].id}/actions",
                                         data={"action": "lock"})
    html = r.get_data(as_text=True)
    assert r.status_code == 403
    assert "rolul dumneavoastră nu permite acțiunea „blocare” la nivel de școală" in html
    assert "role_may_not" not in html and "your role" not in html


def test_field_errors_of_a_draft_save_are_in_romanian(app, compiled, who, tree, campaign):
    cls = tree.classes["A1.1.0"]
    r = _client(app, who.responsible).post(f"/campaigns/{campaign.id}/classes/{cls.id}/table",
                                           data={"version": "0", "op": "save", "ethnicity.roma": "abc"})
    html = r.get_data(as_text=True)
    assert r.status_code == 422 and "Introduceți un număr întreg." in html and "Enter a whole number" not in html
