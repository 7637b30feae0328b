"""What browser tests do over and over: sign in (with the second factor when the app asks), check a page fits the
screen, crawl the links a user is offered."""
from __future__ import annotations

import re
import time
from collections import Counter
from urllib.parse import urldefrag, urlsplit

import pyotp
from playwright.sync_api import Error as PlaywrightError

from tenants import demo

# Demo accounts by the local part of their e-mail ("inspector.iasi"): (email, name, role, where).
ACCOUNTS = {acc[0].split("@")[0]: acc for acc in demo.ACCOUNTS}

_SECOND_FACTOR_HINTS = ("2fa", "verify", "mfa", "otp", "second-factor", "two-factor")
_ENROL_HINTS = ("enrol", "enroll", "factor", "setup", "set-up")
_used_steps: dict[str, int] = {}  # secret → the last TOTP step spent here: the app refuses a replayed code
_enrolled: dict[str, str] = {}  # e-mail → secret of a factor these helpers enrolled (instead of the demo one)
_sessions: dict[tuple[str, str], list] = {}  # (base, e-mail) → cookies of the last sign-in (see ``reuse``)


class SignInError(AssertionError):
    pass


def _submit(form, page) -> None:
    button = form.locator("button[type=submit], input[type=submit], button:not([type])").first
    with page.expect_navigation(wait_until="load"):
        button.click()


def _flash(page) -> str:
    msgs = page.locator(".flash").all_inner_texts()
    return " / ".join(m.strip() for m in msgs) or "(no message)"


def signed_in(page) -> bool:
    return page.locator("form[action$='/logout']").count() > 0


def _code_form(page):
    return page.locator("form:has(input[name=code])")


def _secret_on_page(page) -> str | None:
    el = page.locator("#totp-secret")
    if el.count() == 0:
        return None
    el = el.first
    tag = el.evaluate("e => e.tagName")
    raw = el.input_value() if tag in ("INPUT", "TEXTAREA") else el.inner_text()
    return "".join(raw.split()).upper() or None


