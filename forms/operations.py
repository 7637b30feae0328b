"""Database writes and reads for form definitions and rulesets, and :func:`sync_builtin`.

Both are versioned by ``(key, version)``: an administrator edits a draft, publishes it, and from then on the
version is immutable; a campaign pins ``(key, version)`` and loads exactly that. Every write audits and flushes;
the caller (request wrapper, job, CLI) commits once.
"""
from __future__ import annotations

import copy
import hashlib
import json
from collections.abc import Callable
from pathlib import Path

from sqlalchemy import func, inspect, select

from core import audit
from core.db import session, utcnow
from core.errors import Conflict, Invalid, NotFound
from forms import nomenclatures
from forms.definitions import Definition, DefinitionError, builtin_files, canonical_json, parse_definition
from forms.expressions import KEY_RE
from forms.models import FormDefinition, Ruleset

RULESET_DIR = Path(__file__).parent / "rulesets"

# key → fn(params) -> list of problems; the indicators engine registers its own check of its parameters.
_RULESET_CHECKS: dict[str, Callable[[dict], list[str]]] = {}


def _who(actor) -> dict:
    return {"user": actor, "actor": None if actor is not None else "system"}


def _next_version(model, key: str) -> int:
    last = session.execute(select(func.max(model.version)).where(model.key == key)).scalar()
    return (last or 0) + 1


def _draft_of(model, key: str):
    return session.execute(select(model).where(model.key == key, model.status == "draft")).scalar_one_or_none()


def _parse(body: dict) -> Definition:
    try:
        return parse_definition(body)
    except DefinitionError as e:
        raise Invalid("the form definition has problems", details={"problems": e.problems}) from e


# --- form definitions --------------------------------------------------------------------------------------

def create_definition(body: dict, *, actor=None, origin: str = "admin", publish: bool = False) -> FormDefinition:
    """Store ``body`` as the next version of its key (the body's own version number is replaced). One draft per
    key at a time: edit it with :func:`update_definition`."""
    body = copy.deepcopy(body)
    key = body.get("key")
    if not isinstance(key, str):
        raise Invalid("the form definition has problems", details={"problems": ["key: missing"]})
    if _draft_of(FormDefinition, key) is not None:
        raise Conflict(f"form {key} already has a draft; edit or publish it")
    body["version"] = _next_version(FormDefinition, key)
    d = _parse(body)
    row = FormDefinition(key=d.key, version=d.version, scope=d.scope, body=body, checksum=d.checksum,
                         status="draft", origin=origin)
    session.add(row)
    session.flush()
    audit.record("form_definition.create", obj=row, new={"key": d.key, "version": d.version, "scope": d.scope,
                                                         "checksum": d.checksum, "origin": origin}, **_who(actor))
    if publish:
        publish_definition(row, actor=actor)
    return row


def update_definition(row: FormDefinition, body: dict, *, actor=None) -> bool:
    """Replace a draft's body (same key; the version stays). Published versions never change."""
    if row.status != "draft":
        raise Conflict(f"form {row.key} v{row.version} is published and cannot change; create a new version")
    body = copy.deepcopy(body)
    if body.get("key") != row.key:
        raise Invalid("a draft keeps its key", details={"key": "fixed"})
    body["version"] = row.version
    d = _parse(body)
    if d.checksum == row.checksum:
        return False
    old = row.checksum
    row.body, row.scope, row.checksum = body, d.scope, d.checksum
    session.flush()
    audit.record("form_definition.update", obj=row, old={"checksum": old}, new={"checksum": d.checksum},
                 **_who(actor))
    return True


def publish_definition(row: FormDefinition, *, actor=None) -> FormDefinition:
    if row.status == "published":
        return row
    _parse(row.body)
    row.status, row.published_at = "published", utcnow()
    session.flush()
    audit.record("form_definition.publish", obj=row, new={"key": row.key, "version": row.version,
                                                          "checksum": row.checksum}, **_who(actor))
    return row


def get_definition_row(key: str, version: int | None = None, *, include_drafts: bool = False) -> FormDefinition:
    """One stored version (the latest published one when ``version`` is None); NotFound otherwise."""
    q = select(FormDefinition).where(FormDefinition.key == key)
    if not include_drafts:
        q = q.where(FormDefinition.status == "published")
    q = q.where(FormDefinition.version == version) if version is not None else q.order_by(
        FormDefinition.version.desc()).limit(1)
    row = session.execute(q).scalar_one_or_none()
    if row is None:
        raise NotFound(f"form definition {key} v{version or 'latest'} not found")
    return row


