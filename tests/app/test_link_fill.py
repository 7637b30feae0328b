"""The form teacher's link pages: the token is exchanged for a page session and a clean URL; the class table is
filled (page and JSON autosave) and submitted; every refusal gets its own page and reads or writes nothing; a
link for one class can never touch another; headers, audit trail (link N, hashed address) and timestamps."""
from __future__ import annotations

import datetime as dt
import re

import pytest
from sqlalchemy import func, inspect, select

from app.web.link_fill import SESSION_KEY
from core.audit import AuditEntry
from core.db import session
from tests.workflows.conftest import fill_class
from tenants.throttle import MemoryStore
from workflows import links, state as sm, values as wv
from workflows.models import CampaignValues, ClassLink


@pytest.fixture(autouse=True)
def _fresh_counts():
    MemoryStore.clear_all()
    yield
    MemoryStore.clear_all()


@pytest.fixture
def keys(app):
    return [*app.config.get("SECRET_KEY_FALLBACKS", []), app.config["SECRET_KEY"]]


@pytest.fixture
def teacher(app):
    """teacher() → an anonymous client that reads English pages."""
    def make():
        c = app.test_client()
        c.post("/language", data={"lang": "en"})
        return c
    return make


@pytest.fixture
def cls(tree):
    return tree.classes["A1.1.0"]


@pytest.fixture
def link(campaign, cls, who):
    issued = links.issue(who.responsible, campaign, cls, teacher_name="Ana Diriginte")
    session.commit()  # (a savepoint release: requests remove the session, which drops what is only flushed)
    return issued


@pytest.fixture
def token(link, keys):
    return links.token_for(link, keys)


def opened(teacher, token):
    """A client whose page session is bound to the link of ``token``."""
    c = teacher()
    r = c.get(f"/l/{token}")
    assert r.status_code == 303, r.status_code
    return c


def values_version(campaign, school_class) -> int:
    session.expire_all()
    return wv.get_values(campaign, school_class).version


def audit_count(action: str | None = None) -> int:
    q = select(func.count()).select_from(AuditEntry)
    if action:
        q = q.where(AuditEntry.action == action)
    return session.execute(q).scalar_one()


def fresh(link) -> ClassLink:
    session.expire_all()
    return session.get(ClassLink, inspect(link).identity[0])


def again(obj):
    """The test's object again, in the session the last request left behind."""
    return session.get(type(obj), inspect(obj).identity[0])


def version_of(page: str) -> int:
    return int(re.search(r'name="version" value="(\d+)"', page).group(1))


# --- open, fill, submit ---------------------------------------------------------------------------------------

def test_the_token_is_exchanged_for_a_session_and_a_clean_url(teacher, token, link, campaign, cls):
    c = teacher()
    r = c.get(f"/l/{token}")
    assert r.status_code == 303
    assert r.headers["Location"].endswith("/fill") and token not in r.headers["Location"]
    assert r.headers["Referrer-Policy"] == "no-referrer" and r.headers["Cache-Control"] == "no-store"
    with c.session_transaction() as s:
        entry = s[SESSION_KEY]
    assert entry["id"] == link.id and entry["v"] == link.version
    assert entry["exp"] <= links.aware(link.expires_at).timestamp()
    assert entry["exp"] <= dt.datetime.now(dt.UTC).timestamp() + 2 * 3600 + 5
    page = c.get("/fill")
    assert page.status_code == 200
    assert page.headers["Referrer-Policy"] == "no-referrer" and page.headers["Cache-Control"] == "no-store"
    html = page.get_data(as_text=True)
    assert token not in html
    assert cls.name in html and 'inputmode="numeric"' in html and 'name="ethnicity.roma"' in html
    assert 'value="20"' in html  # the pre-filled defaults (pupils from the class)
    assert fresh(link).opened_at is not None


