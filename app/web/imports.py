"""Network and structure import pages (upload → preview → confirm → job) and the matching exports."""
from __future__ import annotations

from flask import Response, current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from flask_wtf.file import FileAllowed, FileField, FileRequired
from sqlalchemy import select
from wtforms import SelectField

from app.access import access, actor
from app.pagination import Page, paginate
from app.web import bp
from core.db import session
from core.errors import Forbidden, Invalid, NotFound
from exports.models import Job
from tenants import network_io, policy, queries
from tenants.models import ImportBatch, Node, SchoolYear
from tenants.network_io.columns import COLUMNS

PREVIEW_PAGE_SIZE = 100
SECTIONS = ("errors", "creates", "updates", "missing")
FORMATS = ("csv", "xlsx")
FIELD_LABELS = {
    "name": _l("name"), "locality": _l("locality"), "environment": _l("environment"),
    "languages": _l("teaching languages"), "grade_level": _l("grade"), "teaching_language": _l("teaching language"),
    "education_form": _l("form of education"), "pupils": _l("pupils"), "combined": _l("combined grades"),
}
COLUMN_HELP = {
    "county_code": _l("county code, e.g. CJ, IS, B"),
    "school_code": _l("SIIIR code of the school (legal entity), 10 digits"),
    "school_name": _l("name of the school"),
    "unit_code": _l("SIIIR code of the unit, 10 digits"),
    "unit_name": _l("name of the unit"),
    "locality": _l("locality of the unit"),
    "environment": _l("urban or rural"),
    "languages": _l("teaching languages, e.g. ro or ro,hu (empty: ro)"),
    "school_locality": _l("optional: locality of the school"),
    "school_environment": _l("optional: environment of the school"),
    "school_languages": _l("optional: teaching languages of the school"),
    "class_name": _l("name of the class, e.g. 5A"),
    "grade_level": _l("P (preparatory), I to XII, or 0 to 12"),
    "teaching_language": _l("teaching language, e.g. ro (empty: ro)"),
    "education_form": _l("day, evening, part_time or distance (empty: day)"),
    "pupils": _l("number of pupils, a whole number"),
    "combined": _l("combined-grade class: yes or no (da/nu)"),
}


class UploadForm(FlaskForm):
    file = FileField(_l("File (.xlsx or .csv)"),
                     validators=[FileRequired(_l("Choose a file.")),
                                 FileAllowed(list(FORMATS), _l("Upload an .xlsx or .csv file."))])


class StructureUploadForm(UploadForm):
    school_year = SelectField(_l("School year"), coerce=int)


def _own(batch: ImportBatch) -> None:
    """A batch is private to the user who uploaded it; anyone else gets the same 404 as outside their scope."""
    if batch.user_id != actor().id:
        raise NotFound()


def _max_rows() -> int:
    return int(current_app.config.get("IMPORT_MAX_ROWS") or network_io.DEFAULT_MAX_ROWS)


def _targets(user) -> list[dict]:
    """The nodes of the user's memberships with what they may import or export there."""
    perms = ("network.import", "structure.import", "network.export", "structure.export")
    ids = sorted({g.node_id for g in policy.grants(user)})
    nodes = session.execute(select(Node).where(Node.id.in_(ids)).order_by(Node.path)).scalars().all() if ids else []
    targets = []
    for node in nodes:
        allowed = {p: policy.can(user, p, node) for p in perms}
        allowed["network.import"] = allowed["network.import"] and node.level in network_io.NETWORK_LEVELS
        if any(allowed.values()):
            targets.append({"node": node, "can": allowed})
    return targets


@bp.route("/imports")
@access()
def imports():
    user = actor()
    page = paginate(network_io.batches_of(user.id), request.args.get("page"), current_app.config["PAGE_SIZE"])
    node_ids = {b.node_id for b in page.items}
    names = queries.node_names(node_ids)
    return render_template("web/imports.html", page=page, names=names, targets=_targets(user),
                           year=queries.current_school_year())


def _upload(kind: str, node: Node, form: UploadForm, year: SchoolYear | None = None):
    upload = form.file.data
    batch = network_io.preview(kind, node, actor(), upload.filename or "upload", upload.read(), year=year,
                               max_rows=_max_rows())
    return redirect(url_for("web.import_batch", import_batch_id=batch.id))


def _upload_page(kind: str, node: Node, form: UploadForm):
    columns = [(c.name, COLUMN_HELP.get(c.name), c.required) for c in COLUMNS[kind] if not c.informative]
    return render_template("web/imports_upload.html", kind=kind, node=node, form=form, columns=columns,
                           max_rows=_max_rows(), year=queries.current_school_year())


