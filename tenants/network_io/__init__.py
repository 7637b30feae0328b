"""Network and school-year structure import/export (CSV and XLSX).

Upload → :func:`preview` reads the file, checks every row (all errors, with row and column), plans it against the
database (creates, updates with old/new values, unchanged, and *missing*: existing schools/units/classes in scope
the file does not mention — reported, never deleted) and stores an ImportBatch. A batch with any error is
``invalid`` and cannot be applied. :func:`start_apply` enqueues the apply job, which re-plans against the current
database and applies the confirmed plan in one transaction, or refuses when anything changed. Imports are idempotent by
SIIIR code; :func:`export` writes the same columns, so an exported file re-imports as a no-op.
"""
from __future__ import annotations

import hashlib
import json
import re

from sqlalchemy import select

from core import audit
from core.db import session, utcnow
from core.errors import Conflict, Forbidden, Invalid, NotFound
from exports import jobs
from exports.models import Job
from exports.spreadsheets import (CSV_MIMETYPE, XLSX_MIMETYPE, N_, SpreadsheetError, read_table, write_csv,
                                  write_xlsx)
from tenants import policy
from tenants.models import ImportBatch, Node, SchoolYear, User
from tenants.network_io import network, structure
from tenants.network_io.columns import COLUMNS, error, normalise

DEFAULT_MAX_ROWS = 50_000  # the national network is ~17,000 rows; the web layer passes IMPORT_MAX_ROWS
MAX_STORED_ERRORS = 5_000
KINDS = ("network", "structure")
NETWORK_LEVELS = ("ministry", "inspectorate")  # the commission for the country, an inspectorate for its county


def _check_scope(kind: str, scope: Node, year: SchoolYear | None) -> None:
    if kind not in KINDS:
        raise Invalid(f"unknown import kind {kind!r}")
    if kind == "network" and scope.level not in NETWORK_LEVELS:
        raise Invalid("the network is imported for the whole country or for one county")
    if kind == "structure" and year is None:
        raise Invalid("a structure import needs a school year")


def _plan(kind: str, scope: Node, year: SchoolYear | None, rows: list[dict], columns: dict) -> tuple[dict, list]:
    if kind == "network":
        plan, errors = network.plan(scope, rows, columns)
    else:
        plan, errors = structure.plan(scope, year, rows, columns)
    digest = json.dumps([plan["creates"], plan["updates"]], sort_keys=True, default=str)
    plan["fingerprint"] = hashlib.sha256(digest.encode()).hexdigest()
    return plan, errors


def _summary(rows: list, plan: dict, errors: list) -> dict:
    return {"rows": len(rows), "errors": len(errors), "creates": len(plan.get("creates", [])),
            "updates": len(plan.get("updates", [])), "unchanged": plan.get("unchanged", 0),
            "missing": len(plan.get("missing", []))}


def _store_errors(errors: list[dict]) -> list[dict]:
    errors = sorted(errors, key=lambda e: e["row"] or 0)  # stable: a row's errors stay in column order
    if len(errors) > MAX_STORED_ERRORS:
        more = len(errors) - MAX_STORED_ERRORS
        errors = errors[:MAX_STORED_ERRORS] + [error(None, None, N_("… and %(count)s more errors"), count=more)]
    return errors


def preview(kind: str, scope: Node, user: User, filename: str, data: bytes, *, year: SchoolYear | None = None,
            max_rows: int = DEFAULT_MAX_ROWS) -> ImportBatch:
    """Read, check and plan an uploaded file; store and return the batch (status ``preview`` or ``invalid``).

    Nothing but the batch row is written, whatever the file holds."""
    _check_scope(kind, scope, year)
    rows, errors, columns, notices = [], [], {}, []
    plan = {"creates": [], "updates": [], "unchanged": 0, "missing": [], "fingerprint": ""}
    try:
        table = read_table(data, filename, max_rows)
    except SpreadsheetError as e:
        errors = [error(None, None, e.message, **e.params)]
    else:
        rows, errors, columns, notices = normalise(table, COLUMNS[kind])
        if rows:
            plan, plan_errors = _plan(kind, scope, year, rows, columns)
            errors += plan_errors
    plan.update(columns=columns, notices=notices, summary=_summary(rows, plan, errors))
    batch = ImportBatch(kind=kind, node_id=scope.id, user_id=user.id, school_year_id=year.id if year else None,
                        filename=_safe_filename(filename), status="invalid" if errors else "preview", rows=rows,
                        plan=plan, errors=_store_errors(errors))
    session.add(batch)
    session.flush()
    return batch


def _safe_filename(filename: str) -> str:
    name = re.sub(r"[\x00-\x1f\\/]+", "_", filename or "").strip() or "upload"
    return name[-255:]


def active_job(batch: ImportBatch) -> Job | None:
    """The apply job of this batch while it is queued or running."""
    job_id = (batch.plan or {}).get("job_id")
    job = session.get(Job, job_id) if job_id else None
    return job if job is not None and job.status in ("queued", "running") else None