def test_a_draft_saved_from_the_page_and_a_submit(teacher, token, link, campaign, cls):
    c = opened(teacher, token)
    v = version_of(c.get("/fill").get_data(as_text=True))
    r = c.post("/fill", data={"version": v, "op": "save", "ethnicity.roma": "3", "ethnicity.undeclared": "17"})
    assert r.status_code == 303 and r.headers["Location"].endswith("/fill")
    cur = wv.get_values(campaign, cls)
    assert cur.values["ethnicity.roma"] == 3 and cur.version == v + 1
    assert fresh(link).saved_at is not None
    # Submit with a rule still broken: saved, not submitted, the problems listed.
    r = c.post("/fill", data={"version": v + 1, "op": "submit", "last_benches.seats": ""})
    assert r.status_code == 200 and "problem(s) to fix" in r.get_data(as_text=True)
    assert sm.state_for(campaign, cls).state != "submitted"
    page = c.get("/fill").get_data(as_text=True)
    r = c.post("/fill", data={"version": version_of(page), "op": "submit", "last_benches.seats": "6"})
    assert r.status_code == 303 and r.headers["Location"].endswith("/fill/done")
    session.expire_all()
    assert sm.state_for(campaign, cls).state == "submitted"
    assert fresh(link).submitted_at is not None
    done = c.get("/fill/done")
    assert done.status_code == 200 and done.headers["Cache-Control"] == "no-store"
    html = done.get_data(as_text=True)
    assert 'id="submitted"' in html and "<input" not in html.split('id="submitted"')[1].split("</main>")[0]
    # Opening the link again now: the "submitted" page, no data.
    again = teacher().get(f"/l/{token}", follow_redirects=True)
    assert again.status_code == 409 and 'data-refusal="submitted"' in again.get_data(as_text=True)


def test_autosave_returns_sums_and_broken_rules_and_refuses_stale_versions(teacher, token, campaign, cls, who):
    c = opened(teacher, token)
    v = version_of(c.get("/fill").get_data(as_text=True))
    r = c.post("/fill/draft", json={"version": v, "values": {"ethnicity.roma": "5"}})
    assert r.status_code == 200, r.get_data(as_text=True)
    body = r.get_json()
    assert body["version"] == v + 1
    assert body["computed"]["total.ethnicity"] == "25"
    assert any("ethnicity.roma" in w["fields"] and "(25)" in w["message"] for w in body["warnings"])
    # A wrong type: not saved, the field named.
    r = c.post("/fill/draft", json={"version": v + 1, "values": {"ethnicity.roma": "abc"}})
    assert r.status_code == 422 and "ethnicity.roma" in r.get_json()["error"]["fields"]
    assert values_version(campaign, cls) == v + 1
    # Someone else (the unit) saves meanwhile: the teacher's stale save gets what changed.
    wv.save_values(again(who.responsible), again(campaign), again(cls), {"ethnicity.hungarian": 2}, v + 1)
    session.commit()
    r = c.post("/fill/draft", json={"version": v + 1, "values": {"ethnicity.roma": "4"}})
    assert r.status_code == 409
    err = r.get_json()["error"]
    assert err["code"] == "stale_version" and err["version"] == v + 2
    assert [ch["key"] for ch in err["changed"]] == ["ethnicity.hungarian"] and err["changed"][0]["now"] == "2"


def test_every_use_is_audited_as_the_link_with_a_hashed_address(teacher, token, link, keys):
    c = opened(teacher, token)
    v = version_of(c.get("/fill").get_data(as_text=True))
    c.post("/fill/draft", json={"version": v, "values": {"ethnicity.roma": "1"}})
    entries = session.execute(select(AuditEntry).where(AuditEntry.action.like("link.%"),
                                                       AuditEntry.object_id == str(link.id))
                              .order_by(AuditEntry.id)).scalars().all()
    uses = [e for e in entries if e.action in ("link.open", "link.visit", "link.save")]
    assert [e.action for e in uses] == ["link.open", "link.visit", "link.save"]
    for e in uses:
        assert e.actor == f"link {link.id}" and e.user_id is None
        assert e.new["address"] == links.address_hash("127.0.0.1", keys)
        assert "127.0.0.1" not in str(e.new) and "127.0.0.1" not in str(e.old)
    assert "ethnicity.roma" in uses[2].new["fields"] and uses[2].new["values_version"] == v + 1
    link = fresh(link)
    assert link.opened_at and link.saved_at and link.last_used_at


# --- refusals: the right page, nothing read, nothing written ---------------------------------------------------