# Parsed published definitions of this process by (key, version, stored checksum). A published version never
# changes, but a row can still vanish with a rolled-back transaction and its (key, version) come back with another
# body; the stored checksum in the key makes such an entry unreachable rather than stale. Drafts are never cached.
_PUBLISHED: dict[tuple[str, int, str], Definition] = {}
_PUBLISHED_MAX = 256


def _remember(row: FormDefinition, d: Definition) -> Definition:
    if (row.status == "published" and (d.key, d.version, d.checksum) == (row.key, row.version, row.checksum)
            and not inspect(row).modified):
        if len(_PUBLISHED) >= _PUBLISHED_MAX:
            _PUBLISHED.clear()
        _PUBLISHED[(row.key, row.version, row.checksum)] = d
    return d


def definition_of(row: FormDefinition) -> Definition:
    """The parsed definition of a stored row (parsing is cached by content; published rows by their checksum)."""
    if row.status == "published" and not inspect(row).modified:
        d = _PUBLISHED.get((row.key, row.version, row.checksum))
        if d is not None:
            return d
    return _remember(row, parse_definition(row.body))


def published_checksum(key: str, version: int):
    """A scalar subquery: the stored checksum of published ``key`` v``version`` (NULL when there is none), for a
    caller to fetch beside another row and hand to :func:`load_definition`."""
    return (select(FormDefinition.checksum)
            .where(FormDefinition.key == key, FormDefinition.version == version,
                   FormDefinition.status == "published").scalar_subquery())


def load_definition(key: str, version: int | None = None, checksum: str | None = None) -> Definition:
    """The published definition a campaign pins: ``load_definition("segregation.class_table", 1)``.

    With the ``checksum`` the database stores for that published version (read with :func:`published_checksum`),
    a definition this process already parsed is returned without reading the row."""
    if version is not None and checksum is not None:
        d = _PUBLISHED.get((key, version, checksum))
        if d is not None:
            return d
    return definition_of(get_definition_row(key, version))


def list_definitions(key: str | None = None) -> list[FormDefinition]:
    q = select(FormDefinition).order_by(FormDefinition.key, FormDefinition.version)
    if key is not None:
        q = q.where(FormDefinition.key == key)
    return list(session.execute(q).scalars())


# --- rulesets ----------------------------------------------------------------------------------------------

def register_ruleset_check(key: str, check: Callable[[dict], list[str]]) -> None:
    """Let the code that consumes a ruleset check its parameters before they are stored or published."""
    _RULESET_CHECKS[key] = check


def params_checksum(params: dict) -> str:
    return hashlib.sha256(canonical_json(params).encode()).hexdigest()


def _check_params(key: str, params) -> dict:
    if not isinstance(key, str) or not KEY_RE.match(key) or len(key) > 80:
        raise Invalid("a ruleset key is a lower-case dotted key", details={"key": "invalid"})
    if not isinstance(params, dict):
        raise Invalid("ruleset parameters are a JSON object", details={"params": "invalid"})
    try:
        params = json.loads(canonical_json(params))
    except (TypeError, ValueError) as e:
        raise Invalid("ruleset parameters must be plain JSON", details={"params": str(e)}) from e
    check = _RULESET_CHECKS.get(key)
    problems = check(params) if check else []
    if problems:
        raise Invalid("the ruleset has problems", details={"problems": list(problems)})
    return params


def create_ruleset(key: str, params: dict, *, actor=None, origin: str = "admin", publish: bool = False) -> Ruleset:
    """Store ``params`` as the next version of ruleset ``key`` (a draft unless ``publish``)."""
    params = _check_params(key, params)
    if _draft_of(Ruleset, key) is not None:
        raise Conflict(f"ruleset {key} already has a draft; edit or publish it")
    row = Ruleset(key=key, version=_next_version(Ruleset, key), params=params, checksum=params_checksum(params),
                  status="draft", origin=origin)
    session.add(row)
    session.flush()
    audit.record("ruleset.create", obj=row, new={"key": key, "version": row.version, "params": params,
                                                 "origin": origin}, **_who(actor))
    if publish:
        publish_ruleset(row, actor=actor)
    return row


def update_ruleset(row: Ruleset, params: dict, *, actor=None) -> bool:
    if row.status != "draft":
        raise Conflict(f"ruleset {row.key} v{row.version} is published and cannot change; create a new version")
    params = _check_params(row.key, params)
    if params == row.params:
        return False
    old, row.params, row.checksum = row.params, params, params_checksum(params)
    session.flush()
    audit.record("ruleset.update", obj=row, old={"params": old}, new={"params": params}, **_who(actor))
    return True


