"""The web pages on the demo data: every page for every demo role, role-aware navigation, the tree browser's
search (scope, diacritics, codes), pagination, set-based counts (no N+1) and CSP-compatible HTML."""
from __future__ import annotations

import re
from contextlib import contextmanager
from types import SimpleNamespace

import pytest
from sqlalchemy import event, select

from core.db import session
from tenants import demo as demo_data
from tenants import operations, policy, queries
from tenants.models import Node, SchoolClass, User

ROLES = [(email, role) for email, _name, role, _where in demo_data.ACCOUNTS]


@pytest.fixture
def demo(app, make_user):
    """The demo tree and accounts, built inside the test's transaction (deterministic).

    ``demo.person(email)`` is a sign-in-able twin of a demo account: same name, role and node, made by the
    ``make_user`` factory so it has whatever the sign-in flow needs (password, second factor)."""
    keys = demo_data.seed()
    users = {u.email: u for u in session.execute(select(User)).scalars()}
    assert {email for email, _role in ROLES} <= set(users), "every demo account exists"
    twins: dict[str, User] = {}

    def person(email: str) -> User:
        if email not in twins:
            account = users[email]
            (membership,) = account.memberships
            twins[email] = make_user(membership.role, membership.node, name=account.name)
        return twins[email]

    return SimpleNamespace(keys=keys, users=users, person=person, year=queries.current_school_year())


def _text(response) -> str:
    return response.get_data(as_text=True)


def _nav(html: str) -> str:
    m = re.search(r'<nav class="nav[^"]*"[^>]*>(.*?)</nav>', html, re.S)
    return m.group(1) if m else ""


@contextmanager
def count_statements(engine):
    seen: list[str] = []

    def before(conn, cursor, statement, parameters, context, executemany):
        if not statement.lstrip().upper().startswith(("SAVEPOINT", "RELEASE", "ROLLBACK")):
            seen.append(statement)

    event.listen(engine, "before_cursor_execute", before)
    try:
        yield seen
    finally:
        event.remove(engine, "before_cursor_execute", before)


# --- every page, every role ---------------------------------------------------------------------------------------

def test_every_page_renders_for_every_demo_role(app, demo, login):
    """One seeded demo, every account in its own client (the demo seed is the slow part on PostgreSQL)."""
    nodes = [demo.keys[k] for k in ("ministry", "CJ", "IS", "B", "school", "unit")]
    for email, role in ROLES:
        user, client = demo.person(email), app.test_client()
        login(user, client)
        home = client.get("/")
        assert home.status_code == 200 and user.name in _text(home), role
        assert client.get("/jobs").status_code == 200, role
        for node in nodes:
            r = client.get(f"/nodes/{node.id}")
            if policy.can(user, "tree.view", node):
                expected = 200
            elif policy.can_see(user, node):
                expected = 403  # pupils and parents see their own register only, not the tree
            else:
                expected = 404  # another county's node, or above the user's subtree
            assert r.status_code == expected, f"{role} on {node.level} {node.code}: {r.status_code}"
            if expected == 200:
                assert node.name in _text(r)
        search = client.get("/search", query_string={"q": "scoala"})
        assert search.status_code == (200 if policy.can(user, "tree.view") else 403), role
        missing = client.get("/nodes/999999")
        assert missing.status_code == 404 and 'href="/"' in _text(missing), role


def test_home_shows_the_roots_with_their_totals(client, demo, login):
    login(demo.person("inspector.cluj@demo.arbor.ro"))
    html = _text(client.get("/"))
    cj = demo.keys["CJ"]
    assert f'href="/nodes/{cj.id}"' in html
    totals = queries.subtree_counts([cj], demo.year)[cj.id]
    assert totals["schools"] == 5 and totals["pupils"] > 0
    for key in ("schools", "units", "classes"):
        assert f"<dd>{totals[key]}</dd>" in html


def test_pupils_and_parents_get_a_register_placeholder(client, demo, login):
    for email in ("elev@demo.arbor.ro", "parinte@demo.arbor.ro"):
        c = client.application.test_client()
        login(demo.person(email), c)
        html = _text(c.get("/"))
        assert 'class="notice"' in html and demo.keys["school"].name in html
        assert 'href="/search"' not in html and "/nodes/" not in html


