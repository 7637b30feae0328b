"""Report versions: generation (at submission and on demand), re-issue up the tree, files with their SHA-256,
the inspector general's signature. Operations audit and flush; the caller commits.

A version is written whole or not at all: :func:`generate` builds the data (:mod:`exports.report_data`), hashes its
canonical JSON, renders every format (:mod:`exports.render`) and adds the report and its files in the caller's
transaction, so a job that dies part-way leaves nothing. Rows are immutable (PostgreSQL triggers refuse UPDATE and
DELETE): a change of the data is a new version, and the versions before it stay readable.

Re-issue (:func:`on_snapshot`): when a node's snapshot is (re)written, its own report is generated after the commit,
and every report above it that was already issued (its latest version not provisional) is re-issued as a new
version. Provisional reports (built on demand before their node was submitted) are not re-issued automatically:
they describe work in progress, and the node's own submission issues the real one. A new version of a county
report voids the signatures of the versions before it; the county report then waits for a new signature.
"""
from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections.abc import Callable
from typing import Any

from sqlalchemy import Select, event, func, select, text

from core import audit, db
from core.db import session, utcnow
from core.errors import Conflict, Forbidden, Invalid, NotFound
from exports import jobs
from exports.models import REPORT_LEVELS, Report, ReportFile, ReportSignature
from tenants import factors, policy
from tenants.models import Node, User

SIGNED_LEVEL = "inspectorate"  # the county report is signed by the inspector general
REASONS = ("submitted", "on_demand", "reissued", "extended")
TASK = "reports.generate"
SIGN_METHODS = ("totp", "email", "sms", "recovery")
CODE_PURPOSE = "reauth"  # e-mail/SMS codes for a signature are re-authentication codes bound to the signing attempt
_PENDING = "arbor.reports.pending"  # session.info key: (campaign_id, node_id) scheduled in this transaction


# --- hashing ---------------------------------------------------------------------------------------------------

def canonical(data: Any) -> bytes:
    """The canonical JSON of the report data: sorted keys, no spaces, UTF-8 (what ``Report.sha256`` hashes)."""
    return json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def sha256(content: bytes) -> str:
    return hashlib.sha256(content).hexdigest()


def data_sha256(data: Any) -> str:
    return sha256(canonical(data))


# --- queries ---------------------------------------------------------------------------------------------------

def versions(campaign_id: int, node_id: int) -> Select:
    """The report versions of a node in a campaign, newest first."""
    return (select(Report).where(Report.campaign_id == campaign_id, Report.node_id == node_id)
            .order_by(Report.version.desc()))


def latest(campaign_id: int, node_id: int) -> Report | None:
    return session.execute(versions(campaign_id, node_id).limit(1)).scalar()


def latest_version(campaign_id: int, node_id: int) -> int:
    return session.execute(select(func.coalesce(func.max(Report.version), 0)).where(
        Report.campaign_id == campaign_id, Report.node_id == node_id)).scalar_one()


def is_latest(report: Report) -> bool:
    return report.version == latest_version(report.campaign_id, report.node_id)


def file_of(report: Report, fmt: str) -> ReportFile:
    """The rendered file of a report in ``fmt``, or NotFound (the file loads through its report, never by id)."""
    row = session.execute(select(ReportFile).where(ReportFile.report_id == report.id, ReportFile.format == fmt)
                          ).scalar()
    if row is None:
        raise NotFound("no such file")
    return row


def files_meta(report: Report) -> list[dict]:
    """Format, size and SHA-256 of each file (without loading their bytes)."""
    rows = session.execute(select(ReportFile.format, ReportFile.size, ReportFile.sha256)
                           .where(ReportFile.report_id == report.id).order_by(ReportFile.format)).all()
    return [{"format": f, "size": s, "sha256": h} for f, s, h in rows]


def signatures(report: Report) -> list[ReportSignature]:
    return list(session.execute(select(ReportSignature).where(ReportSignature.report_id == report.id)
                                .order_by(ReportSignature.id.desc())).scalars())


def signature(report: Report) -> ReportSignature | None:
    """The signature that counts for this version: the valid one, else the latest void one, else None."""
    sigs = signatures(report)
    return next((s for s in sigs if s.void_at is None), sigs[0] if sigs else None)


def signature_state(report: Report) -> str:
    """``signed``, ``void``, ``awaiting`` (a county report without a valid signature) or ``not_required``."""
    if report.level != SIGNED_LEVEL:
        return "not_required"
    sig = signature(report)
    if sig is not None and sig.void_at is None:
        return "signed"
    if sig is not None:
        return "void"
    return "awaiting"


def sees_from_above(user: User | None, node: Node) -> bool:
    """True when every grant of ``user`` reaching ``node`` sits at the ministry (the commission's view)."""
    covering = [g for g in policy.grants(user) if node.path.startswith(g.path)]
    return bool(covering) and all(g.level == "ministry" for g in covering)