def _refuse(kind, campaign, cls, who, link, token, keys):
    """Make ``token`` fail for reason ``kind``; returns the token to open."""
    if kind == "tampered":
        return token[:-2] + ("AA" if not token.endswith("AA") else "BB")
    if kind == "other_salt":
        from itsdangerous import URLSafeSerializer
        return URLSafeSerializer(keys, salt="arbor.invitation").dumps({"l": link.id, "v": link.version})
    if kind == "unknown_link":
        from itsdangerous import URLSafeSerializer
        import hashlib
        return URLSafeSerializer(keys, salt=links.SALT, signer_kwargs={"digest_method": hashlib.sha256}) \
            .dumps({"l": link.id + 1000, "v": 1})
    campaign, cls, who.responsible, link = again(campaign), again(cls), again(who.responsible), again(link)
    if kind == "expired":
        link.expires_at = dt.datetime.now(dt.UTC) - dt.timedelta(minutes=1)
    elif kind == "revoked":
        links.revoke(who.responsible, link)
        link.version -= 1  # the same version as the token: "revoked", not "superseded"
    elif kind == "superseded":
        links.issue(who.responsible, campaign, cls)
    elif kind == "locked":
        sm.transition(who.responsible, campaign, cls, "lock")
    elif kind == "submitted":
        fill_class(campaign, cls, who.responsible)
        sm.transition(who.responsible, campaign, cls, "submit")
    elif kind == "excluded":
        sm.transition(again(who.isg), campaign, cls.unit, "exclude", reason="Structura nu are elevi anul acesta.")
    elif kind == "closed":
        campaign.status = "closed"
    session.commit()  # (a savepoint release: the test's transaction still rolls back)
    return token


REFUSED = [("tampered", "invalid", 404), ("other_salt", "invalid", 404), ("unknown_link", "invalid", 404),
           ("expired", "expired", 410), ("revoked", "revoked", 410), ("superseded", "superseded", 410),
           ("locked", "locked", 423), ("submitted", "submitted", 409), ("excluded", "excluded", 409),
           ("closed", "closed", 409)]


def _no_class_data(html: str, cls) -> None:
    assert "<form" not in html.split('id="link-refused"')[1] and "ethnicity" not in html
    assert cls.name not in html and "Unitatea" not in html


@pytest.mark.parametrize("kind,code,status", REFUSED)
def test_opening_a_refused_link_shows_its_page_and_touches_nothing(kind, code, status, teacher, campaign, cls,
                                                                   who, link, token, keys):
    token = _refuse(kind, campaign, cls, who, link, token, keys)
    version, audits = values_version(campaign, cls), audit_count()
    c = teacher()
    r = c.get(f"/l/{token}")
    assert r.status_code == 303 and token not in r.headers["Location"] and "/l/" not in r.headers["Location"]
    assert r.get_data(as_text=True).count(token) == 0
    r = c.get(r.headers["Location"])
    assert r.status_code == status
    html = r.get_data(as_text=True)
    assert f'data-refusal="{code}"' in html and "unit responsible" in html
    assert r.headers["Referrer-Policy"] == "no-referrer" and r.headers["Cache-Control"] == "no-store"
    _no_class_data(html, cls)
    assert values_version(campaign, cls) == version and audit_count() == audits
    assert fresh(link).opened_at is None


@pytest.mark.parametrize("kind,code,status", [k for k in REFUSED if k[0] not in ("tampered", "other_salt",
                                                                                  "unknown_link")])
def test_a_refusal_after_opening_takes_effect_at_once(kind, code, status, teacher, campaign, cls, who, link, token,
                                                      keys):
    c = opened(teacher, token)
    v = version_of(c.get("/fill").get_data(as_text=True))
    _refuse(kind, campaign, cls, who, link, token, keys)
    version, audits = values_version(campaign, cls), audit_count()
    with c.session_transaction() as s:
        entry = s[SESSION_KEY]
    requests = [lambda: c.get("/fill"),
                lambda: c.post("/fill", data={"version": v, "op": "save", "ethnicity.roma": "7"}),
                lambda: c.post("/fill", data={"version": v, "op": "submit", "last_benches.seats": "6"})]
    for send in requests:
        with c.session_transaction() as s:  # a terminal refusal ends the page session: each request has one
            s[SESSION_KEY] = entry
        r = send()
        assert r.status_code == status
        html = r.get_data(as_text=True)
        assert f'data-refusal="{code}"' in html
        _no_class_data(html, cls)
    with c.session_transaction() as s:
        s[SESSION_KEY] = entry
    r = c.post("/fill/draft", json={"version": v, "values": {"ethnicity.roma": "7"}})
    assert r.status_code == status and r.get_json()["error"]["refusal"] == code
    if code in ("expired", "revoked", "superseded", "closed"):
        assert c.get("/fill").status_code == 403  # and the page session is over
    assert "ethnicity" not in r.get_data(as_text=True)
    assert values_version(campaign, cls) == version and audit_count() == audits


def test_without_a_page_session_there_is_nothing(teacher, campaign, cls, link):
    c = teacher()
    for r in (c.get("/fill"), c.post("/fill", data={"version": 0, "ethnicity.roma": "1"}), c.get("/fill/done")):
        assert r.status_code == 403 and 'data-refusal="session"' in r.get_data(as_text=True)
    r = c.post("/fill/draft", json={"version": 0, "values": {"ethnicity.roma": "1"}})
    assert r.status_code == 403 and r.get_json()["error"]["refusal"] == "session"
    assert values_version(campaign, cls) == 0


