"""The API under /api/v1: personal access tokens, JSON errors with the right status, scoping, pagination, jobs."""
from __future__ import annotations

import datetime as dt
import hashlib
import re

import pytest
from sqlalchemy import select

import tests.exports.sample_tasks  # noqa: F401  (registers the tasks the job tests enqueue)
from core.audit import AuditEntry
from core.db import session, utcnow
from exports import jobs
from exports.models import Job
from tenants import operations
from tenants.models import ApiToken


@pytest.fixture
def token_for():
    """token_for(user, scopes="read write", expires_at=None) → the Authorization header of a fresh token."""
    def make(user, scopes: str = "read write", expires_at=None) -> dict:
        _tok, raw = operations.issue_token(user, "test", scopes, expires_at=expires_at)
        return {"Authorization": f"Bearer {raw}"}
    return make


def assert_error(r, status: int, code: str | None = None) -> dict:
    assert r.status_code == status, r.get_data(as_text=True)
    assert r.is_json, r.get_data(as_text=True)[:200]
    err = r.json["error"]
    assert set(err) == {"code", "message", "details"} and err["message"]
    if code:
        assert err["code"] == code
    return err


# --- tokens ------------------------------------------------------------------------------------------------

def test_a_token_is_stored_only_as_its_sha256(tree, make_user):
    user = make_user("inspector", tree.a)
    tok, raw = operations.issue_token(user, "laptop")
    session.flush()
    assert raw.startswith("arb_") and len(raw) > 40
    assert tok.token_hash == hashlib.sha256(raw.encode()).hexdigest()
    stored = [str(v) for row in session.execute(select(ApiToken.__table__)).all() for v in row]
    stored += [str(v) for row in session.execute(select(AuditEntry.__table__)).all() for v in row]
    assert not any(raw in v or raw[10:] in v for v in stored)  # only the short display prefix is kept


def test_a_token_acts_as_its_owner(client, tree, make_user, token_for):
    user = make_user("inspector", tree.a, name="Ana Inspector")
    r = client.get("/api/v1/me", headers=token_for(user))
    assert r.status_code == 200
    assert (r.json["id"], r.json["name"]) == (user.id, "Ana Inspector")
    assert r.json["memberships"] == [{"node_id": tree.a.id, "role": "inspector", "level": "inspectorate"}]
    assert r.headers["Cache-Control"] == "no-store"
    assert "Set-Cookie" not in r.headers  # a token call opens no session


@pytest.mark.parametrize("case", ["missing", "garbage", "unprefixed", "basic", "empty_bearer", "revoked", "expired",
                                  "inactive_user"])
def test_bad_credentials_get_a_json_401(client, tree, make_user, token_for, case):
    user = make_user("inspector", tree.a)
    header = token_for(user)
    raw = header["Authorization"].split()[1]
    tok = session.execute(select(ApiToken).where(ApiToken.user_id == user.id)).scalar_one()
    headers = {"missing": {}, "garbage": {"Authorization": "Bearer arb_" + "x" * 43},
               "unprefixed": {"Authorization": "Bearer " + raw[4:]}, "basic": {"Authorization": f"Basic {raw}"},
               "empty_bearer": {"Authorization": "Bearer "}}.get(case, header)
    if case == "revoked":
        operations.revoke_token(tok)
    elif case == "expired":
        tok.expires_at = utcnow() - dt.timedelta(seconds=1)
    elif case == "inactive_user":
        user.active = False
    session.flush()
    r = client.get("/api/v1/me", headers=headers)
    assert_error(r, 401, "unauthenticated")
    assert r.headers["WWW-Authenticate"].startswith("Bearer")
    if case != "missing":
        assert 'error="invalid_token"' in r.headers["WWW-Authenticate"]


def test_a_bad_token_is_refused_even_with_a_valid_session_cookie(client, tree, make_user, login):
    user = make_user("inspector", tree.a)
    login(user)
    assert client.get("/api/v1/me").status_code == 200
    assert_error(client.get("/api/v1/me", headers={"Authorization": "Bearer arb_nope"}), 401)


def test_a_token_that_expires_later_still_works_and_records_its_use(client, tree, make_user, token_for):
    user = make_user("inspector", tree.a)
    r = client.get("/api/v1/me", headers=token_for(user, expires_at=utcnow() + dt.timedelta(days=1)))
    assert r.status_code == 200
    tok = session.execute(select(ApiToken).where(ApiToken.user_id == user.id)).scalar_one()
    session.refresh(tok)
    assert tok.last_used_at is not None


# --- scoping and permissions ------------------------------------------------------------------------------

