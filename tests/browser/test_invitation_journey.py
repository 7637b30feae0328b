"""Issue 3's journey on a phone: an inspector invites a director; the director accepts from the e-mail, chooses a
password, enrols an authenticator app (codes computed with pyotp from the secret the page shows), signs out and
signs back in with a code. The link then works no more."""
from __future__ import annotations

import email
import re
import time
from pathlib import Path
from urllib.parse import urlsplit

import pyotp
import pytest
from playwright.sync_api import expect

from tests.browser.helpers import assert_fits, click_and_wait, sign_in, sign_out

pytestmark = pytest.mark.browser

NEW_DIRECTOR = "director.nou@demo.arbor.ro"
PASSWORD = "brazi inalti pe Feleac 2026"


def _invitation_link(outbox: Path, to: str) -> str:
    """The /invite/… path from the newest message to ``to`` in the live app's outbox."""
    for _ in range(50):  # the mail job runs right after the commit; give it a moment
        for f in sorted(outbox.glob("*.eml"), key=lambda p: p.stat().st_mtime, reverse=True):
            msg = email.message_from_bytes(f.read_bytes())
            if to in (msg["To"] or ""):
                part = msg.get_body(preferencelist=("plain",)) if msg.is_multipart() else msg
                body = part.get_payload(decode=True).decode(part.get_content_charset() or "utf-8")
                found = re.search(r"/invite/[A-Za-z0-9._\-]+", body)
                assert found, f"no invitation link in the message: {body!r}"
                return found.group(0)
        time.sleep(0.1)
    raise AssertionError(f"no message to {to} in {outbox}")


def test_invited_director_accepts_enrols_totp_and_signs_back_in(page, live_app, live_server, demo_nodes):
    school = demo_nodes["0102000001"]  # the second Cluj school
    sign_in(page, "inspector.cluj@demo.arbor.ro")
    page.goto(f"{live_server}/nodes/{school.id}/invite")
    form = page.locator("form:has(select[name=role])")
    form.locator("input[name=email]").fill(NEW_DIRECTOR)
    form.locator("input[name=name]").fill("Ioana Director")
    form.locator("select[name=role]").select_option("director")
    click_and_wait(form.locator("button[type=submit]"))
    expect(page.locator("main")).to_contain_text(NEW_DIRECTOR)
    sign_out(page)

    link = _invitation_link(Path(live_app.app.config["MAIL_OUTBOX"]), NEW_DIRECTOR)
    page.goto(f"{live_server}{link}")
    expect(page.locator("main")).to_contain_text(school.name)
    assert_fits(page)
    accept = page.locator("form:has(input[name=confirm])")
    accept.locator("input[name=password]").fill(PASSWORD)
    accept.locator("input[name=confirm]").fill(PASSWORD)
    click_and_wait(accept.locator("button[type=submit]"))

    # Staff must enrol a second factor before anything else.
    assert "/profile/factors" in urlsplit(page.url).path, page.url
    page.goto(f"{live_server}/")
    assert "/profile/factors" in urlsplit(page.url).path, "the home page must not open before enrolment"
    click_and_wait(page.locator("a#enrol-totp"))
    secret = "".join(page.locator("#totp-secret").inner_text().split())
    totp = pyotp.TOTP(secret)
    enrol_step = int(time.time() // 30)
    page.locator("#code").fill(totp.at(enrol_step * 30))
    click_and_wait(page.locator("#totp-submit"))
    expect(page.locator("#recovery-done")).to_be_visible()
    assert_fits(page)
    click_and_wait(page.locator("#recovery-done"))
    page.goto(f"{live_server}/")
    expect(page.locator("main h1")).to_contain_text("Ioana Director")
    sign_out(page)

    # Back in with the password and the next code (each code signs in once).
    page.goto(f"{live_server}/login")
    page.locator("input[name=email]").fill(NEW_DIRECTOR)
    page.locator("input[name=password]").fill(PASSWORD)
    click_and_wait(page.locator("#login-submit"))
    assert "/login/verify" in page.url
    page.locator("#code").fill(totp.at(enrol_step * 30))  # the code already used at enrolment: refused
    click_and_wait(page.locator("#verify-submit"))
    assert "/login/verify" in page.url
    page.locator("#code").fill(totp.at((enrol_step + 1) * 30))
    click_and_wait(page.locator("#verify-submit"))
    expect(page.locator("main h1")).to_contain_text("Ioana Director")
    # Exactly the membership the invitation named: the school opens, another school of Cluj does not.
    page.goto(school.url)
    expect(page.locator("main h1")).to_contain_text(school.name)
    response = page.goto(demo_nodes["0101000001"].url)
    assert response.status == 404
    sign_out(page)

    # The link was single-use.
    response = page.goto(f"{live_server}{link}")
    assert response.status in (404, 410)
    expect(page.locator("main")).not_to_contain_text(NEW_DIRECTOR)