def test_an_expired_page_session_ends(teacher, token, campaign, cls):
    c = opened(teacher, token)
    with c.session_transaction() as s:
        s[SESSION_KEY] = {**s[SESSION_KEY], "exp": 1}
    r = c.get("/fill")
    assert r.status_code == 403 and 'data-refusal="session"' in r.get_data(as_text=True)
    with c.session_transaction() as s:
        assert SESSION_KEY not in s


# --- one link, one class --------------------------------------------------------------------------------------

def test_a_link_never_reads_or_writes_another_class(teacher, token, campaign, cls, tree, who, keys):
    other = tree.classes["A1.1.1"]
    other_link = links.issue(who.responsible, campaign, other)
    session.commit()
    c = opened(teacher, token)
    page = c.get("/fill").get_data(as_text=True)
    v = version_of(page)
    before_other = values_version(campaign, other)
    # Ids edited into the requests are ignored or refused: the class always comes from the link.
    r = c.post(f"/fill?class_id={other.id}&link_id={other_link.id}",
               data={"version": v, "op": "save", "class_id": other.id, "link_id": other_link.id,
                     "state_id": sm.state_for(campaign, other).id, "ethnicity.roma": "2"})
    assert r.status_code == 303
    r = c.post("/fill/draft", json={"version": v + 1, "class_id": other.id, "link_id": other_link.id,
                                    "values": {"ethnicity.roma": "4", "class_id": other.id}})
    assert r.status_code == 422  # an unknown field is refused, nothing saved
    assert values_version(campaign, other) == before_other
    assert wv.get_values(campaign, cls).values["ethnicity.roma"] == 2
    # The session cookie names the link; a cookie edited to name the other link fails its signature.
    import base64
    import json
    import zlib
    cookie = c.get_cookie("arbor_session").value
    compressed = cookie.startswith(".")
    payload, rest = cookie.lstrip(".").split(".", 1)
    raw = base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4))
    data = json.loads(zlib.decompress(raw) if compressed else raw)
    data[SESSION_KEY]["id"] = other_link.id
    raw = json.dumps(data, separators=(",", ":")).encode()
    forged = ("." if compressed else "") + base64.urlsafe_b64encode(zlib.compress(raw) if compressed else raw) \
        .decode().rstrip("=") + "." + rest
    assert forged != cookie
    c2 = teacher()
    c2.set_cookie("arbor_session", forged)
    r = c2.get("/fill")
    assert r.status_code == 403 and other.name not in r.get_data(as_text=True).split('id="link-refused"')[1]
    assert values_version(campaign, other) == before_other
    assert session.execute(select(func.count()).select_from(CampaignValues)
                           .where(CampaignValues.updated_by.like(f"link {other_link.id}%"))).scalar_one() == 0


def test_opening_another_link_rebinds_the_session(teacher, token, campaign, tree, who, keys, link):
    other = tree.classes["A1.1.1"]
    other_token = links.token_for(links.issue(who.responsible, campaign, other), keys)
    session.commit()
    c = opened(teacher, token)
    c.get(f"/l/{other_token}")
    html = c.get("/fill").get_data(as_text=True)
    assert f"Class {other.name}" in html
    with c.session_transaction() as s:
        assert s[SESSION_KEY]["id"] != link.id


# --- limits and logs --------------------------------------------------------------------------------------------

@pytest.fixture(params=["memory", pytest.param("redis", marks=pytest.mark.redis)])
def link_throttle(request, app, monkeypatch):
    """The app's throttle on its in-process store, or on a real Redis (fresh keys) as in production."""
    t = app.extensions["arbor_throttle"]
    if request.param == "redis":
        import uuid

        from tenants.throttle import RedisStore
        store = RedisStore.from_url(request.getfixturevalue("redis_url"), prefix=f"arbor:test-links:{uuid.uuid4()}:")
        monkeypatch.setattr(t, "store", store)
        yield t
        for key in store.redis.scan_iter(store.prefix + "*"):
            store.redis.delete(key)
    else:
        yield t