# --- navigation -----------------------------------------------------------------------------------------------------

def test_navigation_follows_the_roles(app, demo, login):
    def nav_of(email):
        c = app.test_client()
        login(demo.person(email), c)
        return _nav(_text(c.get("/")))

    teacher, inspector, pupil = (nav_of("profesor@demo.arbor.ro"), nav_of("inspector.cluj@demo.arbor.ro"),
                                 nav_of("elev@demo.arbor.ro"))
    assert 'href="/imports"' not in teacher and 'href="/search"' in teacher
    assert 'href="/imports"' in inspector and 'href="/search"' in inspector and 'href="/jobs"' in inspector
    assert 'href="/search"' not in pupil and 'href="/jobs"' not in pupil and 'href="/"' in pupil
    assert 'aria-current="page"' in inspector


def test_header_names_the_user_and_role(client, demo, login):
    login(demo.person("director@demo.arbor.ro"))
    html = _text(client.get("/jobs"))
    assert "Mihai Rusu" in html and demo.keys["school"].name in html
    assert 'action="/language"' in html and 'action="/logout"' in html


def test_node_actions_follow_permissions(app, demo, login):
    cj = demo.keys["CJ"]

    def page(email, node):
        c = app.test_client()
        login(demo.person(email), c)
        return _text(c.get(f"/nodes/{node.id}"))

    inspector = page("inspector.cluj@demo.arbor.ro", cj)
    teacher = page("profesor@demo.arbor.ro", demo.keys["school"])
    if app.view_functions.get("web.import_network"):
        assert f"/nodes/{cj.id}/import/network" in inspector
    assert "/import/" not in teacher and "/export/" not in teacher


# --- the tree browser ------------------------------------------------------------------------------------------------

def test_node_page_shows_breadcrumbs_children_classes_and_buildings(client, demo, login):
    login(demo.person("inspector.cluj@demo.arbor.ro"))
    unit = demo.keys["unit"]
    html = _text(client.get(f"/nodes/{unit.id}"))
    crumbs = re.search(r'<nav class="crumbs".*?</nav>', html, re.S).group(0)
    assert demo.keys["CJ"].name in crumbs and demo.keys["school"].name in crumbs
    assert demo.keys["ministry"].name not in crumbs, "the inspector does not see the ministry"
    classes = session.execute(queries.classes_of(unit, demo.year)).scalars().all()
    assert classes and all(f"<td>{c.name}" in html for c in classes)
    assert "Corp A" in html

    school_html = _text(client.get(f"/nodes/{demo.keys['school'].id}"))
    assert f'href="/nodes/{unit.id}"' in school_html


def test_children_paginate(app, client, demo, login, monkeypatch):
    monkeypatch.setitem(app.config, "PAGE_SIZE", 5)
    cj = demo.keys["CJ"]
    for i in range(7):  # 12 schools in the county: pages of 5, 5 and 2
        operations.create_node(level="school", code=f"01{90 + i:02d}000001", name=f"Școala de test {i:02d}",
                               parent=cj)
    login(demo.person("inspector.cluj@demo.arbor.ro"))
    names = []
    for number, expected in ((1, 5), (2, 5), (3, 2)):
        html = _text(client.get(f"/nodes/{cj.id}", query_string={"page": number}))
        rows = re.findall(r'<a class="title" href="/nodes/(\d+)">', html)
        assert len(rows) == expected
        names += rows
        pager = re.search(r'<nav class="pager".*?</nav>', html, re.S).group(0)
        assert ('rel="next"' in pager) == (number < 3) and ('rel="prev"' in pager) == (number > 1)
        assert f"Page {number} of 3" in pager or f"Pagina {number} din 3" in pager
    assert len(set(names)) == 12
    assert "(12)" in _text(client.get(f"/nodes/{cj.id}"))


def _school(name: str) -> Node:
    return session.execute(select(Node).where(Node.name == name, Node.level == "school")).scalar_one()


