"""Production: HTTPS only (redirect, HSTS), secure cookies, security headers, ProxyFix trusting one proxy hop,
no-store on pages with personal data."""
from __future__ import annotations

import pytest

from tests.support import PASSWORD, TOTP_SECRET, totp_code


@pytest.fixture
def prod_app(make_app):
    """A production-configured app on the test database (its own app object; the test transaction is kept)."""
    return make_app({"ENV": "production", "SECRET_KEY": "prod-test-secret"})


HTTPS = {"X-Forwarded-Proto": "https", "X-Forwarded-For": "203.0.113.7", "Referer": "https://localhost/login"}


def test_plain_http_is_redirected_to_https(prod_app):
    c = prod_app.test_client()
    r = c.get("/login?next=/profile", base_url="http://localhost")
    assert r.status_code == 308 and r.location == "https://localhost/login?next=/profile"
    # A form posted over plain HTTP is redirected with its method kept (308), not turned into a GET.
    r = c.post("/login", data={"email": "x"}, base_url="http://localhost")
    assert r.status_code == 308 and r.location == "https://localhost/login"


def test_https_through_the_proxy_gets_hsts_and_the_headers(prod_app):
    c = prod_app.test_client()
    r = c.get("/login", headers=HTTPS, base_url="http://localhost")
    assert r.status_code == 200
    h = r.headers
    assert h["Strict-Transport-Security"].startswith("max-age=31536000")
    assert h["X-Frame-Options"] == "DENY" and h["X-Content-Type-Options"] == "nosniff"
    assert h["Referrer-Policy"] == "same-origin"
    assert "frame-ancestors 'none'" in h["Content-Security-Policy"] and "img-src 'self' data:" in \
        h["Content-Security-Policy"]
    cookie = h.get("Set-Cookie", "")
    assert "arbor_session=" in cookie and "Secure" in cookie and "HttpOnly" in cookie and "SameSite=Lax" in cookie
    # The scheme came from X-Forwarded-Proto (ProxyFix, one hop): links and redirects are https.
    assert prod_app.config["PROXY_FIX"] == 1 and prod_app.config["SESSION_COOKIE_SECURE"]


def test_a_spoofed_second_hop_is_not_trusted(prod_app):
    c = prod_app.test_client()
    # Only the last hop (our proxy) is believed: a client-supplied extra X-Forwarded-For entry is ignored.
    from flask import request

    seen = {}

    @prod_app.route("/_whoami")
    def _whoami():
        seen["addr"] = request.remote_addr
        return "ok"
    _whoami.access = None
    c.get("/_whoami", headers={"X-Forwarded-Proto": "https", "X-Forwarded-For": "1.2.3.4, 203.0.113.7"},
          base_url="http://localhost")
    assert seen["addr"] == "203.0.113.7"


def test_sign_in_over_https_and_no_store_on_personal_pages(prod_app, tree, make_user):
    teacher = make_user("teacher", tree.schools["A1"])
    c = prod_app.test_client()
    c.get("/login", headers=HTTPS, base_url="http://localhost")  # commits the test data
    r = c.post("/login", data={"email": teacher.email, "password": PASSWORD,
                               "csrf_token": _csrf(c)}, headers=HTTPS, base_url="http://localhost")
    assert r.status_code == 302 and r.location.endswith("/login/verify")
    r = c.post("/login/verify", data={"method": "totp", "code": totp_code(TOTP_SECRET, teacher),
                                      "csrf_token": _csrf(c, "/login/verify")},
               headers=HTTPS, base_url="http://localhost")
    assert r.status_code == 302
    device = c.get_cookie("arbor_device", domain="localhost")
    assert device is not None and device.secure and device.http_only
    r = c.get("/profile", headers=HTTPS, base_url="http://localhost")
    assert r.status_code == 200 and r.headers["Cache-Control"] == "no-store"


def _csrf(client, path="/login"):
    import re
    page = client.get(path, headers=HTTPS, base_url="http://localhost").get_data(as_text=True)
    return re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page).group(1)
