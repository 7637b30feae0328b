"""The start page per role, the tree browser (node pages and search), the user's jobs and the language switch."""
from __future__ import annotations

from urllib.parse import urlsplit

from flask import current_app, redirect, render_template, request, session as web_session, url_for

from app import nav
from app.access import access, actor
from app.pagination import paginate
from app.web import bp
from core.db import session
from core.errors import NotFound
from exports import jobs as job_queue
from exports.models import Job
from tenants import operations, policy, queries
from tenants.models import Node

SEARCH_LEVELS = ("inspectorate", "school", "unit")


@bp.app_context_processor
def _layout():
    """What base.html needs on every page: who is signed in, the languages and the label helpers."""
    user = actor()
    return {"me": nav.identity(user), "languages": [("ro", "Română"), ("en", "English")],
            "has_endpoint": nav.has_endpoint, "is_current": nav.is_current, "role_labels": nav.ROLE_LABELS,
            "level_labels": nav.LEVEL_LABELS, "count_labels": nav.COUNT_LABELS, "counts_shown": nav.COUNTS_SHOWN,
            "grade_label": nav.grade_label, "language_names": nav.language_names,
            "environment_labels": nav.ENVIRONMENT_LABELS, "education_form_labels": nav.EDUCATION_FORM_LABELS,
            "job_status_labels": nav.JOB_STATUS_LABELS}


@bp.before_app_request
def _stored_language():
    """A new session of a signed-in user starts in the language the user chose last time."""
    if request.endpoint == "static" or request.blueprint == "api" or "lang" in web_session:
        return
    user = actor()
    if user is not None and user.locale in current_app.config["LANGUAGES"]:
        web_session["lang"] = user.locale


@bp.route("/language", methods=["POST"])
@access(public=True)
def set_language():
    """Switch the interface language for this session and, for a signed-in user, remember it."""
    code = request.form.get("lang", "")
    if code in current_app.config["LANGUAGES"]:
        web_session["lang"] = code
        user = actor()
        if user is not None:
            operations.set_user_locale(user, code)
    return redirect(_safe_next(request.form.get("next")))


def _safe_next(target: str | None) -> str:
    if target and target.startswith("/") and not target.startswith("//") and "\\" not in target \
            and not urlsplit(target).netloc:
        return target
    return url_for("web.home")


@bp.route("/")
@access()
def home():
    user = actor()
    year = queries.current_school_year()
    roots = [n for n in session.execute(queries.visible_roots(user)).scalars() if policy.can(user, "tree.view", n)]
    return render_template("web/home.html", user=user, roots=roots, counts=queries.subtree_counts(roots, year),
                           year=year, may_import=nav.has_endpoint("web.imports") and nav.may_import(user),
                           is_staff=policy.is_staff(user))


def _selected_year():
    """The school year named by ?year= (any year; they are not tenant data), else the current one."""
    years = session.execute(queries.school_years()).scalars().all()
    wanted = request.args.get("year", type=int)
    chosen = next((y for y in years if y.id == wanted), None)
    if chosen is None:
        chosen = next((y for y in years if y.current), years[0] if years else None)
    return chosen, years


@bp.route("/nodes/<int:node_id>")
@access("tree.view", load=Node)
def node(node: Node):
    user = actor()
    year, years = _selected_year()
    page = paginate(queries.children(node), request.args.get("page"), current_app.config["PAGE_SIZE"])
    counts = queries.subtree_counts(page.items, year)
    totals = queries.totals_of(node, year, page.items if page.pages == 1 else None, counts)
    ancestors = session.execute(queries.visible_ancestors(node, user)).scalars().all()
    classes, buildings = [], []
    if node.level == "unit":
        buildings = session.execute(queries.buildings_of(node)).scalars().all()
        if year is not None:
            classes = session.execute(queries.classes_of(node, year)).scalars().all()
    return render_template("web/node.html", node=node, page=page, counts=counts, totals=totals,
                           ancestors=ancestors, classes=classes, buildings=buildings, year=year, years=years,
                           actions=nav.node_actions(user, node, year if year and not year.current else None))


@bp.route("/search")
@access("tree.view")
def search():
    user = actor()
    text = request.args.get("q", "").strip()[:100]
    level = request.args.get("level") if request.args.get("level") in SEARCH_LEVELS else None
    counties = session.execute(queries.visible_counties(user)).scalars().all()
    county = None
    if request.args.get("county"):
        county = queries.get_visible_or_404(Node, request.args["county"], user)
        if county.level != "inspectorate":
            raise NotFound()
    page, context = None, {}
    if text or level or county:
        page = paginate(queries.search_nodes(user, text, level, county_id=county.id if county else None),
                        request.args.get("page"), current_app.config["PAGE_SIZE"])
        context = queries.nodes_by_id({n.county_id for n in page.items if n.level != "inspectorate"}
                                      | {n.school_id for n in page.items if n.level == "unit"})
    return render_template("web/search.html", q=text, level=level, county=county, counties=counties,
                           page=page, context=context, many_counties=len(counties) > 1)


@bp.route("/jobs")
@access()
def jobs():
    user = actor()
    page = paginate(job_queue.jobs_of(user.id), request.args.get("page"), current_app.config["PAGE_SIZE"])
    return render_template("web/jobs.html", page=page)


@bp.route("/jobs/<int:job_id>")
@access(load=Job)
def job(job: Job):
    if job.user_id != actor().id:  # a job's progress belongs to the user who started it
        raise NotFound()
    return render_template("web/job.html", job=job, st=job_queue.status(job))