def test_search_finds_by_name_without_diacritics_and_by_code(client, demo, login):
    login(demo.person("inspector.cluj@demo.arbor.ro"))
    school = _school("Școala Gimnazială „Ion Creangă”")
    for q in ("scoala gimnaziala ion creanga", "SCOALA GIMNAZIALA „ION CREANGA”", "creanga", "gimnaziala creangă"):
        html = _text(client.get("/search", query_string={"q": q}))
        assert f'href="/nodes/{school.id}"' in html, q
    html = _text(client.get("/search", query_string={"q": school.code}))
    assert re.findall(r'<a class="title" href="/nodes/(\d+)">', html) == [str(school.id)]
    by_prefix = _text(client.get("/search", query_string={"q": school.code[:4], "level": "unit"}))
    hits = re.findall(r'<a class="title" href="/nodes/(\d+)">', by_prefix)
    assert hits and all(session.get(Node, int(h)).school_id == school.id for h in hits)
    assert demo.keys["CJ"].name in by_prefix and school.name in by_prefix  # county and school of each hit


def test_search_never_crosses_counties(client, demo, login):
    login(demo.person("inspector.cluj@demo.arbor.ro"))
    iasi = _school("Colegiul Național Iași")
    for q in ("colegiul national iasi", iasi.code, iasi.code[:2]):
        html = _text(client.get("/search", query_string={"q": q}))
        assert f"/nodes/{iasi.id}" not in html
        assert all(session.get(Node, int(h)).county_id == demo.keys["CJ"].id
                   for h in re.findall(r'href="/nodes/(\d+)"', _search_results(html)))
    assert client.get("/search", query_string={"county": demo.keys["IS"].id}).status_code == 404
    assert 'name="county"' not in _text(client.get("/search")), "one county: no county filter"


def _search_results(html: str) -> str:
    m = re.search(r'<ul class="rows">(.*?)</ul>', html, re.S)
    return m.group(1) if m else ""


def test_commission_filters_by_county(client, demo, login):
    login(demo.person("comisie@demo.arbor.ro"))
    form = _text(client.get("/search"))
    assert 'name="county"' in form and demo.keys["IS"].name in form
    html = _text(client.get("/search", query_string={"q": "scoala", "county": demo.keys["IS"].id}))
    hits = [session.get(Node, int(h)) for h in re.findall(r'<a class="title" href="/nodes/(\d+)">', html)]
    assert hits and all(h.county_id == demo.keys["IS"].id for h in hits)
    everywhere = _text(client.get("/search", query_string={"q": "scoala"}))
    counties = {session.get(Node, int(h)).county_id
                for h in re.findall(r'<a class="title" href="/nodes/(\d+)">', everywhere)}
    assert len(counties) == 3
    levels = _text(client.get("/search", query_string={"level": "inspectorate"}))
    assert len(re.findall(r'<a class="title"', levels)) == 3


def test_search_paginates_and_keeps_its_filters(app, client, demo, login, monkeypatch):
    monkeypatch.setitem(app.config, "PAGE_SIZE", 3)
    login(demo.person("comisie@demo.arbor.ro"))
    html = _text(client.get("/search", query_string={"q": "scoala", "level": "school"}))
    assert len(re.findall(r'<a class="title"', html)) == 3
    nxt = re.search(r'href="(/search\?[^"]*page=2[^"]*)"', html).group(1).replace("&amp;", "&")
    assert "q=scoala" in nxt and "level=school" in nxt
    assert len(re.findall(r'<a class="title"', _text(client.get(nxt)))) == 3


# --- set-based counts -------------------------------------------------------------------------------------------------

def test_subtree_counts_match_a_naive_count(demo):
    nodes = session.execute(select(Node)).scalars().all()
    classes = session.execute(select(SchoolClass)).scalars().all()
    by_id = {n.id: n for n in nodes}
    counts = queries.subtree_counts(nodes, demo.year)
    for n in nodes:
        inside = [m for m in nodes if m.path.startswith(n.path) and m.id != n.id]
        mine = [c for c in classes if by_id[c.unit_id].path.startswith(n.path)]
        expected = {"inspectorates": sum(m.level == "inspectorate" for m in inside),
                    "schools": sum(m.level == "school" for m in inside),
                    "units": sum(m.level == "unit" for m in inside),
                    "classes": len(mine), "pupils": sum(c.pupils for c in mine)}
        assert counts[n.id] == expected, n


