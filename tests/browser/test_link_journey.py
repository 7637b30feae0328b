"""Issue 5's journey for the form teacher, on a phone (360 px), on the live demo: the unit responsible's link is
opened (the token gives way to a clean URL), values change with live sums and rules, the connection is lost (the
browser goes offline) while the teacher keeps typing — the values stay on the phone and the page says so — the
connection returns and the draft is saved, the table is submitted and summarised read-only; then the unit
responsible sees the class submitted on the campaign's progress page."""
from __future__ import annotations

import datetime as dt

import pytest
from playwright.sync_api import expect
from sqlalchemy import select

from core.db import session
from tests.browser.helpers import ACCOUNTS, assert_fits, click_and_wait, sign_in, watch_errors

pytestmark = pytest.mark.browser

CAMPAIGN = "Verificare link diriginte — colectare"


def _issue_link(live_app, unit_id: int, name: str = CAMPAIGN):
    """A campaign of its own (so other journeys keep theirs), launched, and the link of the demo unit's first
    class, issued by the unit responsible: (campaign id, class id, pupils, token)."""
    from tenants.models import SchoolClass, SchoolYear, User
    from workflows import campaigns, links
    with live_app.app.app_context():
        users = {u.email: u for u in session.execute(select(User)).scalars()}
        year = session.execute(select(SchoolYear).where(SchoolYear.current.is_(True))).scalar_one()
        campaign = campaigns.create_campaign(users[ACCOUNTS["comisie"][0]], name=name, school_year=year,
                                             deadline=dt.date.today() + dt.timedelta(days=30))
        campaigns.launch_campaign(users[ACCOUNTS["comisie"][0]], campaign, "Vă rugăm să completați tabelele.")
        cls = session.execute(select(SchoolClass).where(SchoolClass.unit_id == unit_id,
                                                        SchoolClass.school_year_id == year.id)
                              .order_by(SchoolClass.id)).scalars().first()
        link = links.issue(users[ACCOUNTS["responsabil"][0]], campaign, cls, teacher_name="Diriginta clasei")
        cfg = live_app.app.config
        token = links.token_for(link, [*cfg.get("SECRET_KEY_FALLBACKS", []), cfg["SECRET_KEY"]])
        out = (campaign.id, cls.id, cls.pupils, token)
        session.commit()
    return out


def _stored(live_app, class_id: int, campaign_id: int) -> tuple[int, dict]:
    """(version, values) of the class table as the server holds them now."""
    from workflows.models import Campaign, CampaignState, CampaignValues
    with live_app.app.app_context():
        session.expire_all()
        row = session.execute(select(CampaignValues).join(CampaignState, CampaignValues.state_id == CampaignState.id)
                              .where(CampaignState.campaign_id == campaign_id, CampaignState.class_id == class_id,
                                     CampaignValues.section == "class")).scalar_one()
        out = (row.version, dict(row.values or {}))
        assert session.get(Campaign, campaign_id) is not None
        session.rollback()
    return out


def unexpected(errors: list[str]) -> list[str]:
    """Script and console errors, but those the tests cause on purpose: loads that fail while the browser is
    offline, and the 409 of an autosave that meets a newer version (the conflict itself)."""
    return [e for e in errors if "ERR_INTERNET_DISCONNECTED" not in e
            and not ("/fill/draft" in e and "409" in e)]


def field(page, key: str):
    return page.locator(f"#link-form input[name='{key}']")


