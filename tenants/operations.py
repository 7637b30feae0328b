"""Writes on the tree, users and tokens. Each operation audits and flushes; the caller commits once."""
from __future__ import annotations

import datetime as dt
import hashlib
import secrets

from sqlalchemy import bindparam, select, update
from sqlalchemy.orm import contains_eager

from core import audit
from core.db import session, utcnow
from core.errors import Conflict, Invalid, NotFound
from tenants.models import CHILD_LEVEL, search_key, ApiToken, Building, Membership, Node, SchoolClass, SchoolYear, User
from tenants.passwords import hash_password
from tenants.policy import check_role_level

NODE_FIELDS = ("name", "locality", "environment", "languages", "active")
CLASS_FIELDS = ("grade_level", "teaching_language", "education_form", "pupils", "combined", "building_id")


def _node_snapshot(node: Node) -> dict:
    return {f: getattr(node, f) for f in ("code", "name", "locality", "environment", "languages", "active")}


def create_node(*, level: str, code: str, name: str, parent: Node | None = None, actor=None,
                locality: str | None = None, environment: str | None = None, languages: str = "ro") -> Node:
    if parent is None:
        if level != "ministry":
            raise Invalid("only the ministry has no parent")
    elif CHILD_LEVEL[parent.level] != level:
        raise Invalid(f"a {level} cannot sit under a {parent.level}")
    if environment not in (None, "urban", "rural"):
        raise Invalid("environment must be urban or rural")
    node = Node(level=level, code=code, name=name, search_key=search_key(name), parent_id=parent.id if parent else None,
                locality=locality,
                environment=environment, languages=languages or "ro")
    session.add(node)
    session.flush()
    node.path = f"{parent.path if parent else '/'}{node.id}/"
    node.county_id = node.id if level == "inspectorate" else (parent.county_id if parent else None)
    node.school_id = node.id if level == "school" else (parent.school_id if level == "unit" else None)
    session.flush()
    audit.record("node.create", user=actor, actor=None if actor else "system", obj=node, node_id=node.id,
                 new=_node_snapshot(node))
    return node


def update_node(node: Node, changes: dict, actor=None) -> bool:
    """Apply whitelisted field changes; returns True when something changed."""
    old = _node_snapshot(node)
    for field in NODE_FIELDS:
        if field in changes and changes[field] != getattr(node, field):
            setattr(node, field, changes[field])
    node.search_key = search_key(node.name)
    new = _node_snapshot(node)
    if new == old:
        return False
    session.flush()
    audit.record("node.update", user=actor, actor=None if actor else "system", obj=node, node_id=node.id,
                 old={k: v for k, v in old.items() if new[k] != v}, new={k: v for k, v in new.items() if old[k] != v})
    return True


def create_school_year(name: str, starts_on: dt.date, ends_on: dt.date, current: bool = False) -> SchoolYear:
    if current:
        session.execute(update(SchoolYear).values(current=False))
    year = SchoolYear(name=name, starts_on=starts_on, ends_on=ends_on, current=current)
    session.add(year)
    session.flush()
    audit.record("school_year.create", actor="system", obj=year, new={"name": name})
    return year


def _building_free(unit_id: int, name: str, exclude_id: int | None = None) -> None:
    q = select(Building.id).where(Building.unit_id == unit_id, Building.name == name)
    if exclude_id is not None:
        q = q.where(Building.id != exclude_id)
    if session.execute(q).first():
        raise Conflict(f"the unit already has a building named {name}", details={"name": "duplicate"})


def create_building(unit: Node, name: str, actor=None, address: str | None = None,
                    classrooms: int | None = None) -> Building:
    if unit.level != "unit":
        raise Invalid("buildings belong to units")
    _building_free(unit.id, name)
    b = Building(unit_id=unit.id, name=name, address=address, classrooms=classrooms)
    session.add(b)
    session.flush()
    audit.record("building.create", user=actor, actor=None if actor else "system", obj=b, node_id=unit.id,
                 new={"name": name})
    return b


BUILDING_FIELDS = ("name", "address", "classrooms")


