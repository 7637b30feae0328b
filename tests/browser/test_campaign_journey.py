"""Issue 4's journey on phones (360 px), one browser context per person, on the live demo:

the commission creates and launches a campaign → the Cluj inspector locks the demo school (the unit sees its class
table read-only) and unlocks it, excludes a unit of another school with a reason (refused without one) → the unit
responsible fills the class tables (a submit with a missing value lists the broken rules) and the unit form, and
submits the unit → the director submits the school → the inspector excludes the other schools and submits the
county → the commission reopens the county → the inspector reopens the school → the director reopens the unit →
the unit reopens a class, corrects it, and resubmits class and unit; then the extended-monitoring round trip
(inspector requests, unit fills and submits, inspector sees it submitted).

Every state change is read from the progress pages' ``data-state`` / ``data-locked`` / ``data-excluded`` /
``data-extended`` attributes (``.wf-state``), never from the (translated) text.
"""
from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from tests.browser.helpers import ACCOUNTS, assert_fits, click_and_wait, reveal, sign_in

pytestmark = pytest.mark.browser

CAMPAIGN = "Verificare în browser — colectare 2025–2026"
INVITATION = "Vă rugăm să completați datele până la termen. Mulțumim!"
EXCLUDE_UNIT = "Structura este în renovare și nu are elevi în acest an."
EXCLUDE_SCHOOL = "Școala raportează în altă campanie."
REOPEN_COUNTY = "Comisia cere verificarea datelor Liceului Avram Iancu."
REOPEN_SCHOOL = "Date de verificat la unitate."
REOPEN_UNIT = "Corectați locurile din ultimele bănci la clasa pregătitoare."
REOPEN_CLASS = "Număr greșit de locuri în ultimele bănci."


# --- helpers ----------------------------------------------------------------------------------------------------

def person(new_page, who: str):
    page = new_page()
    sign_in(page, ACCOUNTS[who][0], reuse=True)
    return page


def progress(page, cid: int, node_id: int) -> None:
    response = page.goto(f"/campaigns/{cid}/nodes/{node_id}")
    assert response.status == 200, f"{page.url} → {response.status}"


def row(page, node_id: int):
    """The row of a child node on a progress page."""
    return page.locator(f"#children > li[data-node-id='{node_id}']:not([data-class-id])")


def class_row(page, class_id: int):
    return page.locator(f"#children > li[data-class-id='{class_id}']")


def expect_state(scope, **attrs) -> None:
    """``scope``'s state badges carry these data- attributes (state=…, locked="yes"/"no", excluded=…, extended=…)."""
    badge = scope.locator(".wf-state").first
    for name, value in attrs.items():
        expect(badge).to_have_attribute(f"data-{name}", value)


def flashed_ok(page) -> None:
    expect(page.locator(".flash-ok")).to_have_count(1)
    expect(page.locator(".flash-error")).to_have_count(0)


def act(scope, action: str, reason: str | None = None) -> None:
    """Post ``action`` from the action form inside ``scope`` (a row's folded actions or the node's own), with a
    reason when given; the page must say it was done."""
    form = scope.locator(f"form[data-action='{action}']")
    expect(form).to_have_count(1)
    reveal(form)
    if reason is not None:
        form.locator("input[name=reason]").fill(reason)
    click_and_wait(form.locator("button[type=submit]"))
    flashed_ok(form.page)


def entry(page, name: str):
    return page.locator(f"#entry-form [name='{name}']")


def save(page, op: str) -> None:
    """Press "Save draft" (op="save") or "Save and submit" (op="submit") on a data entry page."""
    click_and_wait(page.locator(f"#entry-form button[name=op][value={op}]"))


def problems(page) -> list[str]:
    box = page.locator("#problems")
    expect(box).to_be_visible()
    return box.locator("li").all_inner_texts()


# --- the journey --------------------------------------------------------------------------------------------------

