"""Read-side helpers. Every object a caller names by id is resolved through :func:`get_visible_or_404`."""
from __future__ import annotations

from sqlalchemy import Select, and_, case, func, or_, select
from sqlalchemy.orm import aliased

from core.db import session
from core.errors import NotFound
from tenants.models import ApiToken, Building, Node, SchoolClass, SchoolYear, User, search_key
from tenants.policy import paths_with, visible_paths


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


def visible_nodes(user, permission: str = "tree.view") -> Select:
    """Nodes in the subtrees where the user holds ``permission`` (pupils and parents browse no tree)."""
    return select(Node).where(subtree_filter(paths_with(user, permission)))


def children(node: Node) -> Select:
    return select(Node).where(Node.parent_id == node.id).order_by(Node.name, Node.id)


_QUOTES = "\"'„”“«»‚‘’()"


def search_nodes(user, text: str, level: str | None = None, within: Node | None = None,
                 county_id: int | None = None) -> Select:
    """Nodes in the user's scope (and ``within``'s subtree, or county ``county_id``) whose name contains, or code
    starts with, ``text``; the name match ignores case and diacritics."""
    q = visible_nodes(user)
    if within is not None:
        q = q.where(Node.path.startswith(within.path, autoescape=True))
    if county_id is not None:
        q = q.where(Node.county_id == county_id)
    text = (text or "").strip()
    words = [w.strip(_QUOTES) for w in search_key(text).split()]
    words = [w for w in words if w]
    if words:
        # Every word somewhere in the folded name ("gimnaziala creanga" finds Școala Gimnazială „Ion Creangă”),
        # or, for a single word, the start of the SIIIR code.
        by_name = and_(*[Node.search_key.contains(w, autoescape=True) for w in words])
        q = q.where(or_(by_name, Node.code.startswith(text, autoescape=True)) if len(words) == 1 else by_name)
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


# --- the tree browser: set-based reads for the home, node and search pages ----------------------------------

COUNT_KEYS = ("inspectorates", "schools", "units", "classes", "pupils")
# The level below which each key is counted, and the denormalised column that groups a subtree by its root.
_BELOW = {"ministry": ("inspectorate", "school", "unit"), "inspectorate": ("school", "unit"),
          "school": ("unit",), "unit": ()}
_KEY_COLUMN = {"inspectorate": "county_id", "school": "school_id", "unit": "id"}
_PLURAL = {"inspectorate": "inspectorates", "school": "schools", "unit": "units"}


def visible_roots(user) -> Select:
    """The nodes at the top of the user's visible subtrees (one per membership, overlaps collapsed)."""
    return select(Node).where(Node.path.in_(visible_paths(user))).order_by(Node.path)


def visible_ancestors(node: Node, user) -> Select:
    """The node's ancestors that the user may see, root first: the breadcrumbs of a node page."""
    ids = node.ancestor_ids[:-1]
    return (select(Node).where(Node.id.in_(ids), subtree_filter(visible_paths(user)))
            .order_by(func.length(Node.path)))


def nodes_by_id(ids) -> dict[int, Node]:
    """Several nodes in one statement (county and school names of a page of search hits)."""
    ids = {i for i in ids if i is not None}
    if not ids:
        return {}
    return {n.id: n for n in session.execute(select(Node).where(Node.id.in_(ids))).scalars()}


def visible_counties(user) -> Select:
    """Inspectorates in the user's scope, by name (the county filter of the search page)."""
    return visible_nodes(user).where(Node.level == "inspectorate").order_by(Node.name)


def subtree_counts(nodes: list[Node], year: SchoolYear | None) -> dict[int, dict[str, int]]:
    """Active inspectorates, schools and units below each node, and the classes and pupils of ``year`` in them.

    One statement per level present in ``nodes`` (a page of children is one level, so one statement), grouped on
    the denormalised county/school ids, so the cost does not grow with the number of nodes asked about."""
    out = {n.id: dict.fromkeys(COUNT_KEYS, 0) for n in nodes}
    by_level: dict[str, list[Node]] = {}
    for n in nodes:
        by_level.setdefault(n.level, []).append(n)
    for level, group in by_level.items():
        if level == "ministry":  # no denormalised column: one statement per root (there is only one ministry)
            for n in group:
                out[n.id].update(_ministry_counts(n, year))
            continue
        for row in session.execute(_counts_statement(level, [n.id for n in group], year)).mappings():
            out[row["id"]].update({k: int(row[k] or 0) for k in COUNT_KEYS if k in row})
    return out


