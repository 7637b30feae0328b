"""The form teacher's pages: open a class link, fill the class table on a phone (autosaved drafts that survive a
lost connection), submit, and a clear page for every link that cannot be used.

``GET /l/<token>`` checks the token, exchanges it for a page session bound to that link (id, version, at most
:data:`SESSION_SECONDS` and never past the link's expiry) and redirects to ``/fill``: the token is never in a URL
after that, and a logging filter keeps it out of the request logs. Every request re-reads the link's row
(:func:`workflows.link_use.load`), so a revoke, re-issue or lock takes effect at once. The class always comes from
the link, never from the request. Each request counts against the ``link`` and ``link_address`` throttle rules.
"""
from __future__ import annotations

import ast
import logging
import re
import time

from flask import (current_app, flash, jsonify, make_response, redirect, render_template, request,
                   session as web_session, url_for)
from flask_babel import gettext as _, lazy_gettext as _l
from flask_wtf.csrf import generate_csrf

from app.access import access
from app.auth.guard import client_address, throttle
from app.web import bp
from app.web.campaign_entry import _labels, _locale, _posted, _sections, error_text
from app.web.campaign_messages import refusal_text
from core.errors import Conflict, Invalid
from forms import engine
from forms.definitions import localize
from forms.expressions import PATTERN_RE, compile_expression
from workflows import link_use, links
from workflows.link_use import LinkRefused

SESSION_KEY = "class_link"
SESSION_SECONDS = 2 * 3600
ENDPOINTS = frozenset({"web.link_open", "web.link_fill", "web.link_draft", "web.link_done", "web.link_refused"})
# refusal code → HTTP status of its page ("session": no page session, or it ran out; "limited": throttled)
STATUS = {"invalid": 404, "session": 403, "superseded": 410, "revoked": 410, "expired": 410, "closed": 409,
          "excluded": 409, "locked": 423, "submitted": 409, "limited": 429}
TITLES = {
    "invalid": _l("This link does not work"),
    "session": _l("Open your link again"),
    "superseded": _l("This link was replaced by a newer one"),
    "revoked": _l("This link was withdrawn"),
    "expired": _l("This link has expired"),
    "closed": _l("The data collection is closed"),
    "excluded": _l("This class does not take part in the data collection"),
    "locked": _l("The class table is locked"),
    "submitted": _l("The class table was already submitted"),
    "limited": _l("Too many requests"),
}
TEXTS = {
    "invalid": _l("The link is incomplete or was changed. Open it again exactly as you received it; if it still "
                  "does not work, ask the unit responsible for a new link."),
    "session": _l("For your safety, the page opened by your link works for a limited time. Open the link you "
                  "received again to continue; the values already saved are kept."),
    "superseded": _l("The unit responsible issued a newer link for this class. Use the most recent link you "
                     "received, or ask the unit responsible for a new one."),
    "revoked": _l("The unit responsible withdrew this link. If you still need to fill in the class table, ask "
                  "the unit responsible for a new link."),
    "expired": _l("Links work for a limited time. Ask the unit responsible for a new link."),
    "closed": _l("The campaign no longer accepts data. If a correction is needed, contact the unit responsible."),
    "excluded": _l("Nothing needs to be filled in for this class now. Contact the unit responsible if you think "
                   "this is a mistake."),
    "locked": _l("The unit responsible or the school locked the class table while they check it. Try again "
                 "later, or ask the unit responsible to unlock it."),
    "submitted": _l("The class table has been reported complete. If something must be corrected, ask the unit "
                    "responsible to reopen it and send you a new link."),
    "limited": _l("This link was used too often in a short time. Wait a few minutes and try again."),
}
# Terminal refusals end the page session: only a newer link can help.
_ENDS_SESSION = frozenset({"invalid", "superseded", "revoked", "expired", "closed"})
_TOKEN_IN_PATH = re.compile(r"(/l/)[^\s?#\"']+")


# --- logs and headers ---------------------------------------------------------------------------------------

