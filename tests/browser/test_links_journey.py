"""Form-teacher links on a phone (360 px), on the live demo: the unit responsible goes from the unit's campaign page
to the class list, issues links for all classes, re-issues one for a named teacher with e-mail, sees its link page
(address and QR code), prints the QR sheet (one card per class) and revokes a link — every page fits the screen.
Statuses are read from ``data-link-status``, never from the (translated) text."""
from __future__ import annotations

import pytest
from sqlalchemy import select

from core.db import session
from tenants import demo
from tests.browser.helpers import ACCOUNTS, assert_fits, click_and_wait, sign_in
from workflows.models import Campaign

pytestmark = pytest.mark.browser


def _statuses(page) -> list[str]:
    return page.locator("#link-classes > li[data-class-id]").evaluate_all("els => els.map(e => e.dataset.linkStatus)")


def test_unit_responsible_manages_links_on_a_phone(page, demo_keys):
    cid = session.execute(select(Campaign.id).where(Campaign.name == demo.campaign_dates()[0])).scalar_one()
    session.remove()
    unit = demo_keys["unit"]
    sign_in(page, ACCOUNTS["responsabil"][0], reuse=True)
    page.goto(f"/campaigns/{cid}/nodes/{unit.id}")
    assert page.locator("#links-progress").count() == 1
    click_and_wait(page.locator("#links-manage-link"))
    assert page.url.endswith(f"/campaigns/{cid}/nodes/{unit.id}/links")
    assert_fits(page)
    classes = page.locator("#link-classes > li[data-class-id]").count()
    assert classes >= 1

    click_and_wait(page.locator("#issue-all button[type=submit]"))
    assert page.locator(".flash-ok").count() == 1
    assert "issued" in _statuses(page) and "not_issued" not in _statuses(page)
    assert_fits(page)

    # re-issue the first class's link for a named teacher, by e-mail (the form folds out on the phone)
    row = page.locator("#link-classes > li[data-class-id]").first
    row.locator("details.link-issue > summary").click()
    assert_fits(page)
    form = row.locator("details.link-issue form")
    form.locator("input[name=teacher_name]").fill("Ana Pop-Ionescu")
    form.locator("input[name=teacher_email]").fill("ana.pop-ionescu.diriginta@scoala-gimnaziala.demo.arbor.ro")
    form.locator("input[name=send_email]").check()
    click_and_wait(form.locator("button[type=submit]"))
    assert "/link" in page.url and page.locator("#link-qr").count() == 1
    url = page.locator("#link-url").input_value()
    assert "/l/" in url
    assert_fits(page)

    page.goto(f"/campaigns/{cid}/nodes/{unit.id}/links")
    assert page.locator("#link-classes > li[data-class-id]").first.get_attribute("data-link-version") == "2"
    assert_fits(page)  # with the teacher's long address in the row
    click_and_wait(page.locator("#qr-sheet-link"))
    cards = page.locator("#qr-cards > li.qr-card")
    assert cards.count() == classes
    assert cards.locator("img.qr").count() == classes
    assert url in cards.first.inner_text()
    assert_fits(page)

    page.goto(f"/campaigns/{cid}/nodes/{unit.id}/links")
    click_and_wait(page.locator("#link-classes > li[data-class-id]").first.locator(
        "form[action$='/revoke'] button"))
    assert _statuses(page)[0] == "revoked"
    assert_fits(page)