def _enter_code(page, secret: str, what: str) -> None:
    """Fill and submit the TOTP code of ``secret``. A code works once (the step must be later than the last one
    accepted), so a step spent here already moves on to the next one (the app accepts one step of drift), waiting
    for the clock when that is not enough."""
    totp = pyotp.TOTP(secret)
    for _ in range(3):
        current = int(time.time() // totp.interval)
        step = max(current, _used_steps.get(secret, -1) + 1)
        if step > current + 1:
            time.sleep(max(0.0, (step - 1) * totp.interval - time.time()) + 0.2)
        _used_steps[secret] = step  # spent, accepted or not
        form = _code_form(page).first
        form.locator("input[name=code]").fill(totp.at(step * totp.interval))
        _submit(form, page)
        if not _code_form(page).count():
            return
    raise SignInError(f"{what}: the app kept refusing TOTP codes at {page.url}: {_flash(page)}")


def sign_in(page, email: str, password: str = demo.DEMO_PASSWORD, base: str = "", goto: bool = True,
            reuse: bool = False) -> None:
    """Sign in through /login like a person: e-mail and password; then, when the app asks for a code (an input
    named "code"), the TOTP code of the demo factor (``tenants.demo.demo_totp_secret``); on an enrolment page it
    sets up the authenticator app with the secret shown in ``#totp-secret`` and acknowledges the recovery codes.
    The plain password flow works too. ``goto=False`` uses the sign-in form the page already shows (keeping its
    ``next``). ``reuse=True`` first tries the cookies of this account's last sign-in here (a second tab, as it
    were: no second code needed, and codes are one per 30 s step). Raises SignInError unless signed in at the end.
    """
    if reuse and _reuse_session(page, email, base):
        return
    _sign_in(page, email, password, base, goto)
    _sessions[(base, email)] = page.context.cookies()


def _reuse_session(page, email: str, base: str) -> bool:
    cookies = _sessions.get((base, email))
    if not cookies:
        return False
    page.context.add_cookies(cookies)
    page.goto(f"{base}/")
    path = urlsplit(page.url).path.lower()
    if signed_in(page) and not any(h in path for h in _SECOND_FACTOR_HINTS + _ENROL_HINTS + ("login",)):
        return True
    page.context.clear_cookies()  # signed out since, or the session expired: sign in afresh
    return False


def _sign_in(page, email: str, password: str, base: str, goto: bool) -> None:
    if goto:
        page.goto(f"{base}/login")
    form = page.locator("form:has(input[name=password])").first
    form.locator("input[name=email]").fill(email)
    form.locator("input[name=password]").fill(password)
    _submit(form, page)
    for _ in range(8):
        path = urlsplit(page.url).path.lower()
        if page.locator("input[name=password]").count() and path.rstrip("/").endswith("/login"):
            raise SignInError(f"{email}: password refused at {page.url}: {_flash(page)}")
        if _code_form(page).count():
            shown = _secret_on_page(page)
            if shown:  # enrolment: the page shows the new factor's secret
                _enter_code(page, shown, f"{email} (enrolment)")
                _enrolled[email] = shown
            else:
                _enter_code(page, _enrolled.get(email) or demo.demo_totp_secret(email), email)
            continue
        if page.locator("#recovery-codes, ul.recovery").count():
            _continue(page)  # shown once after the first factor is enrolled
            continue
        if any(h in path for h in _ENROL_HINTS):
            setup = page.locator("a#enrol-totp, main a[href*='totp']")
            if not setup.count():
                raise SignInError(f"{email}: enrolment page without a way to the authenticator app at {page.url}")
            click_and_wait(setup)
            continue
        if signed_in(page):
            return
        if any(h in path for h in _SECOND_FACTOR_HINTS):
            raise SignInError(f"{email}: second-factor page without an input named 'code' at {page.url}")
        break
    raise SignInError(f"{email}: not signed in, stuck at {page.url}: {_flash(page)}")


def _continue(page) -> None:
    """Leave an interstitial (recovery codes and the like) through its continue link or button, else go home."""
    for sel in ("#recovery-done", "main a:text-matches('continu|saved|salvat|gata|done', 'i')",
                "main form:not([action$='/logout']) button:text-matches('continu|saved|salvat|gata|done', 'i')"):
        el = page.locator(sel)
        if el.count():
            click_and_wait(el)
            return
    page.goto(urlsplit(page.url)._replace(path="/", query="", fragment="").geturl())


def reveal(locator) -> None:
    """Open the closed ``<details>`` (menus, dropdowns) around an element, as a person would before clicking it."""
    locator = locator.first
    if locator.is_visible():
        return
    for summary in locator.locator("xpath=ancestor::details[not(@open)]/summary").all():
        summary.click()


def click_and_wait(locator) -> None:
    """Reveal, click and wait for the page it leads to."""
    reveal(locator)
    with locator.first.page.expect_navigation(wait_until="load"):
        locator.first.click()


def sign_out(page) -> None:
    click_and_wait(page.locator("form[action$='/logout'] button, form[action$='/logout'] input[type=submit]"))


def switch_language(page, code: str) -> None:
    """Use the header's language switch: a button per language (value="en") or a single toggle."""
    form = page.locator("header form.lang, form.lang").first
    button = form.locator(f"button[value='{code}']")
    click_and_wait(button if button.count() else form.locator("button"))


# --- layout ---------------------------------------------------------------------------------------------------

_OVERFLOW_JS = """
() => {
  const W = window.innerWidth;
  const scrolls = el => {
    for (let p = el.parentElement; p && p !== document.body; p = p.parentElement) {
      const o = getComputedStyle(p).overflowX;
      if (o === 'auto' || o === 'scroll' || o === 'hidden' || o === 'clip') return true;
    }
    return false;
  };
  const describe = el => {
    let s = el.tagName.toLowerCase();
    if (el.id) s += '#' + el.id;
    if (typeof el.className === 'string' && el.className.trim()) s += '.' + el.className.trim().split(/\\s+/).join('.');
    return s;
  };
  const path = el => {
    const parts = [];
    for (let e = el; e && e !== document.body && parts.length < 4; e = e.parentElement) parts.unshift(describe(e));
    return parts.join(' > ');
  };
  const bad = [];
  for (const el of document.body.querySelectorAll('*')) {
    const r = el.getBoundingClientRect();
    if (r.width === 0 || scrolls(el)) continue;
    // The box itself, or content spilling out of it (a long word in a <pre>, a wide image).
    const spill = getComputedStyle(el).overflowX === 'visible' ? r.left + el.scrollWidth : r.right;
    if (Math.max(r.right, spill) > W + 0.5) bad.push(el);
  }
  // Report the innermost culprits: an offender none of whose descendants offends.
  const inner = bad.filter(el => !bad.some(o => o !== el && el.contains(o)));
  return {
    scrollWidth: document.documentElement.scrollWidth, innerWidth: W,
    offenders: inner.slice(0, 8).map(el => ({
      element: path(el),
      right: Math.round(Math.max(el.getBoundingClientRect().right, el.getBoundingClientRect().left + el.scrollWidth)),
      text: (el.innerText || el.value || '').trim().replace(/\\s+/g, ' ').slice(0, 60)})),
  };
}
"""


def horizontal_overflow(page) -> str | None:
    """None when the page fits its viewport; else a description of the elements that stick out."""
    m = page.evaluate(_OVERFLOW_JS)
    if m["scrollWidth"] <= m["innerWidth"]:
        return None
    who = "; ".join(f"<{o['element']}> right={o['right']}px \"{o['text']}\"" for o in m["offenders"]) \
        or "no single element found (margins or transforms?)"
    return f"scrollWidth {m['scrollWidth']} > innerWidth {m['innerWidth']}: {who}"


_CUT_OFF_JS = """
d => {
  const W = window.innerWidth;
  const clipped = el => {  // inside a box that hides or scrolls its overflow (visually-hidden text, ellipses)
    for (let p = el.parentElement; p && p !== d.parentElement; p = p.parentElement) {
      if (getComputedStyle(p).overflowX !== 'visible') return true;
    }
    return false;
  };
  return [...d.querySelectorAll('*')].filter(e => {
    const r = e.getBoundingClientRect();
    return r.width > 0 && r.height > 0 && (r.left < -0.5 || r.right > W + 0.5) && !clipped(e)
      && getComputedStyle(e).visibility !== 'hidden';
  }).slice(0, 5).map(e => {
    const r = e.getBoundingClientRect();
    const cls = typeof e.className === 'string' && e.className.trim()
      ? '.' + e.className.trim().split(/\\s+/).join('.') : '';
    return e.tagName.toLowerCase() + cls + ' [' + Math.round(r.left) + '..' + Math.round(r.right) + ']';
  });
}
"""


def menus_fit(page) -> list[str]:
    """Open each folding menu of the header (``<details>``) in turn: the page must still not scroll sideways, and
    nothing in the open menu may be cut off at either edge of the screen."""
    problems = []
    for i, summary in enumerate(page.locator("header details > summary").all()):
        if not summary.is_visible():
            continue
        summary.click()
        label = summary.inner_text().strip().replace("\n", " ")[:40] or f"menu {i + 1}"
        overflow = horizontal_overflow(page)
        if overflow:
            problems.append(f"menu '{label}' open: {overflow}")
        cut = summary.locator("xpath=..").evaluate(_CUT_OFF_JS)
        if cut:
            problems.append(f"menu '{label}' open: cut off at the screen edge: {'; '.join(cut)}")
        if summary.locator("xpath=..").evaluate("d => d.open"):
            summary.click()
    return problems


def watch_errors(page) -> list[str]:
    """Collect the page's uncaught script errors and console errors (a CSP refusal, a missing file) from now on."""
    errors: list[str] = []

    def console(msg):
        # The document's own 4xx status is logged as a failed load; the tests judge statuses themselves.
        if msg.type == "error" and not (msg.text.startswith("Failed to load resource")
                                        and msg.location.get("url") == page.url):
            errors.append(f"console: {msg.text} ({msg.location.get('url')})")

    page.on("pageerror", lambda exc: errors.append(f"script error: {exc}"))
    page.on("console", console)
    return errors


def assert_fits(page) -> None:
    problem = horizontal_overflow(page)
    assert problem is None, f"{page.url} scrolls horizontally: {problem}"


# --- crawling -------------------------------------------------------------------------------------------------

SKIP_PREFIXES = ("/logout", "/static/", "/api/", "/lang/")
SKIP_SUFFIXES = (".csv", ".xlsx", ".xls", ".pdf", ".xml", ".zip", ".json", ".png", ".jpg", ".svg")
SKIP_WORDS = ("export", "download")


def crawlable(url: str, origin: str) -> bool:
    if not url.startswith(origin + "/") and url != origin:
        return False
    parts = urlsplit(url)
    path = parts.path.lower() or "/"
    return (not path.startswith(SKIP_PREFIXES) and not path.endswith(SKIP_SUFFIXES)
            and not any(w in url.lower() for w in SKIP_WORDS))


def shape(url: str) -> str:
    """A URL's kind: its path with ids as ``#`` plus its query's keys ("/nodes/#/invite?role")."""
    parts = urlsplit(url)
    keys = sorted({kv.split("=", 1)[0] for kv in parts.query.split("&") if kv})
    return re.sub(r"\d+", "#", parts.path) + ("?" + "&".join(keys) if keys else "")


def crawl(page, origin: str, start: list[str], limit: int = 60, visit=None) -> list[tuple[str, int | None]]:
    """Breadth-first over the same-origin GET links from ``start`` (paths or URLs), at most ``limit`` pages,
    calling ``visit(page, url, status)`` on each; returns [(url, status)] in visiting order. Fair between kinds
    of page (:func:`shape`): the next page is the earliest found among the kinds visited least so far, so forty
    "invite" links of forty schools do not use up the budget before the other pages are seen once."""
    pending = [u if u.startswith("http") else origin + u for u in start]
    seen = set(pending)
    per_shape: Counter[str] = Counter()
    visited: list[tuple[str, int | None]] = []
    while pending and len(visited) < limit:
        url = min(pending, key=lambda u: per_shape[shape(u)])  # min() keeps discovery order among equals
        pending.remove(url)
        per_shape[shape(url)] += 1
        try:
            response = page.goto(url)
        except PlaywrightError as e:
            if "Download is starting" in str(e):  # a file, not a page
                continue
            raise
        status = response.status if response else None
        visited.append((url, status))
        if visit is not None:
            visit(page, url, status)
        for href in page.eval_on_selector_all("a[href]", "els => els.map(a => a.href)"):
            href = urldefrag(href)[0]
            if href not in seen and crawlable(href, origin):
                seen.add(href)
                pending.append(href)
    return visited