def start_apply(batch: ImportBatch, user: User) -> Job:
    """Enqueue the apply job of a previewed batch without errors; the job runs after the caller commits."""
    if batch.status != "preview" or batch.errors:
        raise Conflict("only a previewed import without errors can be applied")
    if active_job(batch) is not None:
        raise Conflict("this import is already being applied")
    job = jobs.enqueue(f"{batch.kind}.import_apply", node_id=batch.node_id, user_id=user.id,
                       import_batch_id=batch.id)
    batch.plan = {**batch.plan, "job_id": job.id}
    session.flush()
    return job


def discard(batch: ImportBatch) -> None:
    """Drop a batch that was not applied; its rows are cleared, its summary kept."""
    if batch.status not in ("preview", "invalid") or active_job(batch) is not None:
        raise Conflict("only an import that was not applied can be discarded")
    batch.status = "discarded"
    batch.rows = []
    batch.plan = {k: v for k, v in batch.plan.items() if k in ("summary", "columns")}
    session.flush()


def apply(import_batch_id: int, user_id: int | None, progress) -> dict:
    """Re-plan against the current database and apply in the caller's transaction, or refuse.

    The plan applied is exactly the one the user confirmed (same fingerprint); if the tree changed since the
    preview, Conflict says why and nothing is written — the user uploads the file again to see the new plan."""
    batch = session.execute(select(ImportBatch).where(ImportBatch.id == import_batch_id).with_for_update()
                            .execution_options(populate_existing=True)).scalar()
    if batch is None:
        raise NotFound("import not found")
    if batch.status != "preview" or batch.errors:
        raise Conflict(f"this import is {batch.status}; only a checked import without errors can be applied")
    user = session.get(User, user_id) if user_id else None
    scope = session.get(Node, batch.node_id)
    if user is None or not user.active or not policy.can(user, f"{batch.kind}.import", scope):
        raise Forbidden("your role may no longer import here")
    year = session.get(SchoolYear, batch.school_year_id) if batch.school_year_id else None
    progress(2, "checking")
    plan, errors = _plan(batch.kind, scope, year, batch.rows, batch.plan.get("columns", {}))
    if errors:
        first = errors[0]
        where = f" (row {first['row']})" if first["row"] else ""
        raise Conflict(f"the data changed since the preview, so nothing was written: "
                       f"{first['message'] % first['params']}{where}. Upload the file again to see the new plan.",
                       details=errors[:100])
    if plan["fingerprint"] != batch.plan.get("fingerprint"):
        raise Conflict("the data changed since the preview, so the confirmed plan no longer applies and nothing "
                       "was written. Upload the file again to see the new plan.")
    if batch.kind == "network":
        counts = network.execute(plan, user, progress)
    else:
        counts = structure.execute(plan, year, user, progress)
    batch.status, batch.applied_at = "applied", utcnow()
    if counts["created"] or counts["updated"]:
        audit.record("import.apply", user=user, obj=batch, node_id=scope.id,
                     new={"kind": batch.kind, "filename": batch.filename, **counts})
    session.flush()
    return {"import_batch_id": batch.id, **counts}


@jobs.task("network.import_apply")
def _apply_network(job, progress, import_batch_id: int):
    return apply(import_batch_id, job.user_id, progress)


@jobs.task("structure.import_apply")
def _apply_structure(job, progress, import_batch_id: int):
    return apply(import_batch_id, job.user_id, progress)


def export(kind: str, scope: Node, fmt: str, year: SchoolYear | None = None) -> tuple[str, str, bytes]:
    """The scope's network or structure as (filename, mimetype, bytes), in the columns the import reads."""
    if kind == "network":
        headers, rows = network.export_rows(scope)
        base = f"network-{scope.code}"
    elif kind == "structure" and year is not None:
        headers, rows = structure.export_rows(scope, year)
        base = f"structure-{scope.code}-{year.name}"
    else:
        raise Invalid(f"cannot export {kind!r}")
    base = re.sub(r"[^A-Za-z0-9_.-]+", "_", base)
    if fmt == "csv":
        return f"{base}.csv", CSV_MIMETYPE, write_csv(headers, rows)
    if fmt == "xlsx":
        return f"{base}.xlsx", XLSX_MIMETYPE, write_xlsx(headers, rows, title=kind)
    raise Invalid(f"unknown format {fmt!r}")


def school_years() -> list[SchoolYear]:
    return list(session.execute(select(SchoolYear).order_by(SchoolYear.starts_on.desc())).scalars())


def batches_of(user_id: int):
    """The user's import batches, newest first, without their (large) rows, plan and errors."""
    from sqlalchemy.orm import defer
    return (select(ImportBatch).where(ImportBatch.user_id == user_id)
            .options(defer(ImportBatch.rows), defer(ImportBatch.plan), defer(ImportBatch.errors))
            .order_by(ImportBatch.created_at.desc(), ImportBatch.id.desc()))