def test_rate_limits_per_link_and_per_address(link_throttle, monkeypatch, teacher, link, token, campaign, cls):
    from tenants.throttle import Rule
    rules = link_throttle.rules
    monkeypatch.setitem(rules, "link", Rule(limit=3, window=600, base=0, on_success="keep"))
    c = opened(teacher, token)  # 1
    assert c.get("/fill").status_code == 200  # 2
    assert c.get("/fill").status_code == 200  # 3
    r = c.get("/fill")
    assert r.status_code == 429 and 'data-refusal="limited"' in r.get_data(as_text=True)
    assert int(r.headers["Retry-After"]) > 0 and "ethnicity" not in r.get_data(as_text=True)
    r = c.post("/fill/draft", json={"version": 0, "values": {"ethnicity.roma": "1"}})
    assert r.status_code == 429 and values_version(campaign, cls) == 0
    # Per address, whatever the link (or a garbage token): the same answer.
    link_throttle.reset("link_address", "127.0.0.1")
    link_throttle.reset("link", str(inspect(link).identity[0]))
    monkeypatch.setitem(rules, "link_address", Rule(limit=2, window=600, base=0, on_success="keep"))
    anon = teacher()
    assert anon.get("/l/garbage", follow_redirects=True).status_code == 404
    r = anon.get(f"/l/{token}")
    assert r.status_code == 303 and token not in r.headers["Location"]
    r = anon.get(r.headers["Location"])
    assert r.status_code == 429 and 'data-refusal="limited"' in r.get_data(as_text=True)


def test_the_token_never_reaches_the_logs(app, caplog, token, link):
    """The request line werkzeug logs for /l/<token> is redacted (a real server, a real request)."""
    import http.client
    import logging
    import threading

    from werkzeug.serving import make_server
    caplog.set_level(logging.INFO)
    server = make_server("127.0.0.1", 0, app, threaded=False)
    thread = threading.Thread(target=server.handle_request, daemon=True)
    thread.start()
    try:
        conn = http.client.HTTPConnection("127.0.0.1", server.server_port, timeout=30)
        conn.request("GET", f"/l/{token}")
        response = conn.getresponse()
        response.read()
        thread.join(30)
    finally:
        server.server_close()
    assert response.status == 303 and token not in (response.getheader("Location") or "")
    lines = [r.getMessage() for r in caplog.records]
    assert any("/l/[token]" in line for line in lines), lines
    assert not any(token in line for line in lines)
    assert token not in caplog.text


def test_an_error_page_at_the_token_url_does_not_carry_the_token(app, token):
    """Error pages (say a 500 while opening a link) render the language switch, which carries the current URL
    back; at /l/<token> it must not."""
    from flask import render_template
    with app.test_request_context(f"/l/{token}"):
        page = render_template("error.html", status=500, message=None, details=None)
    assert 'class="lang"' in page and token not in page
    with app.test_request_context("/campaigns"):  # elsewhere the switch keeps the page
        assert 'name="next" value="/campaigns"' in render_template("error.html", status=500, message=None,
                                                                    details=None)


def test_a_stale_page_save_shows_what_changed_and_keeps_the_teachers_other_values(teacher, token, campaign, cls,
                                                                                   who):
    c = opened(teacher, token)
    v = version_of(c.get("/fill").get_data(as_text=True))
    wv.save_values(again(who.responsible), again(campaign), again(cls), {"ethnicity.hungarian": 2}, v)
    session.commit()
    r = c.post("/fill", data={"version": v, "op": "save", "ethnicity.hungarian": "1", "social_scholarship": "3"})
    assert r.status_code == 409
    html = r.get_data(as_text=True)
    rows = html.split('id="conflict-rows"')[1].split("</tbody>")[0]
    assert "Hungarian" in rows and "<td>2</td>" in rows and "<td>1</td>" in rows
    assert 'name="social_scholarship" value="3"' in html  # the teacher's other change is kept in the form
    assert version_of(html) == v + 1
    assert wv.get_values(again(campaign), again(cls)).values["social_scholarship"] == 0


def test_the_page_carries_every_formula_and_rule_for_the_browser(app, campaign, cls):
    """link-fill.js computes sums, shares and rules from these trees; a formula it cannot get is left to the
    server (then the list would be empty), so the class table must come through whole."""
    import json

    from app.web.link_fill import _logic
    cur = wv.get_values(campaign, cls)
    with app.test_request_context("/fill"):
        logic = _logic(cur.definition, cur.context)
    computed = [f.key for f in cur.definition.fields if not f.is_input]
    assert sorted(k for k, _tree, _d in logic["computed"]) == sorted(computed)
    assert [r["key"] for r in logic["rules"]] == [r.key for r in cur.definition.rules]
    assert ["sum", "ethnicity."] in [t for k, t, _d in logic["computed"] if k == "total.ethnicity"]
    assert logic["context"]["class.pupils"] == cls.pupils
    json.dumps(logic)  # it goes into a data- attribute as JSON
