"""One journey per demo role, in a phone-sized Chromium against the live demo: sign in, find the home page with
the user's name, go where that role works. Plus tenant isolation, the language switch and signing out."""
from __future__ import annotations

import re
from urllib.parse import urlsplit

import pytest
from playwright.sync_api import expect

from tests.browser.helpers import ACCOUNTS, assert_fits, click_and_wait, sign_in, sign_out, switch_language

pytestmark = pytest.mark.browser


def start(page, who: str, reuse: bool = False) -> tuple[str, str]:
    """Sign in as demo account ``who`` (e-mail local part) and check the home page greets them by name.
    ``reuse``: the account's session from an earlier test will do (see helpers.sign_in)."""
    email, name, _role, _where = ACCOUNTS[who]
    sign_in(page, email, reuse=reuse)
    assert urlsplit(page.url).path == "/", f"signing in led to {page.url}, not the home page"
    expect(page.locator("main h1")).to_contain_text(name)
    assert_fits(page)
    return email, name


def follow(page, name: str, within: str = "main") -> None:
    """Click the link whose text is exactly ``name`` and wait for the page."""
    click_and_wait(page.locator(f"{within} a").filter(has_text=re.compile(rf"^\s*{re.escape(name)}\s*$")))


def nav(page, path: str) -> None:
    """Use the header's navigation (opening its menu if it is folded away)."""
    click_and_wait(page.locator(f"header a[href$='{path}']"))


def links_to(page, node):
    return page.locator(f"main a[href$='/nodes/{node.id}']")


def shows_links_to(page, nodes) -> None:
    for n in nodes:
        expect(links_to(page, n).first).to_contain_text(n.name)


def children(demo_nodes, parent) -> list:
    return sorted((n for n in demo_nodes.values() if n.parent_id == parent.id), key=lambda n: n.id)


def class_rows(page) -> int:
    rows = page.locator("main table tbody tr")
    expect(rows.first).to_be_visible()
    return rows.filter(has=page.locator("td:not([colspan])")).count()


def search_for(page, text: str) -> None:
    box = page.locator("main input[name=q]").first
    box.fill(text)
    with page.expect_navigation(wait_until="load"):
        box.press("Enter")


def test_inspector_finds_a_cluj_school_by_name_without_diacritics(page, demo_keys, demo_nodes):
    start(page, "inspector.cluj")
    nav(page, "/search")
    search_for(page, "scoala gimnaziala")
    cluj = [n for n in children(demo_nodes, demo_keys["CJ"]) if n.name.startswith("Școala Gimnazială")]
    assert len(cluj) == 3
    shows_links_to(page, cluj)
    for county in ("IS", "B"):  # Iași and București schools are not the inspector's
        for other in children(demo_nodes, demo_keys[county]):
            expect(links_to(page, other)).to_have_count(0)
            expect(page.locator("main")).not_to_contain_text(other.name)
    assert_fits(page)

    search_for(page, "floresti")
    follow(page, "Școala Gimnazială Florești")
    expect(page.locator("main h1")).to_contain_text("Școala Gimnazială Florești")
    school = next(n for n in demo_nodes.values() if n.name == "Școala Gimnazială Florești")
    assert page.url == school.url
    units = children(demo_nodes, school)
    assert units, "the demo school has units"
    shows_links_to(page, units)
    assert_fits(page)
    click_and_wait(links_to(page, units[-1]))
    expect(page.locator("main h1")).to_contain_text(units[-1].name)
    assert class_rows(page) > 0
    assert_fits(page)


def test_isg_sees_every_school_of_the_county(page, demo_keys, demo_nodes):
    start(page, "isg.cluj")
    follow(page, demo_keys["CJ"].name)
    expect(page.locator("main h1")).to_contain_text(demo_keys["CJ"].name)
    shows_links_to(page, children(demo_nodes, demo_keys["CJ"]))
    assert_fits(page)


def test_commission_opens_a_county(page, demo_keys, demo_nodes):
    start(page, "comisie")
    follow(page, demo_keys["ministry"].name)
    shows_links_to(page, [demo_keys[c] for c in ("CJ", "IS", "B")])
    click_and_wait(links_to(page, demo_keys["IS"]))
    expect(page.locator("main h1")).to_contain_text(demo_keys["IS"].name)
    shows_links_to(page, children(demo_nodes, demo_keys["IS"]))
    expect(page.locator("main")).to_contain_text("Colegiul Național Iași")
    assert_fits(page)