def withheld_from(user: User | None, report: Report) -> bool:
    """A county report reaches the commission only once the inspector general has signed it (seed 003): to a
    viewer from above, a county version without a valid signature is withheld (listed, not readable)."""
    if report.level != SIGNED_LEVEL:
        return False
    return sees_from_above(user, session.get(Node, report.node_id)) and signature_state(report) != "signed"


def check_delivered(user: User | None, report: Report) -> None:
    """Forbidden when the report is withheld from ``user`` (see :func:`withheld_from`)."""
    if withheld_from(user, report):
        raise Forbidden("This county report reaches the commission once the inspector general has signed it.",
                        details={"code": "awaiting_signature"})


def signature_json(sig: ReportSignature | None) -> dict | None:
    if sig is None:
        return None
    signer = session.get(User, sig.signer_id)
    return {"signer": {"id": sig.signer_id, "name": signer.name if signer else None},
            "signed_at": _iso(sig.signed_at), "sha256": sig.sha256, "void": sig.void_at is not None,
            "void_at": _iso(sig.void_at), "void_reason": sig.void_reason}


def _iso(t: dt.datetime | None) -> str | None:
    if t is None:
        return None
    return (t if t.tzinfo else t.replace(tzinfo=dt.UTC)).isoformat()


# --- generation ------------------------------------------------------------------------------------------------

def _serialise(campaign_id: int, node_id: int) -> None:
    """One writer of a node's versions at a time (PostgreSQL: an advisory lock for the transaction; SQLite
    serialises writers already), so two jobs never race for the same version number."""
    if session.get_bind().dialect.name == "postgresql":
        # the two-int4 key space (the audit chain uses the bigint one); a negative node id marks "report"
        session.execute(text("SELECT pg_advisory_xact_lock(:a, :b)"), {"a": campaign_id, "b": -node_id})


_VOLATILE = frozenset({"version", "reason", "generated_at"})  # differ between versions of the same data


def _content(data: dict) -> bytes:
    """The report data without what only says when and why it was generated."""
    return canonical({k: v for k, v in (data or {}).items() if k not in _VOLATILE})


