from __future__ import annotations

from flask import current_app, render_template, request
from sqlalchemy import select

from app.access import access, actor
from app.pagination import paginate
from app.web import bp
from core.db import session
from core.errors import NotFound
from exports import jobs as job_queue
from exports.models import Job
from tenants import policy, queries
from tenants.models import Node


@bp.route("/")
@access()
def home():
    user = actor()
    roots = session.execute(select(Node).where(Node.path.in_(policy.visible_paths(user)))
                            .order_by(Node.path)).scalars().all()
    return render_template("web/home.html", user=user, roots=roots, grants=policy.grants(user))


@bp.route("/nodes/<int:node_id>")
@access("tree.view", load=Node)
def node(node: Node):
    user = actor()
    page = paginate(queries.children(node), request.args.get("page"), current_app.config["PAGE_SIZE"])
    ancestors = [n for n in (session.get(Node, i) for i in node.ancestor_ids[:-1])
                 if n is not None and policy.can_see(user, n)]
    year = queries.current_school_year()
    classes = session.execute(queries.classes_of(node, year)).scalars().all() if node.level == "unit" and year else []
    return render_template("web/node.html", node=node, page=page, ancestors=ancestors, classes=classes, year=year)


@bp.route("/search")
@access("tree.view")
def search():
    user = actor()
    text = request.args.get("q", "").strip()[:100]
    level = request.args.get("level") if request.args.get("level") in ("inspectorate", "school", "unit") else None
    page = None
    if text or level:
        page = paginate(queries.search_nodes(user, text, level), request.args.get("page"),
                        current_app.config["PAGE_SIZE"])
    return render_template("web/search.html", q=text, level=level, page=page)


@bp.route("/jobs")
@access()
def jobs():
    user = actor()
    q = select(Job).where(Job.user_id == user.id).order_by(Job.created_at.desc())
    page = paginate(q, request.args.get("page"), current_app.config["PAGE_SIZE"])
    return render_template("web/jobs.html", page=page)


@bp.route("/jobs/<int:job_id>")
@access(load=Job)
def job(job: Job):
    if job.user_id != actor().id:  # a job's progress belongs to the user who started it
        raise NotFound()
    return render_template("web/job.html", job=job, st=job_queue.status(job))