@pytest.mark.parametrize("viewport", ["phone", "desktop"])
def test_director_opens_the_school_and_a_unit_with_classes(request, viewport, demo_keys, demo_nodes):
    page = request.getfixturevalue("page" if viewport == "phone" else "desktop_page")
    start(page, "director", reuse=viewport == "desktop")
    school = demo_keys["school"]
    follow(page, school.name)
    expect(page.locator("main h1")).to_contain_text(school.name)
    units = children(demo_nodes, school)
    shows_links_to(page, units)
    click_and_wait(links_to(page, units[0]))
    assert page.url == units[0].url
    expect(page.locator("main h1")).to_contain_text(units[0].name)
    expect(links_to(page, school).first).to_be_attached()  # the way back up (breadcrumbs)
    assert class_rows(page) > 0
    assert_fits(page)


@pytest.mark.parametrize("who", ["responsabil", "ajutor"])
def test_unit_staff_see_their_unit_classes(page, who, demo_keys):
    start(page, who)
    unit = demo_keys["unit"]
    click_and_wait(links_to(page, unit))
    expect(page.locator("main h1")).to_contain_text(unit.name)
    assert class_rows(page) > 0
    assert_fits(page)
    # The school above is outside a unit membership: not offered, and not reachable.
    expect(links_to(page, demo_keys["school"])).to_have_count(0)
    assert page.goto(demo_keys["school"].url).status == 404


@pytest.mark.parametrize("who, where", [("secretar", "school"), ("profesor", "school"), ("statistica", "ministry"),
                                        ("admin", "ministry")])
def test_staff_home_and_tree(page, who, where, demo_keys, demo_nodes):
    start(page, who)
    node = demo_keys[where]
    click_and_wait(links_to(page, node))
    expect(page.locator("main h1")).to_contain_text(node.name)
    first_child = children(demo_nodes, node)[0]
    click_and_wait(links_to(page, first_child))
    expect(page.locator("main h1")).to_contain_text(first_child.name)
    assert_fits(page)


@pytest.mark.parametrize("who", ["elev", "parinte"])
def test_pupil_and_parent_home(page, who, demo_keys):
    start(page, who)
    expect(page.locator("a[href$='/search']")).to_have_count(0)
    expect(page.locator("main a[href*='/nodes/']")).to_have_count(0)
    # No permission on the tree: the school's page and the search are refused, never shown.
    school = demo_keys["school"]
    assert page.goto(school.url).status in (403, 404)
    expect(page.locator("main")).not_to_contain_text(school.code)
    assert page.goto("/search?q=scoala").status == 403
    assert_fits(page)


def test_iasi_inspector_gets_not_found_for_a_cluj_school(page, demo_keys, demo_nodes):
    start(page, "inspector.iasi")
    own = children(demo_nodes, demo_keys["IS"])[0]
    assert page.goto(own.url).status == 200
    expect(page.locator("main h1")).to_contain_text(own.name)

    for target in (demo_keys["school"], demo_keys["unit"], demo_keys["CJ"]):
        response = page.goto(target.url)
        assert response.status == 404, f"{target.url} → {response.status}"
        expect(page.locator("main")).not_to_contain_text(target.name)
        expect(page.locator("main")).not_to_contain_text(target.code)
        assert_fits(page)
    # Nor does the search reveal it.
    page.goto("/search?q=avram+iancu")
    expect(page.locator("main")).not_to_contain_text(demo_keys["school"].name)
    expect(links_to(page, demo_keys["school"])).to_have_count(0)


def test_language_switch_to_english_and_back(page, demo_keys):
    start(page, "director", reuse=True)
    school = demo_keys["school"]
    page.goto(school.url)
    html = page.locator("html")
    expect(html).to_have_attribute("lang", "ro")
    switch_language(page, "en")
    expect(html).to_have_attribute("lang", "en")
    assert page.url.split("?")[0] == school.url, "the switch stays on the same page"
    expect(page.locator("main h1")).to_contain_text(school.name)
    assert_fits(page)
    page.goto("/")  # the choice sticks for the session
    expect(html).to_have_attribute("lang", "en")
    switch_language(page, "ro")
    expect(html).to_have_attribute("lang", "ro")
    assert urlsplit(page.url).path == "/"


def test_sign_out_then_the_previous_page_asks_to_sign_in(page, demo_keys):
    email, _name = start(page, "director", reuse=True)
    school = demo_keys["school"]
    page.goto(school.url)
    sign_out(page)
    assert "/login" in page.url
    expect(page.locator("form[action$='/logout']")).to_have_count(0)

    page.goto(school.url)
    assert re.search(r"/login\?next=", page.url), page.url
    expect(page.locator("main")).not_to_contain_text(school.name)
    # Signing in from there leads back to the page that was asked for.
    sign_in(page, email, goto=False)
    assert page.url.split("?")[0] == school.url
    expect(page.locator("main h1")).to_contain_text(school.name)


def test_anonymous_visitor_is_sent_to_sign_in(page, demo_keys):
    page.goto(demo_keys["school"].url)
    assert "/login" in page.url
    expect(page.locator("main")).not_to_contain_text(demo_keys["school"].name)
    expect(page.locator("main input[name=password]")).to_be_visible()