class RedactLinkTokens(logging.Filter):
    """Rewrites ``/l/<token>`` to ``/l/[token]`` in a record (werkzeug's and gunicorn's request lines, errors)."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # a broken record is not ours to fix
            return True
        if "/l/" in message:
            record.msg, record.args = _TOKEN_IN_PATH.sub(r"\1[token]", message), None
        return True


@bp.record_once
def _install_log_filter(state) -> None:
    for name in ("werkzeug", "gunicorn.access", "gunicorn.error", state.app.logger.name):
        logger = logging.getLogger(name)
        if not any(isinstance(f, RedactLinkTokens) for f in logger.filters):
            logger.addFilter(RedactLinkTokens())


@bp.after_request
def _link_headers(response):
    if request.endpoint in ENDPOINTS:
        response.headers["Referrer-Policy"] = "no-referrer"
        response.headers["Cache-Control"] = "no-store"
        response.headers["X-Robots-Tag"] = "noindex"
    return response


# --- the page session ---------------------------------------------------------------------------------------

def _keys() -> list[str]:
    return [*current_app.config.get("SECRET_KEY_FALLBACKS", []), current_app.config["SECRET_KEY"]]


def _address() -> str:
    return links.address_hash(client_address(), _keys())


class _Refused(Exception):
    def __init__(self, code: str, retry_after: int = 0):
        super().__init__(code)
        self.code, self.retry_after = code, retry_after


def _throttle(link_id: int | None) -> None:
    scopes = [("link_address", client_address())]
    if link_id is not None:
        scopes.append(("link", str(link_id)))
    verdict = throttle().attempt(scopes)
    if not verdict.allowed:
        raise _Refused("limited", verdict.retry_after)


def _bound():
    """(link, token version) of this browser's page session, re-read and re-checked; raises _Refused."""
    entry = web_session.get(SESSION_KEY)
    try:
        link_id, version, expires = int(entry["id"]), int(entry["v"]), float(entry["exp"])
    except (TypeError, KeyError, ValueError):
        raise _Refused("session") from None
    if expires <= time.time():
        web_session.pop(SESSION_KEY, None)
        raise _Refused("session")
    _throttle(link_id)
    link, problem = link_use.load(link_id, version)
    if problem is not None:
        raise _Refused(problem)
    return link, version


def _refused_page(code: str, retry_after: int = 0):
    if code in _ENDS_SESSION:
        web_session.pop(SESSION_KEY, None)
    status = STATUS.get(code, 404)
    if request.endpoint == "web.link_draft":
        response = jsonify({"error": {"code": "link_refused", "refusal": code, "message": str(TEXTS[code]),
                                      "title": str(TITLES[code])}})
        response.status_code = status
    else:
        response = make_response(render_template("links/refused.html", code=code, title=TITLES[code],
                                                 text=TEXTS[code], retry_after=retry_after), status)
    if retry_after:
        response.headers["Retry-After"] = str(retry_after)
    return response


@bp.errorhandler(_Refused)
def _on_refused(e: _Refused):
    if request.endpoint == "web.link_open":
        # Never a page at the token's URL (its links and forms would carry the token): its own clean URL.
        if e.code in _ENDS_SESSION:
            web_session.pop(SESSION_KEY, None)
        return redirect(url_for("web.link_refused", why=e.code, wait=e.retry_after or None), 303)
    return _refused_page(e.code, e.retry_after)


@bp.errorhandler(LinkRefused)
def _on_link_refused(e: LinkRefused):
    return _on_refused(_Refused(e.refusal))


@bp.route("/fill/refused")
@access(public=True)
def link_refused():
    """Why a link did not open (``/l/<token>`` redirects here), with what to do."""
    code = request.args.get("why", "")
    wait = request.args.get("wait", "")
    return _refused_page(code if code in STATUS else "invalid", int(wait) if wait.isdigit() else 0)


# --- live computation in the browser --------------------------------------------------------------------------

def _tree(node: ast.AST, names: dict[str, str]):
    """A formula's syntax tree as JSON for app/static/link-fill.js (the same language as forms.expressions)."""
    if isinstance(node, ast.Expression):
        return _tree(node.body, names)
    if isinstance(node, ast.Constant):
        return ["c", node.value]
    if isinstance(node, ast.Name):
        return ["n", names[node.id]]
    if isinstance(node, ast.Tuple | ast.List):
        return ["c", [e.value for e in node.elts]]
    if isinstance(node, ast.UnaryOp):
        return ["u", type(node.op).__name__, _tree(node.operand, names)]
    if isinstance(node, ast.BinOp):
        return ["b", type(node.op).__name__, _tree(node.left, names), _tree(node.right, names)]
    if isinstance(node, ast.BoolOp):
        return ["and" if isinstance(node.op, ast.And) else "or", [_tree(v, names) for v in node.values]]
    if isinstance(node, ast.Compare):
        return ["cmp", _tree(node.left, names),
                [[type(op).__name__, _tree(r, names)] for op, r in zip(node.ops, node.comparators, strict=True)]]
    if isinstance(node, ast.IfExp):
        return ["if", _tree(node.test, names), _tree(node.body, names), _tree(node.orelse, names)]
    if isinstance(node, ast.Call):
        if node.func.id == "sum":
            return ["sum", PATTERN_RE.match(node.args[0].value)["prefix"] + "."]
        return ["f", node.func.id, [_tree(a, names) for a in node.args]]
    raise ValueError(type(node).__name__)


