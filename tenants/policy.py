"""Roles, the permissions each role grants, and the one function that decides: :func:`can`.

A membership grants its role's permissions on its node's whole subtree, and only there.
"""
from __future__ import annotations

from dataclasses import dataclass

from tenants.models import Node, User

# role -> level its node must have (None: any level)
ROLE_LEVEL: dict[str, str | None] = {
    "commission": "ministry",
    "admin": "ministry",
    "isg": "inspectorate",
    "inspector": "inspectorate",
    "director": "school",
    "school_admin": "school",
    "teacher": "school",
    "unit_responsible": "unit",
    "unit_helper": "unit",
    "pupil": "school",
    "parent": "school",
    "statistics": None,
}
ROLES = tuple(ROLE_LEVEL)
STAFF_ROLES = frozenset(ROLES) - {"pupil", "parent"}

_TREE = {"tree.view"}
# campaigns are national: every tree viewer may read them (node data stays scoped); the commission runs them
_CAMPAIGNS = {"campaigns.view"}
_NETWORK = {"network.import", "network.export", "structure.import", "structure.export"}
# reports: read in the subtree; generate on demand; the inspector general signs the county report
_REPORTS = {"reports.view", "reports.generate"}
ROLE_PERMISSIONS: dict[str, frozenset[str]] = {
    "commission": frozenset(_TREE | _CAMPAIGNS | _NETWORK | _REPORTS | {"users.invite", "jobs.view",
                                                                        "campaigns.manage"}),
    "admin": frozenset(_TREE | _CAMPAIGNS | {"users.manage", "users.invite", "nomenclatures.manage", "forms.manage"}),
    "isg": frozenset(_TREE | _CAMPAIGNS | _NETWORK | _REPORTS | {"users.invite", "jobs.view", "reports.sign"}),
    "inspector": frozenset(_TREE | _CAMPAIGNS | _NETWORK | _REPORTS | {"users.invite", "jobs.view"}),
    "director": frozenset(_TREE | _CAMPAIGNS | _REPORTS | {"structure.import", "structure.export", "structure.edit",
                                                "users.invite"}),
    "school_admin": frozenset(_TREE | _CAMPAIGNS | {"structure.export", "structure.edit"}),
    "teacher": frozenset(_TREE | _CAMPAIGNS),
    "unit_responsible": frozenset(_TREE | _CAMPAIGNS | _REPORTS | {"structure.import", "structure.export",
                                                                   "structure.edit", "users.invite",
                                                                   "links.manage"}),
    "unit_helper": frozenset(_TREE | _CAMPAIGNS | {"reports.view"}),
    "pupil": frozenset(),
    "parent": frozenset(),
    "statistics": frozenset(_TREE | _CAMPAIGNS | {"reports.view"}),
}
PERMISSIONS = frozenset().union(*ROLE_PERMISSIONS.values())


@dataclass(frozen=True)
class Grant:
    role: str
    node_id: int
    path: str
    level: str


def grants(user: User | None) -> list[Grant]:
    if user is None or not getattr(user, "is_authenticated", False) or not user.active:
        return []
    return [Grant(m.role, m.node_id, m.node.path, m.node.level) for m in user.memberships]


def visible_paths(user: User | None) -> list[str]:
    """Roots of the subtrees the user may see (overlapping ones collapsed)."""
    paths = sorted({g.path for g in grants(user)})
    roots: list[str] = []
    for p in paths:
        if not any(p.startswith(r) for r in roots):
            roots.append(p)
    return roots


def paths_with(user: User | None, permission: str) -> list[str]:
    """Roots of the subtrees where one of the user's memberships grants ``permission``."""
    paths = sorted({g.path for g in grants(user) if permission in ROLE_PERMISSIONS[g.role]})
    return [p for i, p in enumerate(paths) if not any(p.startswith(r) for r in paths[:i])]


def can_see(user: User | None, node: Node) -> bool:
    return any(node.path.startswith(r) for r in visible_paths(user))


def can(user: User | None, permission: str, node: Node | None = None) -> bool:
    """True when one of the user's memberships grants ``permission`` on ``node`` (or anywhere, if node is None)."""
    if permission not in PERMISSIONS:
        raise KeyError(f"unknown permission {permission!r}")
    for g in grants(user):
        if permission in ROLE_PERMISSIONS[g.role] and (node is None or node.path.startswith(g.path)):
            return True
    return False


def roles_at(user: User | None, node: Node) -> set[str]:
    """Roles the user holds on ``node`` or any ancestor of it."""
    return {g.role for g in grants(user) if node.path.startswith(g.path)}


def is_staff(user: User | None) -> bool:
    return any(g.role in STAFF_ROLES for g in grants(user))


def check_role_level(role: str, node: Node) -> None:
    from core.errors import Invalid
    if role not in ROLE_LEVEL:
        raise Invalid(f"unknown role {role!r}")
    want = ROLE_LEVEL[role]
    if want is not None and node.level != want:
        raise Invalid(f"role {role} belongs at level {want}, not {node.level}")