def publish_ruleset(row: Ruleset, *, actor=None) -> Ruleset:
    if row.status == "published":
        return row
    _check_params(row.key, row.params)
    row.status, row.published_at = "published", utcnow()
    session.flush()
    audit.record("ruleset.publish", obj=row, new={"key": row.key, "version": row.version,
                                                  "checksum": row.checksum}, **_who(actor))
    return row


def get_ruleset(key: str, version: int | None = None, *, include_drafts: bool = False) -> Ruleset:
    """One stored ruleset version (the latest published one when ``version`` is None); NotFound otherwise."""
    q = select(Ruleset).where(Ruleset.key == key)
    if not include_drafts:
        q = q.where(Ruleset.status == "published")
    q = q.where(Ruleset.version == version) if version is not None else q.order_by(Ruleset.version.desc()).limit(1)
    row = session.execute(q).scalar_one_or_none()
    if row is None:
        raise NotFound(f"ruleset {key} v{version or 'latest'} not found")
    return row


def ruleset_params(key: str, version: int) -> dict:
    """A copy of the parameters of a published ruleset version, what a launched campaign computes with."""
    return copy.deepcopy(get_ruleset(key, version).params)


# --- shipped content ---------------------------------------------------------------------------------------

def builtin_rulesets() -> list[dict]:
    """The shipped ruleset documents (``forms/rulesets/*.json``: ``{"key", "version", "params", …}``)."""
    docs = []
    for path in sorted(RULESET_DIR.glob("*.json")):
        doc = json.loads(path.read_text(encoding="utf-8"))
        if isinstance(doc, dict) and isinstance(doc.get("key"), str) and isinstance(doc.get("params"), dict):
            docs.append(doc)
    return docs


def _latest_builtin(model, key: str):
    return session.execute(select(model).where(model.key == key, model.origin == "builtin")
                           .order_by(model.version.desc()).limit(1)).scalar_one_or_none()


def sync_builtin(*, actor=None) -> dict:
    """Load the shipped nomenclatures, form definitions and rulesets into the database, published.

    Idempotent: a definition or ruleset gets a new version only when its content differs from the latest
    shipped version already stored (its number is the file's version, or the next free one). Nomenclature items
    are only added, never changed (administrators own them). Returns what was created."""
    report = {"nomenclatures": nomenclatures.sync_seeds(actor=actor), "definitions": [], "rulesets": []}
    for path in builtin_files():
        body = json.loads(path.read_text(encoding="utf-8"))
        d = _parse(body)
        last = _latest_builtin(FormDefinition, d.key)
        if last is not None and last.checksum == d.checksum:
            continue
        version = max(d.version, _next_version(FormDefinition, d.key))
        if _draft_of(FormDefinition, d.key) is not None:
            raise Conflict(f"form {d.key} has an administrator's draft; publish or discard it before syncing")
        row = FormDefinition(key=d.key, version=version, scope=d.scope, body=dict(body, version=version),
                             checksum=d.checksum, status="draft", origin="builtin")
        session.add(row)
        session.flush()
        audit.record("form_definition.create", obj=row, new={"key": d.key, "version": version, "scope": d.scope,
                                                             "checksum": d.checksum, "origin": "builtin"},
                     **_who(actor))
        publish_definition(row, actor=actor)
        report["definitions"].append(f"{d.key} v{version}")
    for doc in builtin_rulesets():
        key, params = doc["key"], _check_params(doc["key"], doc["params"])
        last = _latest_builtin(Ruleset, key)
        if last is not None and last.checksum == params_checksum(params):
            continue
        if _draft_of(Ruleset, key) is not None:
            raise Conflict(f"ruleset {key} has an administrator's draft; publish or discard it before syncing")
        version = max(int(doc.get("version") or 1), _next_version(Ruleset, key))
        row = Ruleset(key=key, version=version, params=params, checksum=params_checksum(params), status="draft",
                      origin="builtin")
        session.add(row)
        session.flush()
        audit.record("ruleset.create", obj=row, new={"key": key, "version": version, "origin": "builtin"},
                     **_who(actor))
        publish_ruleset(row, actor=actor)
        report["rulesets"].append(f"{key} v{version}")
    return report


__all__ = [
    "builtin_rulesets", "create_definition", "create_ruleset", "definition_of", "get_definition_row",
    "get_ruleset", "list_definitions", "load_definition", "publish_definition", "publish_ruleset",
    "published_checksum", "register_ruleset_check", "ruleset_params", "sync_builtin", "update_definition",
    "update_ruleset",
]