def update_building(b: Building, changes: dict, actor=None) -> bool:
    """Apply whitelisted changes (name, address, classrooms); True when something changed."""
    if "name" in changes and changes["name"] != b.name:
        _building_free(b.unit_id, changes["name"], exclude_id=b.id)
    old = {f: getattr(b, f) for f in BUILDING_FIELDS}
    for f in BUILDING_FIELDS:
        if f in changes:
            setattr(b, f, changes[f])
    new = {f: getattr(b, f) for f in BUILDING_FIELDS}
    if new == old:
        return False
    session.flush()
    audit.record("building.update", user=actor, actor=None if actor else "system", obj=b, node_id=b.unit_id,
                 old={k: v for k, v in old.items() if new[k] != v}, new={k: v for k, v in new.items() if old[k] != v})
    return True


def _class_name_free(unit_id: int, year_id: int, name: str, exclude_id: int | None = None) -> None:
    q = select(SchoolClass.id).where(SchoolClass.unit_id == unit_id, SchoolClass.school_year_id == year_id,
                                     SchoolClass.name == name)
    if exclude_id is not None:
        q = q.where(SchoolClass.id != exclude_id)
    if session.execute(q).first():
        raise Conflict(f"the unit already has a class named {name} in this school year", details={"name": "duplicate"})


def _check_building(unit_id: int, building_id: int | None) -> None:
    if building_id is not None:
        b = session.get(Building, building_id)
        if b is None or b.unit_id != unit_id:
            raise Invalid("the building belongs to another unit", details={"building_id": "other unit"})


def create_class(unit: Node, year: SchoolYear, *, name: str, grade_level: int, pupils: int = 0,
                 teaching_language: str = "ro", education_form: str = "day", combined: bool = False,
                 building_id: int | None = None, actor=None) -> SchoolClass:
    if unit.level != "unit":
        raise Invalid("classes belong to units")
    _class_name_free(unit.id, year.id, name)
    _check_building(unit.id, building_id)
    c = SchoolClass(unit_id=unit.id, school_year_id=year.id, name=name, grade_level=grade_level, pupils=pupils,
                    teaching_language=teaching_language, education_form=education_form, combined=combined,
                    building_id=building_id)
    session.add(c)
    session.flush()
    audit.record("class.create", user=actor, actor=None if actor else "system", obj=c, node_id=unit.id,
                 new={f: getattr(c, f) for f in ("name",) + CLASS_FIELDS})
    return c


def update_class(c: SchoolClass, changes: dict, actor=None) -> bool:
    """Apply whitelisted changes (the parameters of CLASS_FIELDS and the name); True when something changed."""
    fields = ("name",) + CLASS_FIELDS
    if "name" in changes and changes["name"] != c.name:
        _class_name_free(c.unit_id, c.school_year_id, changes["name"], exclude_id=c.id)
    if changes.get("building_id") is not None and changes["building_id"] != c.building_id:
        _check_building(c.unit_id, changes["building_id"])
    old = {f: getattr(c, f) for f in fields}
    for f in fields:
        if f in changes:
            setattr(c, f, changes[f])
    new = {f: getattr(c, f) for f in fields}
    if new == old:
        return False
    session.flush()
    audit.record("class.update", user=actor, actor=None if actor else "system", obj=c, node_id=c.unit_id,
                 old={k: v for k, v in old.items() if new[k] != v}, new={k: v for k, v in new.items() if old[k] != v})
    return True


def create_user(*, email: str, name: str, password: str | None = None, phone: str | None = None,
                actor=None) -> User:
    email = email.strip().lower()
    if session.execute(select(User.id).where(User.email == email)).first():
        raise Conflict(f"a user with e-mail {email} already exists")
    user = User(email=email, name=name, phone=phone, password_hash=hash_password(password) if password else None)
    session.add(user)
    session.flush()
    audit.record("user.create", user=actor, actor=None if actor else "cli", obj=user, new={"email": email})
    return user


def set_password(user: User, password: str, actor=None) -> None:
    user.password_hash = hash_password(password)
    user.session_version += 1
    session.flush()
    audit.record("user.password_change", user=actor or user, obj=user)