def test_form_teacher_fills_offline_and_submits_then_the_unit_sees_it(new_page, live_app, demo_keys):
    unit = demo_keys["unit"]
    cid, class_id, pupils, token = _issue_link(live_app, unit.id)
    teacher = new_page()
    errors = watch_errors(teacher)

    # 1. The link opens the class table at a clean URL, pre-filled from the class.
    response = teacher.goto(f"/l/{token}")
    assert response.status == 200 and teacher.url.endswith("/fill") and token not in teacher.url
    assert response.headers.get("cache-control") == "no-store"
    assert response.headers.get("referrer-policy") == "no-referrer"
    expect(field(teacher, "pupils")).to_have_value(str(pupils))
    expect(field(teacher, "ethnicity.undeclared")).to_have_value(str(pupils))
    expect(field(teacher, "ethnicity.roma")).to_have_attribute("inputmode", "numeric")
    assert_fits(teacher)
    assert token not in teacher.content()

    # 2. Values change: the sums follow as you type, a broken rule shows at once, and the draft is saved.
    status = teacher.locator("#save-status")
    field(teacher, "ethnicity.roma").fill("3")
    expect(teacher.locator("output[data-key='total.ethnicity']")).to_have_text(str(pupils + 3))
    expect(teacher.locator("#live-rules")).to_be_visible()
    expect(teacher.locator("#live-rules-list")).to_contain_text(f"({pupils + 3})")
    field(teacher, "ethnicity.undeclared").fill(str(pupils - 3))
    expect(teacher.locator("output[data-key='total.ethnicity']")).to_have_text(str(pupils))
    expect(teacher.locator("#live-rules")).to_be_hidden()
    expect(status).to_have_attribute("data-state", "saved")
    version, values = _stored(live_app, class_id, cid)
    assert values["ethnicity.roma"] == 3 and values["ethnicity.undeclared"] == pupils - 3
    assert_fits(teacher)

    # 3. The connection is lost; the teacher keeps typing: the values stay on the phone, and the page says so.
    teacher.context.set_offline(True)
    field(teacher, "last_benches.seats").fill("4")
    field(teacher, "social_scholarship").fill("2")
    expect(status).to_have_attribute("data-state", "offline")
    kept = teacher.evaluate("() => { const k = document.getElementById('link-form').dataset.draftKey;"
                            " return JSON.parse(localStorage.getItem(k) || 'null'); }")
    assert kept and kept["values"] == {"last_benches.seats": "4", "social_scholarship": "2"}, kept
    assert _stored(live_app, class_id, cid)[0] == version  # nothing reached the server
    assert_fits(teacher)

    # 4. The connection returns: the draft is sent and saved; nothing is left on the phone.
    teacher.context.set_offline(False)
    expect(status).to_have_attribute("data-state", "saved", timeout=20_000)
    saved_version, values = _stored(live_app, class_id, cid)
    assert saved_version > version and values["last_benches.seats"] == 4 and values["social_scholarship"] == 2
    assert teacher.evaluate("() => localStorage.getItem(document.getElementById('link-form').dataset.draftKey)") \
        is None

    # 5. Submit: a read-only summary of what was sent.
    click_and_wait(teacher.locator("#submit-button"))
    assert teacher.url.endswith("/fill/done")
    expect(teacher.locator("#submitted")).to_be_visible()
    expect(teacher.locator("main input:not([type=hidden])")).to_have_count(0)
    expect(teacher.locator("main [data-key='last_benches.seats']")).to_have_text("4")
    assert_fits(teacher)
    # Opening the link again now gives a page that says so, without the data.
    teacher.goto(f"/l/{token}")
    expect(teacher.locator("#link-refused")).to_have_attribute("data-refusal", "submitted")
    expect(teacher.locator("#link-form")).to_have_count(0)
    assert_fits(teacher)
    for why in ("invalid", "expired", "revoked", "superseded", "locked", "closed", "limited"):
        teacher.goto(f"/fill/refused?why={why}")
        expect(teacher.locator("#link-refused")).to_have_attribute("data-refusal", why)
        assert_fits(teacher)
    assert unexpected(errors) == [], errors

    # 6. The unit responsible sees the class submitted.
    responsible = new_page()
    sign_in(responsible, ACCOUNTS["responsabil"][0], reuse=True)
    response = responsible.goto(f"/campaigns/{cid}/nodes/{unit.id}")
    assert response.status == 200
    badge = responsible.locator(f"#children > li[data-class-id='{class_id}'] .wf-state").first
    expect(badge).to_have_attribute("data-state", "submitted")
    assert_fits(responsible)


def _unit_saves(live_app, campaign_id: int, class_id: int, values: dict) -> int:
    """The unit responsible saves the class table meanwhile (as on the signed-in entry page); the new version."""
    from tenants.models import SchoolClass, User
    from workflows import values as wv
    from workflows.models import Campaign
    with live_app.app.app_context():
        user = session.execute(select(User).where(User.email == ACCOUNTS["responsabil"][0])).scalar_one()
        campaign, cls = session.get(Campaign, campaign_id), session.get(SchoolClass, class_id)
        saved = wv.save_values(user, campaign, cls, values, wv.get_values(campaign, cls).version)
        session.commit()
        return saved.version


def test_offline_changes_meet_a_newer_save_the_teacher_sees_what_changed(new_page, live_app, demo_keys):
    cid, class_id, pupils, token = _issue_link(live_app, demo_keys["unit"].id, name=CAMPAIGN + " (conflict)")
    teacher = new_page()
    errors = watch_errors(teacher)
    teacher.goto(f"/l/{token}")
    status = teacher.locator("#save-status")
    teacher.context.set_offline(True)
    field(teacher, "ethnicity.roma").fill("2")
    field(teacher, "ethnicity.undeclared").fill(str(pupils - 2))
    expect(status).to_have_attribute("data-state", "offline")
    # Meanwhile the unit responsible corrects the same table.
    version = _unit_saves(live_app, cid, class_id, {"ethnicity.hungarian": 1, "ethnicity.undeclared": pupils - 1})
    teacher.context.set_offline(False)
    expect(status).to_have_attribute("data-state", "conflict", timeout=20_000)
    conflict = teacher.locator("#live-conflict")
    expect(conflict).to_be_visible()
    expect(conflict.locator("#conflict-rows tr")).to_have_count(2)  # Hungarian and undeclared changed
    expect(conflict.locator("#conflict-rows")).to_contain_text(str(pupils - 1))
    expect(field(teacher, "ethnicity.undeclared")).to_have_value(str(pupils - 2))  # the teacher's values stay
    expect(field(teacher, "ethnicity.roma")).to_have_value("2")
    assert _stored(live_app, class_id, cid) == (version, _stored(live_app, class_id, cid)[1])
    assert_fits(teacher)
    # The teacher checks and saves: the page posts the values against the newer version.
    click_and_wait(teacher.locator("#save-button"))
    expect(teacher.locator(".flash-ok")).to_have_count(1)
    saved_version, values = _stored(live_app, class_id, cid)
    assert saved_version == version + 1
    assert values["ethnicity.roma"] == 2 and values["ethnicity.undeclared"] == pupils - 2
    assert values["ethnicity.hungarian"] == 1  # the unit's change is kept
    assert teacher.evaluate("() => localStorage.getItem(document.getElementById('link-form').dataset.draftKey)") \
        is None
    assert unexpected(errors) == [], errors
