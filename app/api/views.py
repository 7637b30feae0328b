"""API v1 endpoints. Each one is documented in :mod:`app.api.openapi` (a test holds the two together)."""
from __future__ import annotations

from flask import current_app, jsonify, request
from sqlalchemy import Select, select

from app.access import access, actor
from app.api import bp
from app.api.openapi import MAX_PER_PAGE, document
from app.pagination import paginate
from core.db import session
from core.errors import Invalid, NotFound
from exports import jobs as job_queue
from exports.models import Job
from tenants import policy, queries
from tenants.models import LEVELS, Node


def node_json(node: Node) -> dict:
    return {"id": node.id, "level": node.level, "code": node.code, "name": node.name, "parent_id": node.parent_id,
            "locality": node.locality, "environment": node.environment,
            "languages": [x for x in node.languages.split(",") if x], "active": node.active}


def _int_arg(name: str, default: int, minimum: int = 1) -> int:
    """An integer query parameter, or 422 naming it."""
    raw = request.args.get(name, "").strip()
    if not raw:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise Invalid(f"{name} must be an integer", {name: "not an integer"}) from None
    if value < minimum:
        raise Invalid(f"{name} must be at least {minimum}", {name: f"less than {minimum}"})
    return value


def _nodes_with_code(code: str, level: str | None) -> Select:
    """Nodes with ``code`` inside the subtrees where the caller may view the tree (a parent's or pupil's
    membership makes a school visible, not browsable)."""
    user = actor()
    paths = [g.path for g in policy.grants(user) if "tree.view" in policy.ROLE_PERMISSIONS[g.role]]
    q = select(Node).where(queries.subtree_filter(paths), Node.code == code)
    if level is not None:
        q = q.where(Node.level == level)
    return q.order_by(Node.path)


def _own_job(job: Job) -> Job:
    # A job's status belongs to the user who started it; anyone else is told it does not exist.
    if job.user_id != actor().id:
        raise NotFound()
    return job


@bp.route("/openapi.json")
@access(public=True)
def openapi():
    return jsonify(document())


@bp.route("/me")
@access()
def me():
    user = actor()
    return jsonify({"id": user.id, "email": user.email, "name": user.name,
                    "memberships": [{"node_id": g.node_id, "role": g.role, "level": g.level}
                                    for g in policy.grants(user)]})


@bp.route("/nodes/<int:node_id>")
@access("tree.view", load=Node)
def get_node(node: Node):
    return jsonify(node_json(node))


@bp.route("/nodes/<int:node_id>/children")
@access("tree.view", load=Node)
def node_children(node: Node):
    page_no = _int_arg("page", 1)
    per_page = min(_int_arg("per_page", current_app.config["PAGE_SIZE"]), MAX_PER_PAGE)
    page = paginate(queries.children(node), page_no, per_page, max_per_page=MAX_PER_PAGE)
    return jsonify({"items": [node_json(n) for n in page.items], "page": page.page, "per_page": page.per_page,
                    "total": page.total, "pages": page.pages})


@bp.route("/nodes")
@access("tree.view")
def nodes_by_code():
    code = request.args.get("code", "").strip()
    if not code:
        raise Invalid("give ?code=", {"code": "required"})
    level = request.args.get("level") or None
    if level is not None and level not in LEVELS:
        raise Invalid(f"level must be one of {', '.join(LEVELS)}", {"level": "unknown level"})
    return jsonify({"items": [node_json(n) for n in session.execute(_nodes_with_code(code, level)).scalars()]})


@bp.route("/jobs/<int:job_id>")
@access(load=Job)
def get_job(job: Job):
    st = job_queue.status(_own_job(job))
    if isinstance(job.result, dict) and "report_id" in job.result:  # a report job: the version it wrote
        st["report_id"] = job.result["report_id"]
    return jsonify(st)


@bp.route("/jobs/<int:job_id>/retry", methods=["POST"])
@access(load=Job)
def retry_job(job: Job):
    job_queue.retry(_own_job(job), actor=actor())
    # 202: queued again; it runs after this request commits (in-process: before the response is sent).
    return jsonify(job_queue.status(job)), 202