def test_campaign_journey_lock_submit_reopen_and_extended(new_page, demo_keys, demo_nodes):
    ministry, cj, school, unit = (demo_keys[k] for k in ("ministry", "CJ", "school", "unit"))
    cluj_schools = sorted((n for n in demo_nodes.values() if n.parent_id == cj.id), key=lambda n: n.id)
    others = [s for s in cluj_schools if s.id != school.id]
    assert len(others) >= 1 and all(n.level == "school" for n in cluj_schools)
    units_of = {s.id: [n for n in demo_nodes.values() if n.parent_id == s.id] for s in others}
    elsewhere = max(others, key=lambda s: (len(units_of[s.id]), -s.id))  # the other school with most units
    excluded_unit = max(units_of[elsewhere.id], key=lambda n: n.id)

    # 1. The commission creates the campaign (a draft) and launches it with an invitation.
    commission = person(new_page, "comisie")
    commission.goto("/campaigns")
    assert_fits(commission)
    click_and_wait(commission.locator("main a[href$='/campaigns/new']"))
    form = commission.locator("#campaign-form")
    form.locator("input[name=name]").fill(CAMPAIGN)
    form.locator("input[name=deadline]").fill("2026-04-30")
    assert_fits(commission)
    click_and_wait(form.locator("button[type=submit]"))
    flashed_ok(commission)
    found = re.search(r"/campaigns/(\d+)/nodes/(\d+)$", commission.url)
    assert found and int(found.group(2)) == ministry.id, commission.url
    cid = int(found.group(1))
    expect(commission.locator("main .badge.status-draft")).to_have_count(1)
    expect(commission.locator("#children")).to_have_count(0)  # a draft has no snapshot yet
    launch = commission.locator("#launch-form")
    launch.locator("textarea[name=message]").fill(INVITATION)
    assert_fits(commission)
    click_and_wait(launch.locator("button[type=submit]"))
    flashed_ok(commission)
    expect(commission.locator("main .badge.status-running")).to_have_count(1)
    for county in ("CJ", "IS", "B"):
        expect_state(row(commission, demo_keys[county].id), state="not_started", locked="no")
    assert_fits(commission)

    # 2. The inspector locks the demo school; the unit below sees its tables read-only; then unlocks it.
    inspector = person(new_page, "inspector.cluj")
    progress(inspector, cid, cj.id)
    expect_state(inspector.locator("#node-state"), state="not_started")
    expect(inspector.locator("#children > li")).to_have_count(len(cluj_schools))
    act(row(inspector, school.id), "lock")
    expect_state(row(inspector, school.id), locked="yes")

    responsible = person(new_page, "responsabil")
    progress(responsible, cid, unit.id)
    class_ids = [int(x) for x in responsible.locator("#children > li[data-class-id]").evaluate_all(
        "els => els.map(e => e.dataset.classId)")]
    assert len(class_ids) >= 2, "the demo unit has classes"
    responsible.goto(f"/campaigns/{cid}/classes/{class_ids[0]}/table")
    expect(responsible.locator("#read-only")).to_be_visible()  # locked above: nothing to edit
    expect(responsible.locator("#entry-form")).to_have_count(0)

    reveal(row(inspector, school.id).locator("form[data-action='unlock']"))
    assert_fits(inspector)  # with a row's actions unfolded
    act(row(inspector, school.id), "unlock")
    expect_state(row(inspector, school.id), locked="no")

    # 3. The inspector excludes a unit of another school: not without a reason, then with one.
    progress(inspector, cid, elsewhere.id)
    target = row(inspector, excluded_unit.id)
    exclude = target.locator("form[data-action='exclude']")
    reveal(exclude)
    reason = exclude.locator("input[name=reason]")
    expect(reason).to_have_attribute("required", "")
    reason.evaluate("e => e.removeAttribute('required')")  # past the browser's check: the server refuses too
    click_and_wait(exclude.locator("button[type=submit]"))
    expect(inspector.locator(".flash-error")).to_have_count(1)
    expect_state(row(inspector, excluded_unit.id), excluded="no")
    act(row(inspector, excluded_unit.id), "exclude", EXCLUDE_UNIT)
    expect_state(row(inspector, excluded_unit.id), excluded="yes")
    expect(row(inspector, excluded_unit.id).locator(".exclusion-reason")).to_contain_text(EXCLUDE_UNIT)
    assert_fits(inspector)
    progress(inspector, cid, excluded_unit.id)
    expect_state(inspector.locator("#node-state"), excluded="yes")
    expect(inspector.locator("#exclusion-reason")).to_have_text(EXCLUDE_UNIT)
    expect(inspector.locator("#history")).to_contain_text(EXCLUDE_UNIT)

    # 4. The unit fills its class tables: a submit with the last-benches seats missing lists the broken rule.
    responsible.goto(f"/campaigns/{cid}/classes/{class_ids[0]}/table")
    expect(responsible.locator("#entry-form")).to_be_visible()
    save(responsible, "submit")
    assert problems(responsible), "the refused submit lists what is missing"
    expect(responsible.locator("#entry-form [name='last_benches.seats']")).to_have_attribute("aria-invalid", "true")
    expect(responsible.locator(".flash-error")).to_have_count(1)
    expect_state(responsible.locator("#entry-state"), state="in_progress")
    assert_fits(responsible)
    for i, class_id in enumerate(class_ids):
        if i:
            responsible.goto(f"/campaigns/{cid}/classes/{class_id}/table")
        entry(responsible, "last_benches.seats").fill("6")
        save(responsible, "submit")
        flashed_ok(responsible)
        expect_state(responsible.locator("#entry-state"), state="submitted")
        expect(responsible.locator("#entry-form")).to_have_count(0)  # submitted: read-only
    assert_fits(responsible)

    # … and the unit form: refused without its notes, saved as a draft, then saved and submitted.
    progress(responsible, cid, unit.id)
    for class_id in class_ids:
        expect_state(class_row(responsible, class_id), state="submitted")
    click_and_wait(responsible.locator("#unit-form-link"))
    save(responsible, "submit")
    assert len(problems(responsible)) == 1
    expect(entry(responsible, "buildings.notes")).to_have_attribute("aria-invalid", "true")
    entry(responsible, "buildings.notes").fill("Toate clasele învață în corpul A.")
    version = int(responsible.locator("#entry-version").inner_text())
    save(responsible, "save")
    flashed_ok(responsible)
    expect(responsible.locator("#entry-version")).to_have_text(str(version + 1))
    expect_state(responsible.locator("#entry-state"), state="in_progress")
    assert_fits(responsible)
    save(responsible, "submit")
    flashed_ok(responsible)
    expect_state(responsible.locator("#entry-state"), state="submitted")
    progress(responsible, cid, unit.id)
    expect_state(responsible.locator("#node-state"), state="submitted")

    # 5. The director sees the unit submitted and submits the school.
    director = person(new_page, "director")
    progress(director, cid, school.id)
    expect_state(row(director, unit.id), state="submitted")
    act(director.locator("#node-actions"), "submit")
    expect_state(director.locator("#node-state"), state="submitted")
    assert_fits(director)

    # 6. The inspector excludes the other Cluj schools (they report elsewhere) and submits the county.
    progress(inspector, cid, cj.id)
    expect_state(row(inspector, school.id), state="submitted")
    expect(inspector.locator("#node-actions form[data-action='submit']")).to_have_count(0)  # schools pending
    for other in others:
        act(row(inspector, other.id), "exclude", EXCLUDE_SCHOOL)
        expect_state(row(inspector, other.id), excluded="yes")
    act(inspector.locator("#node-actions"), "submit")
    expect_state(inspector.locator("#node-state"), state="submitted")
    # A submitted county: the school below cannot be reopened before the county is.
    expect(row(inspector, school.id).locator("form[data-action='reopen']")).to_have_count(0)
    assert_fits(inspector)

    # 7. The commission sees the county submitted and reopens it, with a reason.
    progress(commission, cid, ministry.id)
    expect_state(row(commission, cj.id), state="submitted")
    reopen = row(commission, cj.id).locator("form[data-action='reopen']")
    reveal(reopen)
    expect(reopen.locator("input[name=reason]")).to_have_attribute("required", "")
    act(row(commission, cj.id), "reopen", REOPEN_COUNTY)
    expect_state(row(commission, cj.id), state="in_progress")

    # 8. The inspector reopens the school.
    progress(inspector, cid, cj.id)
    expect_state(inspector.locator("#node-state"), state="in_progress")
    expect(inspector.locator("#history")).to_contain_text(REOPEN_COUNTY)
    act(row(inspector, school.id), "reopen", REOPEN_SCHOOL)
    expect_state(row(inspector, school.id), state="in_progress")

    # 9. The director reopens the unit.
    progress(director, cid, school.id)
    expect_state(director.locator("#node-state"), state="in_progress")
    act(row(director, unit.id), "reopen", REOPEN_UNIT)
    expect_state(row(director, unit.id), state="in_progress")

    # 10. The unit reopens a class, corrects it, resubmits it, then resubmits the unit from its form.
    progress(responsible, cid, unit.id)
    expect_state(responsible.locator("#node-state"), state="in_progress")
    expect(responsible.locator("#history")).to_contain_text(REOPEN_UNIT)
    responsible.goto(f"/campaigns/{cid}/classes/{class_ids[0]}/table")
    expect(responsible.locator("#entry-form")).to_have_count(0)  # still submitted
    act(responsible.locator("#entry-actions"), "reopen", REOPEN_CLASS)
    expect_state(responsible.locator("#entry-state"), state="in_progress")
    entry(responsible, "last_benches.seats").fill("4")
    save(responsible, "submit")
    flashed_ok(responsible)
    expect_state(responsible.locator("#entry-state"), state="submitted")
    responsible.goto(f"/campaigns/{cid}/nodes/{unit.id}/form")
    entry(responsible, "buildings.notes").fill("Toate clasele învață în corpul A; locurile corectate.")
    save(responsible, "submit")
    flashed_ok(responsible)
    expect_state(responsible.locator("#entry-state"), state="submitted")
    progress(director, cid, school.id)
    expect_state(row(director, unit.id), state="submitted")

    # 11. Extended monitoring: the inspector requests the section of the (submitted) unit …
    progress(inspector, cid, unit.id)
    expect_state(inspector.locator("#node-state"), state="submitted", extended="none")
    act(inspector.locator("#node-actions"), "request-extended")
    expect_state(inspector.locator("#node-state"), state="submitted", extended="requested")
    # … the unit fills it (a submit with nothing filled is refused with the rules broken) and submits it …
    progress(responsible, cid, unit.id)
    click_and_wait(responsible.locator("#extended-link"))
    save(responsible, "submit")
    assert len(problems(responsible)) >= 2
    expect_state(responsible.locator("#entry-state"), extended="requested")
    entry(responsible, "commission.established").select_option("yes")
    entry(responsible, "plan.exists").select_option("no")
    assert_fits(responsible)
    save(responsible, "submit")
    flashed_ok(responsible)
    expect_state(responsible.locator("#entry-state"), state="submitted", extended="submitted")
    expect(responsible.locator("#entry-form")).to_have_count(0)
    # … and the inspector sees it submitted, on the unit and in the school's list.
    progress(inspector, cid, unit.id)
    expect_state(inspector.locator("#node-state"), extended="submitted")
    progress(inspector, cid, school.id)
    expect_state(row(inspector, unit.id), state="submitted", extended="submitted")
    assert_fits(inspector)
