from __future__ import annotations

from flask import current_app, jsonify, request

from app.access import access, actor
from app.api import bp
from app.api.openapi import document
from app.pagination import paginate
from core.db import session
from core.errors import Invalid, NotFound
from exports import jobs as job_queue
from exports.models import Job
from tenants import policy, queries
from tenants.models import Node


def node_json(node: Node) -> dict:
    return {"id": node.id, "level": node.level, "code": node.code, "name": node.name, "parent_id": node.parent_id,
            "locality": node.locality, "environment": node.environment,
            "languages": [x for x in node.languages.split(",") if x], "active": node.active}


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
    per_page = request.args.get("per_page", current_app.config["PAGE_SIZE"])
    try:
        per_page = int(per_page)
    except ValueError:
        raise Invalid("per_page must be an integer", {"per_page": "not an integer"}) from None
    page = paginate(queries.children(node), request.args.get("page"), per_page)
    return jsonify({"items": [node_json(n) for n in page.items], "page": page.page, "per_page": page.per_page,
                    "total": page.total, "pages": page.pages})


@bp.route("/nodes")
@access("tree.view")
def nodes_by_code():
    code = (request.args.get("code") or "").strip()
    if not code:
        raise Invalid("give ?code=", {"code": "required"})
    q = queries.visible_nodes(actor()).where(Node.code == code).order_by(Node.level)
    return jsonify({"items": [node_json(n) for n in session.execute(q).scalars()]})


@bp.route("/jobs/<int:job_id>")
@access(load=Job)
def get_job(job: Job):
    if job.user_id != actor().id:
        raise NotFound()
    return jsonify(job_queue.status(job))
