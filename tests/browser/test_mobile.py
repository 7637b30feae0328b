"""Every page a demo user can reach by following links fits a 360 px wide screen without horizontal scrolling
(SPEC: "it works on a phone"). One signed-in crawl per demo account, breadth-first from the home page."""
from __future__ import annotations

import re
from urllib.parse import urlsplit

import pytest

from tests.browser.conftest import ARTIFACTS
from tests.browser.helpers import (ACCOUNTS, crawl, horizontal_overflow, menus_fit, sign_in, switch_language,
                                  watch_errors)

pytestmark = pytest.mark.browser

MAX_PAGES = 30  # per account: every kind of page (the crawl is fair between kinds), then more of the tree


def _checker(problems: list[str], label: str, errors: list[str]):
    def visit(page, url, status):
        if errors:
            problems.extend(f"{url}: {e}" for e in errors)
            errors.clear()
        if status is None or status >= 400:
            problems.append(f"{url}: HTTP {status} — the app offered this link to {label}")
        if "/login" in page.url and "/login" not in url:
            problems.append(f"{url}: landed on the sign-in page — the crawl was signed out")
        overflow = horizontal_overflow(page)
        if overflow:
            problems.append(f"{url}: {overflow}")
            ARTIFACTS.mkdir(exist_ok=True)
            where = urlsplit(url)._replace(scheme="", netloc="").geturl()
            name = re.sub(r"[^A-Za-z0-9_.-]+", "_", f"360-{label}-{where}")[:150]
            page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)
    return visit


@pytest.mark.parametrize("who", list(ACCOUNTS))
def test_every_reachable_page_fits_360px(page, live_server, who):
    sign_in(page, ACCOUNTS[who][0], reuse=True)  # the journeys have signed in with every account already
    page.goto("/")
    problems = [f"/ {p}" for p in menus_fit(page)]  # the header is the same on every page: its menus once
    visit = _checker(problems, who, watch_errors(page))
    visited = crawl(page, live_server, ["/"], limit=MAX_PAGES, visit=visit)
    if any(urlsplit(u).path == "/search" for u, _ in visited):  # results are behind a GET form, not a link
        response = page.goto("/search?q=scoala")
        visit(page, page.url, response.status)
    assert len(visited) >= 3, f"{who} reached only {[u for u, _ in visited]}"
    if problems:
        pytest.fail(f"{who}, {len(visited)} pages at 360 px:\n" + "\n".join(problems), pytrace=False)


@pytest.mark.parametrize("lang", ["ro", "en"])
def test_public_and_error_pages_fit_360px(page, demo_keys, lang):
    if lang == "en":
        page.goto("/login")
        switch_language(page, "en")
        assert page.locator("html").get_attribute("lang") == "en"
    problems: list[str] = []
    visit = _checker(problems, f"anonymous-{lang}", watch_errors(page))

    for path, want in (("/login", 200), ("/no-such-page", 404)):
        response = page.goto(path)
        assert response.status == want, f"{path} → {response.status}"
        visit(page, page.url, 200)

    # A refused sign-in shows its message.
    page.goto("/login")
    form = page.locator("form:has(input[name=password])")
    form.locator("input[name=email]").fill("nobody-with-a-rather-long-address@scoala-gimnaziala.demo.arbor.ro")
    form.locator("input[name=password]").fill("wrong")
    with page.expect_navigation(wait_until="load"):
        form.locator("button").first.click()
    assert page.locator(".flash").count() == 1
    visit(page, page.url, 200)

    # Signed in: the not-found and not-allowed pages under the full navigation bar.
    sign_in(page, ACCOUNTS["elev"][0])
    for path, want in (("/nodes/999999", 404), (f"/nodes/{demo_keys['school'].id}", 403), ("/search", 403)):
        response = page.goto(path)
        assert response.status in (want, 404), f"{path} → {response.status}"
        visit(page, page.url, 200)
    if problems:
        pytest.fail("\n".join(problems), pytrace=False)