def _county_with(parent, code: str, schools: int, year):
    county = operations.create_node(level="inspectorate", code=code, name=f"Inspectorat {code}", parent=parent)
    for s in range(schools):
        school = operations.create_node(level="school", code=f"{code}{s:08d}", name=f"Școala {code} {s}",
                                        parent=county)
        for u in range(2):
            unit = operations.create_node(level="unit", code=f"{code}{s:06d}U{u}", name=f"Unitatea {code} {s}.{u}",
                                          parent=school)
            operations.create_class(unit, year, name="5A", grade_level=5, pupils=20)
    return county


def test_node_page_statements_do_not_grow_with_the_children(engine, client, demo, login):
    ministry = demo.keys["ministry"]
    small = _county_with(ministry, "XS", 2, demo.year)
    large = _county_with(ministry, "XL", 12, demo.year)
    login(demo.person("comisie@demo.arbor.ro"))
    counted = {}
    for county in (small, large):
        with count_statements(engine) as seen:
            r = client.get(f"/nodes/{county.id}")
        assert r.status_code == 200
        counted[county.code] = len(seen)
    assert counted["XS"] == counted["XL"], counted
    schools = session.execute(queries.children(large)).scalars().all()
    with count_statements(engine) as few:
        client.get(f"/nodes/{schools[0].id}")
    assert len(few) <= counted["XL"]
    for q in ("XS", "Școala"):  # search: the same number of statements for 2 or 50 hits
        with count_statements(engine) as seen:
            client.get("/search", query_string={"q": q})
        counted[q] = len(seen)
    assert counted["XS"] == counted["Școala"]


# --- CSP: no inline scripts, styles or handlers ---------------------------------------------------------------------

INLINE = [
    (re.compile(r"<script(?![^>]*\bsrc=)[^>]*>", re.I), "a <script> without src"),
    (re.compile(r"<script[^>]*>\s*[^<\s]", re.I), "code inside <script>"),
    (re.compile(r"<style", re.I), "a <style> block"),
    (re.compile(r"<[^>]+\sstyle\s*=", re.I), "a style= attribute"),
    (re.compile(r"<[^>]+\son[a-z]+\s*=", re.I), "an on…= event handler"),
    (re.compile(r"javascript:", re.I), "a javascript: URL"),
]


def test_pages_have_no_inline_script_or_style(app, demo, login):
    pages = {"/login": app.test_client().get("/login")}
    for email in ("comisie@demo.arbor.ro", "inspector.cluj@demo.arbor.ro", "responsabil@demo.arbor.ro",
                  "elev@demo.arbor.ro"):
        c = app.test_client()
        login(demo.person(email), c)
        for path in ["/", "/jobs", "/search", "/search?q=scoala", "/nodes/999999",
                     *[f"/nodes/{demo.keys[k].id}" for k in ("ministry", "CJ", "school", "unit")]]:
            pages[f"{email} {path}"] = c.get(path)
    checked = 0
    for where, r in pages.items():
        if r.status_code == 403:
            continue
        html = _text(r)
        assert "<html" in html
        for pattern, what in INLINE:
            m = pattern.search(html)
            assert m is None, f"{where} has {what}: {html[max(0, m.start() - 60):m.end() + 60]!r}"
        checked += 1
    assert checked >= 20


def test_jobs_pages_show_the_users_own_jobs(client, demo, login):
    from exports.models import Job
    user = demo.person("inspector.cluj@demo.arbor.ro")
    mine = Job(kind="network.import", node_id=demo.keys["CJ"].id, user_id=user.id, params={}, status="running",
               progress=40)
    other = Job(kind="network.import", node_id=demo.keys["CJ"].id, user_id=demo.person("isg.cluj@demo.arbor.ro").id,
                params={})
    session.add_all([mine, other])
    session.flush()
    login(user)
    listing = _text(client.get("/jobs"))
    assert f'href="/jobs/{mine.id}"' in listing and f'href="/jobs/{other.id}"' not in listing
    detail = client.get(f"/jobs/{mine.id}")
    assert detail.status_code == 200 and 'value="40"' in _text(detail)
    assert 'http-equiv="refresh"' in _text(detail), "a running job's page refreshes itself"
    assert client.get(f"/jobs/{other.id}").status_code == 404
