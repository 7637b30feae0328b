"""Read-side helpers. Every object a caller names by id is resolved through :func:`get_visible_or_404`."""
from __future__ import annotations

from sqlalchemy import Select, func, or_, select

from core.db import session
from core.errors import NotFound
from tenants.models import Node, SchoolClass, SchoolYear, search_key
from tenants.policy import visible_paths


def subtree_filter(paths: list[str]):
    """A WHERE clause matching nodes inside any of the given subtrees (empty list: nothing)."""
    if not paths:
        return Node.id.is_(None)
    return or_(*[Node.path.startswith(p, autoescape=True) for p in paths])


def get_visible_or_404(model, object_id, user):
    """Load ``model`` by id only if it lies in the user's visible subtree; otherwise NotFound.

    Works for Node and any model with a ``scope_node_id`` property (classes, buildings, jobs, imports …).
    """
    try:
        object_id = int(object_id)
    except (TypeError, ValueError):
        raise NotFound() from None
    obj = session.get(model, object_id)
    if obj is None:
        raise NotFound()
    node = obj if isinstance(obj, Node) else session.get(Node, obj.scope_node_id)
    if node is None or not any(node.path.startswith(p) for p in visible_paths(user)):
        raise NotFound()
    return obj


def visible_nodes(user) -> Select:
    return select(Node).where(subtree_filter(visible_paths(user)))


def children(node: Node) -> Select:
    return select(Node).where(Node.parent_id == node.id).order_by(Node.name, Node.id)


def search_nodes(user, text: str, level: str | None = None, within: Node | None = None) -> Select:
    """Nodes in the user's scope (and ``within``'s subtree) whose name contains, or code starts with, ``text``."""
    q = visible_nodes(user)
    if within is not None:
        q = q.where(Node.path.startswith(within.path, autoescape=True))
    text = (text or "").strip()
    if text:
        q = q.where(or_(Node.search_key.contains(search_key(text), autoescape=True),
                        Node.code.startswith(text, autoescape=True)))
    if level:
        q = q.where(Node.level == level)
    return q.order_by(Node.level, Node.name, Node.id)


def node_by_code(code: str, level: str | None = None) -> Node | None:
    q = select(Node).where(Node.code == code)
    if level:
        q = q.where(Node.level == level)
    return session.execute(q.limit(1)).scalar()


def current_school_year() -> SchoolYear | None:
    return session.execute(select(SchoolYear).order_by(SchoolYear.current.desc(), SchoolYear.starts_on.desc())
                           .limit(1)).scalar()


def classes_of(unit: Node, year: SchoolYear) -> Select:
    return (select(SchoolClass).where(SchoolClass.unit_id == unit.id, SchoolClass.school_year_id == year.id)
            .order_by(SchoolClass.grade_level, SchoolClass.name))


def count(q: Select) -> int:
    return session.execute(select(func.count()).select_from(q.order_by(None).subquery())).scalar_one()