def _formula(source: str):
    expr = compile_expression(source)
    return _tree(expr._tree, expr._placeholders)


def _logic(definition, context: dict) -> dict:
    """What the page needs to compute sums and shares and check the cross-field rules as the teacher types."""
    loc = _locale()
    flat = engine.flatten_context(context)
    fields = {f.key: f for f in definition.fields}
    out = {"context": {k: flat.get(k) for k in definition.context},
           "inputs": {f.key: f.type for f in definition.fields if f.is_input},
           "computed": [], "rules": []}
    try:
        for key in definition.computed_order:
            out["computed"].append([key, _formula(fields[key].spec["formula"]), fields[key].spec.get("decimals")])
        for r in definition.rules:
            out["rules"].append({"key": r.key, "expr": _formula(r.expr), "when": _formula(r.when) if r.when else None,
                                 "fields": list(r.fields), "text": localize(r.message, loc),
                                 "values": {k: _formula(v) for k, v in r.values.items()}})
    except (ValueError, KeyError, AttributeError):  # something the browser cannot compute: the server does
        return {}
    return out


# --- pages --------------------------------------------------------------------------------------------------

@bp.route("/l/<path:token>")
@access(public=True)
def link_open(token: str):
    """Exchange the link's token for a page session and go to the clean URL of the form."""
    _throttle(None)
    ids = links.read_token(token, _keys())
    if ids is None:
        raise _Refused("invalid")
    _throttle(ids[0])
    link, problem = links.open_token(token, _keys())
    if problem is not None:
        raise _Refused(problem)
    link_use.record_open(link, ids[1], _address())
    expires = min(time.time() + SESSION_SECONDS, links.aware(link.expires_at).timestamp())
    web_session[SESSION_KEY] = {"id": link.id, "v": ids[1], "exp": int(expires)}
    web_session.pop("class_link_done", None)
    return redirect(url_for("web.link_fill"), 303)


def _render(link, cur, *, status=200, errors=None, problems=(), conflict=None, posted=None):
    errors, posted = errors or {}, posted or {}
    shown = dict(cur.values)
    if status == 422:
        shown.update(posted)
    elif conflict is not None:
        shown.update({k: v for k, v in posted.items() if k not in conflict})
    labels = _labels(cur.definition, cur.context)
    yours = {k: posted.get(k) for k in (conflict or []) if k in posted}
    school_class = link.school_class
    return render_template(
        "links/fill.html", link=link, campaign=link.campaign, school_class=school_class, unit=school_class.unit,
        version=cur.version, sections=_sections(cur.definition, cur.context, shown, errors),
        problems=[(labels.get(k, "") if k else "", m) for k, m in problems], conflict=conflict,
        changed=[(labels.get(k, k), k, yours.get(k)) for k in conflict or []], current=cur.values,
        logic=_logic(cur.definition, cur.context), labels=labels,
        draft_key=f"arbor.link-draft.{link.id}.{link.version}",
        definition_title=localize(cur.definition.title, _locale())), status


@bp.route("/fill", methods=["GET", "POST"])
@access(public=True)
def link_fill():
    """The class table of the link (GET), or a save / save-and-submit without scripts (POST)."""
    link, version = _bound()
    cur = link_use.values(link, version)
    if request.method == "GET":
        link_use.record_visit(link, version, _address())
        return _render(link, cur)
    try:
        expected = int(request.form.get("version", ""))
    except ValueError:
        raise Invalid(_("The form carries no version.")) from None
    posted = _posted(cur.definition, cur.context)
    try:
        link_use.save(link, version, posted, expected, _address())
    except Invalid as e:
        errors, found = {}, (e.details or {}).get("errors", [])
        for d in found:
            for k in d.get("fields") or [d.get("field")]:
                errors.setdefault(k, []).append(error_text(d))
        return _render(link, cur, status=422, errors=errors, posted=posted,
                       problems=[(d.get("field"), error_text(d)) for d in found])
    except Conflict as e:
        if isinstance(e, LinkRefused):
            raise
        details = e.details or {}
        if "current_version" not in details:  # locked or submitted meanwhile: the refusal page says so
            raise _Refused(links.refusal(link, version) or "locked") from None
        cur = link_use.values(link, version)
        return _render(link, cur, status=409, posted=posted,
                       conflict=_inputs_only(cur, details.get("changed_fields") or []))
    if request.form.get("op") != "submit":
        flash(_("Saved. You can come back with your link until you submit."), "ok")
        return redirect(url_for("web.link_fill"), 303)
    broken = link_use.submit_errors(link)
    if broken:
        errors = {}
        for e in broken:
            for k in e.fields or (e.field,):
                errors.setdefault(k, []).append(error_text(e))
        flash(_("Saved as a draft, but not submitted: %(n)s problem(s) to fix.", n=len(broken)), "error")
        return _render(link, link_use.values(link, version), errors=errors,
                       problems=[(e.field, error_text(e)) for e in broken])
    try:
        link_use.submit(link, version, _address())
    except (Conflict, Invalid) as e:
        if isinstance(e, LinkRefused):
            raise
        flash(_("Saved, but not submitted: %(why)s", why=refusal_text(e)), "error")
        return redirect(url_for("web.link_fill"), 303)
    web_session["class_link_done"] = {"id": link.id, "v": version}
    return redirect(url_for("web.link_done"), 303)


