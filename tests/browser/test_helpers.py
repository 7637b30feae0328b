"""The browser helpers themselves: sign-in copes with each shape the second factor may take, and the 360 px check
names the element that sticks out. A small stand-in app plays the sign-in flows."""
from __future__ import annotations

import threading
import time
from types import SimpleNamespace

import pyotp
import pytest
from flask import Flask, redirect, request, session

from tenants import demo
from tests.browser import helpers

pytestmark = pytest.mark.browser

EMAIL = "stub.user@demo.arbor.ro"
SHELL = ("<!doctype html><html><body><header><form method='post' action='/logout'><button>Sign out</button>"
         "</form></header><main>{}</main></body></html>")
LOGIN = ("<!doctype html><html><body><main><p class='flash'>{}</p><form method='post'>"
         "<input name='email'><input name='password' type='password'><button type='submit'>Sign in</button>"
         "</form></main></body></html>")
CODE = "<form method='post'><input name='code'><button type='submit'>Continue</button></form>"


def _stub_app(mode: str) -> Flask:
    """Sign-in as Arbor's 2FA flow does it. mode "plain": the password only; "totp": the account has the demo
    factor, a code page follows the password; "enrol": no factor yet, so enrolment (a page linking to the app
    set-up, the secret in #totp-secret, then recovery codes), and the code page on later sign-ins."""
    app = Flask(__name__)
    app.secret_key = "stub"
    account = {"secret": demo.demo_totp_secret(EMAIL) if mode == "totp" else None, "last_step": -1}
    app.config["ACCOUNT"] = account

    def step_of(secret: str, code: str) -> int | None:
        now = int(time.time() // 30)
        return next((s for s in (now - 1, now, now + 1) if pyotp.TOTP(secret).at(s * 30) == code), None)

    @app.route("/login", methods=["GET", "POST"])
    def login():
        if request.method == "POST":
            if request.form.get("email") != EMAIL or request.form.get("password") != demo.DEMO_PASSWORD:
                return LOGIN.format("Wrong e-mail or password.")
            session.clear()
            if mode == "plain":
                session["user"] = True
                return redirect("/done")
            if account["secret"]:
                return redirect("/login/verify")
            session["half"] = True
            return redirect("/profile/factors/add")
        return LOGIN.format("")

    @app.route("/login/verify", methods=["GET", "POST"])
    def verify():
        if request.method == "POST":
            step = step_of(account["secret"], request.form["code"])
            if step is not None and step > account["last_step"]:  # a code works once
                account["last_step"] = step
                session["user"] = True
                return redirect("/done")
        return "<main><h1>Second step</h1>" + CODE + "</main>"

    @app.route("/profile/factors/add")
    def enrol():
        return SHELL.format("<a id='enrol-totp' href='/profile/factors/totp'>Set up the app</a>")

    @app.route("/profile/factors/totp", methods=["GET", "POST"])
    def enrol_totp():
        secret = session.setdefault("pending", pyotp.random_base32())
        if request.method == "POST":
            step = step_of(secret, request.form["code"])
            if step is not None:
                account.update(secret=secret, last_step=step)
                session["user"], session["half"] = True, False
                return SHELL.format("<ul id='recovery-codes'><li>abcd-efgh</li></ul>"
                                    "<a id='recovery-done' class='button' href='/done'>I saved them</a>")
        grouped = " ".join(secret[i:i + 4] for i in range(0, len(secret), 4))
        return SHELL.format(f"<code id='totp-secret'>{grouped}</code>{CODE}")

    @app.route("/")
    @app.route("/done")
    def done():
        if session.get("half"):
            return redirect("/profile/factors/add")
        return SHELL.format("<h1>Welcome</h1>") if session.get("user") else redirect("/login")

    return app


@pytest.fixture
def stub(request):
    from werkzeug.serving import make_server
    app = _stub_app(request.param)
    server = make_server("127.0.0.1", 0, app, threaded=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield SimpleNamespace(url=f"http://127.0.0.1:{server.server_port}", account=app.config["ACCOUNT"])
    server.shutdown()
    server.server_close()


@pytest.mark.parametrize("stub", ["plain", "totp", "enrol"], indirect=True)
def test_sign_in_copes_with_each_second_factor_flow(new_page, stub, request):
    steps = []
    for _ in range(2):  # twice in a row: the second time, this time step's code is spent
        page = new_page()
        helpers.sign_in(page, EMAIL, base=stub.url)
        assert page.url == f"{stub.url}/done"
        assert page.locator("main h1").inner_text() == "Welcome"
        steps.append(stub.account["last_step"])
    if request.node.callspec.params["stub"] == "plain":
        assert steps == [-1, -1]
    else:
        assert steps[0] > 0 and steps[1] > steps[0], steps  # a code each time, never the same one
    page = new_page()  # a second tab of the last session: no code needed
    helpers.sign_in(page, EMAIL, base=stub.url, reuse=True)
    assert page.locator("main h1").inner_text() == "Welcome"
    assert stub.account["last_step"] == steps[-1]


@pytest.mark.parametrize("stub", ["plain"], indirect=True)
def test_sign_in_reports_a_refused_password(page, stub):
    with pytest.raises(helpers.SignInError, match="Wrong e-mail or password"):
        helpers.sign_in(page, EMAIL, password="nope", base=stub.url)


def test_overflow_names_the_culprit_and_ignores_scrolling_tables(page):
    wide_table = "<div style='overflow-x:auto'><table><tr><td style='min-width:900px'>wide</td></tr></table></div>"
    page.set_content(f"<html><body style='margin:0'><main>{wide_table}<p>short</p></main></body></html>")
    assert helpers.horizontal_overflow(page) is None
    page.set_content("<html><body style='margin:0'><main><div class='card x'><pre id='long'>"
                     + "x" * 200 + "</pre></div></main></body></html>")
    problem = helpers.horizontal_overflow(page)
    assert problem is not None and "scrollWidth" in problem
    assert "main > div.card.x > pre#long" in problem, problem
    assert "div.card.x> " not in problem  # the innermost offender only