@bp.route("/nodes/<int:node_id>/import/network", methods=["GET", "POST"])
@access("network.import", load=Node)
def import_network(node: Node):
    if node.level not in network_io.NETWORK_LEVELS:
        raise Invalid(_("The network is imported for the whole country or for one county."))
    form = UploadForm()
    if form.validate_on_submit():
        return _upload("network", node, form)
    return _upload_page("network", node, form)


@bp.route("/nodes/<int:node_id>/import/structure", methods=["GET", "POST"])
@access("structure.import", load=Node)
def import_structure(node: Node):
    years = network_io.school_years()
    if not years:
        raise Invalid(_("No school year exists yet."))
    form = StructureUploadForm()
    form.school_year.choices = [(y.id, y.name) for y in years]
    if request.method == "GET":
        current = queries.current_school_year()
        form.school_year.data = current.id if current else years[0].id
    if form.validate_on_submit():
        return _upload("structure", node, form, year=session.get(SchoolYear, form.school_year.data))
    return _upload_page("structure", node, form)


def _section_page(batch: ImportBatch, show: str) -> Page:
    items = batch.errors if show == "errors" else (batch.plan or {}).get(show, [])
    try:
        number = max(1, int(request.args.get("page", 1)))
    except ValueError:
        number = 1
    start = (number - 1) * PREVIEW_PAGE_SIZE
    return Page(items[start:start + PREVIEW_PAGE_SIZE], number, PREVIEW_PAGE_SIZE, len(items))


@bp.route("/imports/<int:import_batch_id>")
@access(load=ImportBatch, arg="import_batch_id", as_="batch")
def import_batch(batch: ImportBatch):
    _own(batch)
    summary = (batch.plan or {}).get("summary", {})
    show = request.args.get("show")
    if show not in SECTIONS:
        show = "errors" if batch.errors else next((s for s in ("creates", "updates", "missing") if summary.get(s)),
                                                  "creates")
    job_id = (batch.plan or {}).get("job_id")
    return render_template("web/imports_preview.html", batch=batch, node=session.get(Node, batch.node_id),
                           year=session.get(SchoolYear, batch.school_year_id) if batch.school_year_id else None,
                           summary=summary, show=show, page=_section_page(batch, show),
                           notices=(batch.plan or {}).get("notices", []), labels=FIELD_LABELS,
                           job=session.get(Job, job_id) if job_id else None,
                           running=network_io.active_job(batch) is not None)


@bp.route("/imports/<int:import_batch_id>/apply", methods=["POST"])
@access(load=ImportBatch, arg="import_batch_id", as_="batch")
def import_apply(batch: ImportBatch):
    _own(batch)
    user = actor()
    if not policy.can(user, f"{batch.kind}.import", session.get(Node, batch.node_id)):
        raise Forbidden(_("Your role may not import here."))
    back = redirect(url_for("web.import_batch", import_batch_id=batch.id))
    if batch.status != "preview" or batch.errors:
        flash(_("Only a checked file without errors can be applied."), "error")
        return back
    if network_io.active_job(batch) is not None:
        flash(_("This import is already being applied."), "error")
        return back
    job = network_io.start_apply(batch, user)
    flash(_("The import is being applied. When the job is done, the import page shows the result."), "ok")
    return redirect(url_for("web.job", job_id=job.id))


@bp.route("/imports/<int:import_batch_id>/discard", methods=["POST"])
@access(load=ImportBatch, arg="import_batch_id", as_="batch")
def import_discard(batch: ImportBatch):
    _own(batch)
    if batch.status not in ("preview", "invalid") or network_io.active_job(batch) is not None:
        flash(_("Only an import that was not applied can be discarded."), "error")
        return redirect(url_for("web.import_batch", import_batch_id=batch.id))
    network_io.discard(batch)
    flash(_("The import was discarded; nothing was written."), "ok")
    return redirect(url_for("web.imports"))


def _download(name: str, mimetype: str, data: bytes) -> Response:
    return Response(data, mimetype=mimetype, headers={"Content-Disposition": f'attachment; filename="{name}"',
                                                      "Cache-Control": "no-store"})


@bp.route("/nodes/<int:node_id>/export/network.<fmt>")
@access("network.export", load=Node)
def export_network(node: Node, fmt: str):
    if fmt not in FORMATS:
        raise NotFound()
    return _download(*network_io.export("network", node, fmt))


@bp.route("/nodes/<int:node_id>/export/structure.<fmt>")
@access("structure.export", load=Node)
def export_structure(node: Node, fmt: str):
    if fmt not in FORMATS:
        raise NotFound()
    year_id = request.args.get("year", type=int)
    year = session.get(SchoolYear, year_id) if year_id else queries.current_school_year()
    if year is None:
        raise NotFound()
    return _download(*network_io.export("structure", node, fmt, year=year))