def generate(campaign, node: Node, *, reason: str, actor: User | None = None,
             progress: Callable[[int, str | None], None] | None = None, lang: str = "ro") -> Report:
    """Write the next version of ``node``'s report in ``campaign`` with its rendered files; flush, never commit.

    On demand, when the data are the same as the latest version's, that version is returned and nothing is written.
    Voids the signatures of earlier versions when the node is a county (a re-issue needs a new signature)."""
    from exports import render, report_data

    if reason not in REASONS:
        raise ValueError(f"unknown report reason {reason!r}")
    if node.level not in REPORT_LEVELS:
        raise Invalid("reports exist for units, schools, inspectorates and the nation")
    step = progress or (lambda p, m=None: None)
    _serialise(campaign.id, node.id)
    previous = latest(campaign.id, node.id)
    version = (previous.version if previous is not None else 0) + 1
    step(5, "collecting the data")
    built = report_data.build(campaign, node, version=version, reason=reason)
    raw = canonical(built)
    data = json.loads(raw)  # exactly what is hashed is what is stored and rendered
    if reason == "on_demand" and previous is not None and _content(previous.data) == _content(data):
        # Nothing changed since the latest version: asking again must not add a version (nor void a signature).
        step(100, "unchanged: the latest version shows these data")
        return previous
    ruleset = data.get("ruleset") or {}
    report = Report(campaign_id=campaign.id, node_id=node.id, level=node.level, version=version, reason=reason,
                    provisional=bool(data.get("provisional")),
                    ruleset_key=str(ruleset.get("key") or campaign.ruleset_key),
                    ruleset_version=int(ruleset.get("version") or campaign.ruleset_version),
                    data=data, sha256=sha256(raw), created_by_id=actor.id if actor is not None else None,
                    created_at=utcnow())
    session.add(report)
    session.flush()
    step(20, "data ready")
    formats = render.FORMATS
    for i, fmt in enumerate(formats):
        content = render.render(fmt, data, lang)
        session.add(ReportFile(report_id=report.id, format=fmt, content=content, size=len(content),
                               sha256=sha256(content)))
        session.flush()
        step(20 + 75 * (i + 1) // len(formats), f"{fmt} ready")
    audit.record("report.generate", user=actor, obj=report, node_id=node.id,
                 new={"campaign_id": campaign.id, "version": version, "reason": reason, "sha256": report.sha256,
                      "provisional": report.provisional})
    if node.level == SIGNED_LEVEL:
        void_signatures(campaign.id, node.id, before_version=version, actor=actor,
                        reason=f"re-issued as version {version}")
    return report


def void_signatures(campaign_id: int, node_id: int, *, before_version: int, reason: str,
                    actor: User | None = None) -> int:
    """Void the valid signatures of the versions before ``before_version``; returns how many (audited)."""
    rows = session.execute(
        select(ReportSignature).join(Report, Report.id == ReportSignature.report_id)
        .where(Report.campaign_id == campaign_id, Report.node_id == node_id, Report.version < before_version,
               ReportSignature.void_at.is_(None))).scalars().all()
    now = utcnow()
    for sig in rows:
        sig.void_at, sig.void_reason = now, reason[:120]
        session.flush()
        audit.record("report.signature_void", user=actor, obj=sig, node_id=node_id,
                     old={"report_id": sig.report_id, "sha256": sig.sha256}, new={"void_reason": sig.void_reason})
    return len(rows)


def request_report(actor: User, campaign, node: Node):
    """Generate a version now, on demand (a job on the ``exports`` queue; it runs after the commit)."""
    if node.level not in REPORT_LEVELS:
        raise Invalid("reports exist for units, schools, inspectorates and the nation")
    if campaign.status == "draft":
        raise Conflict("the campaign has not been launched")
    if node.level == "ministry" and node.id != campaign.root_id:
        raise NotFound()
    job = jobs.enqueue(TASK, node_id=node.id, user_id=actor.id, campaign_id=campaign.id, reason="on_demand")
    audit.record("report.request", user=actor, obj=job, node_id=node.id,
                 new={"campaign_id": campaign.id, "job_id": job.id})
    return job


# --- automatic generation and re-issue ---------------------------------------------------------------------

def _reissuable(campaign_id: int, node_id: int) -> bool:
    """An issued report exists: its latest version is not provisional."""
    last = latest(campaign_id, node_id)
    return last is not None and not last.provisional


def _schedule(campaign_id: int, node: Node, reason: str) -> bool:
    """Queue the node's generation job once per transaction (the set empties with the transaction)."""
    sess = session()
    pending = sess.info.get(_PENDING)
    if pending is None:
        pending = sess.info[_PENDING] = set()
        db.on_commit(lambda: sess.info.pop(_PENDING, None))
    key = (campaign_id, node.id)
    if key in pending:
        return False
    pending.add(key)
    jobs.enqueue(TASK, node_id=node.id, campaign_id=campaign_id, reason=reason)
    return True


def _ancestors(node: Node) -> list[Node]:
    out, cur = [], node
    while cur.parent_id is not None:
        cur = session.get(Node, cur.parent_id)
        if cur is None:
            break
        out.append(cur)
    return out


def on_snapshot(campaign_id: int, node_id: int, reason: str) -> None:
    """Called by :mod:`exports.rollup` (in the submitting transaction) after the node's snapshot was (re)written:
    schedules the node's report version (after the commit) and the re-issue of reports above that exist.

    ``reason``: ``submitted`` or ``extended`` for the node that was submitted (its report is always generated,
    except the nation's, which the commission issues first), ``reissued`` for a refreshed snapshot (re-issued
    when it has an issued report). Calls for the same node within one transaction queue one job."""
    node = session.get(Node, node_id)
    if node is None or node.level not in REPORT_LEVELS:
        return
    if reason in ("submitted", "extended") and node.level != "ministry":
        _schedule(campaign_id, node, reason)
    elif _reissuable(campaign_id, node.id):
        _schedule(campaign_id, node, "reissued")
    for above in _ancestors(node):
        if above.level in REPORT_LEVELS and _reissuable(campaign_id, above.id):
            _schedule(campaign_id, above, "reissued")


def _forget_pending(sess, previous_transaction) -> None:
    # Also after a rolled-back SAVEPOINT: the job rows scheduled inside it are gone, so they may be scheduled again.
    sess.info.pop(_PENDING, None)


event.listen(db.session_factory, "after_soft_rollback", _forget_pending)


# --- signature -------------------------------------------------------------------------------------------------

def sign(user: User, report: Report, code: str, *, method: str = "totp", attempt: str = "") -> ReportSignature:
    """The inspector general signs the latest issued version of a county report by re-entering the second factor
    (``code`` of ``method``; e-mail/SMS codes were sent for :data:`CODE_PURPOSE` and the signing ``attempt``).
    Records signer, time and the report's SHA-256; audited. A wrong code writes nothing (Invalid)."""
    node = session.get(Node, report.node_id)
    if node is None or not policy.can(user, "reports.sign", node):
        raise Forbidden("only the inspector general of the county signs its report")
    if report.level != SIGNED_LEVEL:
        raise Conflict("only the county report is signed")
    _serialise(report.campaign_id, report.node_id)  # a re-issue running now either waits for us or is seen below
    if report.provisional:
        raise Conflict("a provisional report cannot be signed: the county has not been submitted")
    if not is_latest(report):
        raise Conflict("a newer version of this report exists: sign the latest one")
    if signature_state(report) == "signed":
        raise Conflict("this version is already signed")
    if method not in SIGN_METHODS or not factors.verify(user, method, (code or "").strip(), purpose=CODE_PURPOSE,
                                                        attempt=attempt):
        raise Invalid("the code is wrong, expired or already used", details={"otp": "wrong code"})
    sig = ReportSignature(report_id=report.id, signer_id=user.id, signed_at=utcnow(), sha256=report.sha256)
    session.add(sig)
    session.flush()
    audit.record("report.sign", user=user, obj=sig, node_id=report.node_id,
                 new={"report_id": report.id, "version": report.version, "sha256": report.sha256,
                      "method": method})
    return sig