def test_another_countys_node_is_404_and_ones_own_is_200(client, tree, make_user, token_for):
    headers = token_for(make_user("inspector", tree.a))
    r = client.get(f"/api/v1/nodes/{tree.schools['A1'].id}", headers=headers)
    assert r.status_code == 200 and r.json["code"] == tree.schools["A1"].code and r.json["level"] == "school"
    for node in (tree.schools["B1"], tree.b, tree.ministry):
        assert_error(client.get(f"/api/v1/nodes/{node.id}", headers=headers), 404, "not_found")
        assert_error(client.get(f"/api/v1/nodes/{node.id}/children", headers=headers), 404, "not_found")
    assert_error(client.get("/api/v1/nodes/999999", headers=headers), 404)


@pytest.mark.parametrize("role", ["pupil", "parent"])
def test_a_visible_node_without_the_permission_is_403(client, tree, make_user, token_for, role):
    headers = token_for(make_user(role, tree.schools["A1"]))
    assert client.get("/api/v1/me", headers=headers).status_code == 200
    assert_error(client.get(f"/api/v1/nodes/{tree.schools['A1'].id}", headers=headers), 403, "forbidden")
    assert_error(client.get(f"/api/v1/nodes/{tree.units['A1.1'].id}/children", headers=headers), 403)
    assert_error(client.get(f"/api/v1/nodes/{tree.schools['B1'].id}", headers=headers), 404)  # still not seen
    assert_error(client.get(f"/api/v1/nodes?code={tree.schools['A1'].code}", headers=headers), 403)


def test_nodes_by_code_returns_only_nodes_the_caller_may_browse(client, tree, make_user, token_for):
    headers = token_for(make_user("inspector", tree.a))
    r = client.get(f"/api/v1/nodes?code={tree.units['A2.1'].code}", headers=headers)
    assert [n["id"] for n in r.json["items"]] == [tree.units["A2.1"].id]
    assert client.get(f"/api/v1/nodes?code={tree.schools['B1'].code}", headers=headers).json["items"] == []
    assert client.get(f"/api/v1/nodes?code={tree.a.code}&level=school", headers=headers).json["items"] == []
    # A teacher in A1 who is also a parent in B1: the parent membership shows B1's pupil, not B1's tree.
    teacher = make_user("teacher", tree.schools["A1"])
    operations.add_membership(teacher, tree.schools["B1"], "parent")
    headers = token_for(teacher)
    assert client.get(f"/api/v1/nodes?code={tree.schools['B1'].code}", headers=headers).json["items"] == []
    assert len(client.get(f"/api/v1/nodes?code={tree.schools['A1'].code}", headers=headers).json["items"]) == 1


@pytest.mark.parametrize("query", ["", "?code=", "?code=%20", "?code=X&level=planet"])
def test_nodes_by_code_validates_its_query(client, tree, make_user, token_for, query):
    headers = token_for(make_user("inspector", tree.a))
    err = assert_error(client.get(f"/api/v1/nodes{query}", headers=headers), 422, "invalid")
    assert set(err["details"]) <= {"code", "level"} and err["details"]


# --- pagination --------------------------------------------------------------------------------------------

def test_children_are_paginated(client, tree, make_user, token_for):
    headers = token_for(make_user("inspector", tree.a))
    url = f"/api/v1/nodes/{tree.a.id}/children"
    first = client.get(f"{url}?per_page=1", headers=headers).json
    assert {k: first[k] for k in ("page", "per_page", "total", "pages")} == {"page": 1, "per_page": 1, "total": 2,
                                                                           "pages": 2}
    second = client.get(f"{url}?per_page=1&page=2", headers=headers).json
    names = [first["items"][0]["name"], second["items"][0]["name"]]
    assert names == ["Școala A1", "Școala A2"]
    assert client.get(f"{url}?per_page=1&page=3", headers=headers).json["items"] == []
    everything = client.get(url, headers=headers).json
    assert (everything["per_page"], len(everything["items"])) == (50, 2)  # the configured page size
    assert client.get(f"{url}?per_page=100000", headers=headers).json["per_page"] == 200  # capped


@pytest.mark.parametrize("query,field", [("per_page=abc", "per_page"), ("per_page=0", "per_page"),
                                         ("page=x", "page"), ("page=0", "page"), ("page=-2", "page")])
def test_bad_paging_parameters_are_422(client, tree, make_user, token_for, query, field):
    headers = token_for(make_user("inspector", tree.a))
    err = assert_error(client.get(f"/api/v1/nodes/{tree.a.id}/children?{query}", headers=headers), 422, "invalid")
    assert list(err["details"]) == [field]


# --- unknown paths and methods -----------------------------------------------------------------------------

def test_unknown_api_paths_and_methods_answer_in_json(client, tree, make_user, token_for):
    headers = token_for(make_user("inspector", tree.a))
    assert_error(client.get("/api/v1/no/such/thing", headers=headers), 404, "not_found")
    assert_error(client.get("/api/v1/no/such/thing"), 404, "not_found")
    assert_error(client.post("/api/v1/me", headers=headers), 405, "method_not_allowed")


# --- writes: read-only tokens and CSRF ---------------------------------------------------------------------