@bp.route("/fill/draft", methods=["POST"])
@access(public=True)
def link_draft():
    """Autosave (JSON): ``{"version": n, "values": {key: text}}`` → the saved version, computed values and the
    rules still broken; 409 with what changed for a stale version, 422 with the field errors."""
    link, version = _bound()
    data = request.get_json(silent=True)
    if not isinstance(data, dict) or not isinstance(data.get("values"), dict):
        return jsonify({"error": {"code": "bad_request", "message": _("Send a version and the values.")}}), 400
    try:
        expected = int(data.get("version"))
    except (TypeError, ValueError):
        return jsonify({"error": {"code": "bad_request", "message": _("The form carries no version.")}}), 400
    posted = {str(k): (v if isinstance(v, list) else "" if v is None else str(v))[:10000]
              for k, v in data["values"].items()}
    try:
        saved = link_use.save(link, version, posted, expected, _address())
    except Invalid as e:
        found = (e.details or {}).get("errors", [])
        fields: dict[str, list[str]] = {}
        for d in found:
            for k in d.get("fields") or [d.get("field") or ""]:
                fields.setdefault(k, []).append(error_text(d))
        return jsonify({"error": {"code": "invalid", "message": _("Not saved: check the marked values."),
                                  "fields": fields}}), 422
    except Conflict as e:
        if isinstance(e, LinkRefused):
            raise
        details = e.details or {}
        if "current_version" not in details:
            raise _Refused(links.refusal(link, version) or "locked") from None
        cur = link_use.values(link, version)
        labels = _labels(cur.definition, cur.context)
        changed = _inputs_only(cur, details.get("changed_fields") or [])
        return jsonify({"error": {
            "code": "stale_version", "version": cur.version,
            "message": _("Someone else saved this class table in the meantime."),
            "changed": [{"key": k, "label": labels.get(k, k), "now": _text(cur.values.get(k)),
                         "value": "" if cur.values.get(k) is None else str(cur.values.get(k)),
                         "yours": posted.get(k)} for k in changed]}}), 409
    shown = {i.key: i.shown() for s in _sections(saved.definition, saved.context, saved.values, {})
             for _g in s[2] for i in _g[1] if not i.is_input}
    warnings = [{"fields": list(w.fields or (w.field,)), "message": error_text(w)}
                for w in engine.check_rules(saved.definition, saved.values, saved.context)]
    return jsonify({"ok": True, "version": saved.version, "computed": shown, "warnings": warnings,
                    "csrf_token": generate_csrf()})


def _inputs_only(cur, keys: list[str]) -> list[str]:
    """The fields the teacher types among ``keys`` (computed ones follow from them)."""
    inputs = {f.key for f in cur.definition.concrete_fields(engine.flatten_context(cur.context)) if f.is_input}
    return [k for k in keys if k in inputs]


def _text(v) -> str:
    return "—" if v is None or v == "" else str(v)


@bp.route("/fill/done")
@access(public=True)
def link_done():
    """After the submit: a read-only summary of what was sent (this page session only)."""
    done = web_session.get("class_link_done") or {}
    entry = web_session.get(SESSION_KEY) or {}
    if not done or done.get("id") != entry.get("id") or done.get("v") != entry.get("v"):
        raise _Refused("session")
    _throttle(int(done["id"]))
    link, problem = link_use.load(int(done["id"]), int(done["v"]))
    if problem != "submitted":  # reopened, revoked, … since: the link's own page (or refusal) tells
        return redirect(url_for("web.link_fill"), 303)
    cur = link_use.submitted_values(link)
    return render_template("links/fill_done.html", link=link, campaign=link.campaign,
                           school_class=link.school_class, unit=link.school_class.unit,
                           sections=_sections(cur.definition, cur.context, cur.values, {}),
                           definition_title=localize(cur.definition.title, _locale()))


__all__ = ["RedactLinkTokens", "SESSION_KEY", "STATUS"]