def add_membership(user: User, node: Node, role: str, actor=None) -> Membership:
    check_role_level(role, node)
    existing = session.execute(select(Membership).where(Membership.user_id == user.id, Membership.node_id == node.id,
                                                        Membership.role == role)).scalar()
    if existing:
        return existing
    m = Membership(user_id=user.id, node_id=node.id, role=role)
    session.add(m)
    session.flush()
    session.refresh(user, ["memberships"])
    audit.record("membership.grant", user=actor, actor=None if actor else "cli", obj=m, node_id=node.id,
                 new={"user_id": user.id, "role": role})
    return m


def bump_session_version(user: User, reason: str) -> None:
    """Invalidate every session cookie of the user (logout everywhere, password/factor change, disable)."""
    user.session_version += 1
    session.flush()
    audit.record("user.sessions_invalidated", user=user, obj=user, reason=reason)


TOKEN_PREFIX = "arb_"


def _token_hash(raw: str) -> str:
    return hashlib.sha256(raw.encode()).hexdigest()


def issue_token(user: User, name: str, scopes: str = "read write", expires_at: dt.datetime | None = None,
                actor=None) -> tuple[ApiToken, str]:
    """Create a personal access token; the raw value is returned once and never stored."""
    bad = set(scopes.split()) - {"read", "write"}
    if bad or not scopes.split():
        raise Invalid("scopes must be 'read' and/or 'write'")
    raw = TOKEN_PREFIX + secrets.token_urlsafe(32)
    tok = ApiToken(user_id=user.id, name=name, token_hash=_token_hash(raw), prefix=raw[:10], scopes=scopes,
                   expires_at=expires_at)
    session.add(tok)
    session.flush()
    audit.record("token.issue", user=actor or user, obj=tok, new={"name": name, "scopes": scopes})
    return tok, raw


def revoke_token(tok: ApiToken, actor=None) -> None:
    if tok.revoked_at is None:
        tok.revoked_at = utcnow()
        session.flush()
        audit.record("token.revoke", user=actor, obj=tok)


# One statement: the token, its user and the user's memberships with their nodes (what every permission check of
# the request reads), instead of three; built once, the hash bound per call.
_TOKEN_USER = (select(ApiToken).join(ApiToken.user).outerjoin(User.memberships).outerjoin(Membership.node)
               .where(ApiToken.token_hash == bindparam("token_hash"))
               .options(contains_eager(ApiToken.user).contains_eager(User.memberships)
                        .contains_eager(Membership.node)))


def user_for_token(raw: str) -> tuple[User, ApiToken] | None:
    """The active user behind a valid, unrevoked, unexpired token, or None."""
    if not raw or not raw.startswith(TOKEN_PREFIX):
        return None
    tok = session.execute(_TOKEN_USER, {"token_hash": _token_hash(raw)}).unique().scalar()
    if tok is None or tok.revoked_at is not None:
        return None
    now = utcnow()
    if tok.expires_at is not None:
        exp = tok.expires_at if tok.expires_at.tzinfo else tok.expires_at.replace(tzinfo=dt.UTC)
        if exp <= now:
            return None
    if not tok.user.active:
        return None
    last = tok.last_used_at
    if last is not None and last.tzinfo is None:
        last = last.replace(tzinfo=dt.UTC)
    if last is None or (now - last).total_seconds() > 60:
        tok.last_used_at = now
    return tok.user, tok


def get_node_or_404(node_id: int) -> Node:
    node = session.get(Node, node_id)
    if node is None:
        raise NotFound()
    return node


LOCALES = ("ro", "en")


def set_user_locale(user: User, locale: str, actor=None) -> bool:
    """Remember the user's interface language (used when a new session starts); True when it changed."""
    if locale not in LOCALES:
        raise Invalid(f"unknown language {locale!r}", {"locale": "ro or en"})
    if user.locale == locale:
        return False
    old, user.locale = user.locale, locale
    session.flush()
    audit.record("user.locale", user=actor or user, obj=user, old={"locale": old}, new={"locale": locale})
    return True