@pytest.fixture
def failed_job(tree, make_user):
    owner = make_user("inspector", tree.a)
    job = Job(kind="tests.app_context", queue="default", node_id=tree.a.id, user_id=owner.id, status="failed",
              attempts=1, error="boom", params={})
    session.add(job)
    session.flush()
    job.owner = owner
    return job


def test_a_read_only_token_is_refused_on_writes(client, failed_job, token_for):
    owner = failed_job.owner
    headers = token_for(owner, scopes="read")
    assert client.get(f"/api/v1/jobs/{failed_job.id}", headers=headers).status_code == 200
    assert_error(client.post(f"/api/v1/jobs/{failed_job.id}/retry", headers=headers), 403, "forbidden")
    assert session.get(Job, failed_job.id).status == "failed"


def test_a_cookie_caller_needs_the_csrf_header_on_writes(app, client, failed_job, login, monkeypatch):
    login(failed_job.owner)
    monkeypatch.setitem(app.config, "WTF_CSRF_ENABLED", True)
    url = f"/api/v1/jobs/{failed_job.id}/retry"
    assert_error(client.post(url), 403, "csrf_failed")
    assert_error(client.post(url, headers={"X-CSRFToken": "forged"}), 403, "csrf_failed")
    page = client.get("/profile").get_data(as_text=True)
    csrf = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page) or \
        re.search(r'name="csrf_token" value="([^"]+)"', page)
    assert csrf, "the profile page carries a CSRF token"
    r = client.post(url, headers={"X-CSRFToken": csrf.group(1)})
    assert r.status_code == 202 and r.json["status"] == "queued"


# --- jobs --------------------------------------------------------------------------------------------------

def test_a_job_is_visible_to_its_owner_only(app, client, tree, make_user, token_for):
    owner = make_user("inspector", tree.a)
    others = [token_for(u) for u in (make_user("inspector", tree.a), make_user("isg", tree.a),
                                     make_user("inspector", tree.b), make_user("commission", tree.ministry))]
    job = jobs.enqueue("tests.add_school", node_id=tree.a.id, user_id=owner.id, county_id=tree.a.id,
                       code="9300000001", name="Școala prin API")
    headers = token_for(owner)
    session.commit()  # in-process: the job runs now, in a session of its own
    session.expire_all()  # the test client shares this thread's session; a real request starts afresh
    r = client.get(f"/api/v1/jobs/{job.id}", headers=headers)
    assert r.status_code == 200
    assert {k: r.json[k] for k in ("id", "kind", "status", "progress", "attempts")} == {
        "id": job.id, "kind": "tests.add_school", "status": "done", "progress": 100, "attempts": 1}
    assert r.json["result"]["node_id"] and r.json["finished_at"]
    for other in others:  # a colleague, the county's ISG, another county, the commission
        assert_error(client.get(f"/api/v1/jobs/{job.id}", headers=other), 404)
        assert_error(client.post(f"/api/v1/jobs/{job.id}/retry", headers=other), 404)
    assert_error(client.get(f"/api/v1/jobs/{job.id}"), 401)


def test_the_owner_retries_a_failed_job_through_the_api(app, client, tree, make_user, token_for):
    owner = make_user("inspector", tree.a)
    headers = token_for(owner)
    job = jobs.enqueue("tests.add_school", node_id=tree.a.id, user_id=owner.id, county_id=tree.a.id,
                       code="9300000002", name="Școala reîncercată", fail_first=True)
    session.commit()
    session.expire_all()
    assert client.get(f"/api/v1/jobs/{job.id}", headers=headers).json["status"] == "failed"
    r = client.post(f"/api/v1/jobs/{job.id}/retry", headers=headers)
    assert r.status_code == 202 and r.json["status"] == "queued"
    st = client.get(f"/api/v1/jobs/{job.id}", headers=headers).json  # in-process: it ran after the commit
    assert (st["status"], st["attempts"]) == ("done", 2)
    assert_error(client.post(f"/api/v1/jobs/{job.id}/retry", headers=headers), 409, "conflict")


def test_token_use_is_recorded_at_most_once_a_minute(client, tree, make_user):
    """API reads must not turn into a write on every call: last_used_at moves only after a minute."""
    import datetime as dt

    from core.db import session
    from tenants import operations
    from tenants.models import ApiToken
    user = make_user("inspector", tree.a)
    tok, raw = operations.issue_token(user, "t")
    tok_id = tok.id
    headers = {"Authorization": f"Bearer {raw}"}

    def last_used():
        return session.get(ApiToken, tok_id).last_used_at

    assert client.get("/api/v1/me", headers=headers).status_code == 200
    first = last_used()
    assert first is not None
    assert client.get("/api/v1/me", headers=headers).status_code == 200
    assert last_used() == first
    session.get(ApiToken, tok_id).last_used_at = first - dt.timedelta(minutes=2)
    session.flush()
    assert client.get("/api/v1/me", headers=headers).status_code == 200
    assert last_used() > first - dt.timedelta(minutes=2)