def totals_of(node: Node, year: SchoolYear | None, children: list[Node] | None = None,
              child_counts: dict[int, dict[str, int]] | None = None) -> dict[str, int]:
    """The counts of ``node``'s subtree. When ``children`` is every child of the node, with ``child_counts`` from
    :func:`subtree_counts`, the totals are their sum and no statement runs."""
    if not children or child_counts is None:
        return subtree_counts([node], year)[node.id]
    totals = {k: sum(child_counts[c.id][k] for c in children) for k in COUNT_KEYS}
    totals[_PLURAL[children[0].level]] += sum(1 for c in children if c.active)
    return totals


def _counts_statement(level: str, ids: list[int], year: SchoolYear | None) -> Select:
    """Per node of ``ids``: the active nodes of each lower level and the year's classes/pupils in its subtree."""
    target = select(Node.id).where(Node.id.in_(ids)).subquery("target")
    cols = [target.c.id]
    stmt = select(target)
    below = _BELOW[level]
    if below:
        member = aliased(Node)
        key = getattr(member, _KEY_COLUMN[level])
        per_level = [func.sum(case((member.level == lv, 1), else_=0)).label(_PLURAL[lv]) for lv in below]
        levels = (select(key.label("key"), *per_level)
                  .where(key.in_(ids), member.level.in_(below), member.active.is_(True))
                  .group_by(key).subquery("levels"))
        stmt = stmt.outerjoin(levels, levels.c.key == target.c.id)
        cols += [levels.c[_PLURAL[lv]] for lv in below]
    if year is not None:
        unit = aliased(Node)
        key = getattr(unit, _KEY_COLUMN[level])
        cls = (select(key.label("key"), func.count(SchoolClass.id).label("classes"),
                      func.sum(SchoolClass.pupils).label("pupils"))
               .join(unit, SchoolClass.unit_id == unit.id)
               .where(SchoolClass.school_year_id == year.id, key.in_(ids), unit.active.is_(True))
               .group_by(key).subquery("cls"))
        stmt = stmt.outerjoin(cls, cls.c.key == target.c.id)
        cols += [cls.c.classes, cls.c.pupils]
    return stmt.with_only_columns(*cols)


def _ministry_counts(ministry: Node, year: SchoolYear | None) -> dict[str, int]:
    inside = Node.path.startswith(ministry.path, autoescape=True)
    row = session.execute(select(*[func.sum(case((Node.level == lv, 1), else_=0)).label(_PLURAL[lv])
                                   for lv in _BELOW["ministry"]])
                          .where(inside, Node.active.is_(True))).mappings().one()
    counts = {k: int(v or 0) for k, v in row.items()}
    if year is not None:
        unit = aliased(Node)
        crow = session.execute(select(func.count(SchoolClass.id).label("classes"),
                                      func.sum(SchoolClass.pupils).label("pupils"))
                               .join(unit, SchoolClass.unit_id == unit.id)
                               .where(SchoolClass.school_year_id == year.id, unit.active.is_(True),
                                      unit.path.startswith(ministry.path, autoescape=True))).mappings().one()
        counts.update({k: int(v or 0) for k, v in crow.items()})
    return counts


def buildings_of(unit: Node) -> Select:
    return select(Building).where(Building.unit_id == unit.id).order_by(Building.name, Building.id)


def school_years() -> Select:
    return select(SchoolYear).order_by(SchoolYear.starts_on.desc())


def user_by_email(email: str) -> User | None:
    return session.execute(select(User).where(User.email == email.strip().lower())).scalar()


def tokens_of(user: User) -> list[ApiToken]:
    """The user's personal access tokens, newest first."""
    return list(session.execute(select(ApiToken).where(ApiToken.user_id == user.id)
                                .order_by(ApiToken.created_at.desc(), ApiToken.id.desc())).scalars())


def node_names(ids) -> dict[int, str]:
    ids = set(ids)
    return dict(session.execute(select(Node.id, Node.name).where(Node.id.in_(ids))).all()) if ids else {}
