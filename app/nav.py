"""Role-aware navigation and the labels the layout shows for roles, levels and class parameters.

An entry appears when the signed-in user's roles allow it (``policy.can``) and its page is installed: pages other
engineers add later show up by adding one line to :data:`NAV` or :data:`NODE_ACTIONS`.
"""
from __future__ import annotations

from dataclasses import dataclass
from types import SimpleNamespace
from collections.abc import Callable

from babel import Locale
from flask import current_app, request
from flask_babel import get_locale, lazy_gettext as _l

from tenants import policy

ROLE_LABELS = {
    "commission": _l("Commission member"),
    "admin": _l("Platform administrator"),
    "isg": _l("General school inspector"),
    "inspector": _l("School inspector"),
    "director": _l("Director"),
    "school_admin": _l("School administrator"),
    "teacher": _l("Teacher"),
    "unit_responsible": _l("Unit responsible"),
    "unit_helper": _l("Unit helper"),
    "pupil": _l("Pupil"),
    "parent": _l("Parent"),
    "statistics": _l("Statistics viewer"),
}
LEVEL_LABELS = {"ministry": _l("Ministry"), "inspectorate": _l("Inspectorate"), "school": _l("School"),
                "unit": _l("School unit")}
COUNT_LABELS = {"inspectorates": _l("Inspectorates"), "schools": _l("Schools"), "units": _l("School units"),
                "classes": _l("Classes"), "pupils": _l("Pupils")}
# What each level's counts show: the levels below it, then the school year's classes and pupils.
COUNTS_SHOWN = {"ministry": ("inspectorates", "schools", "units", "classes", "pupils"),
                "inspectorate": ("schools", "units", "classes", "pupils"),
                "school": ("units", "classes", "pupils"), "unit": ("classes", "pupils")}
EDUCATION_FORM_LABELS = {"day": _l("day classes"), "evening": _l("evening classes"),
                         "part_time": _l("part-time"), "distance": _l("distance learning")}
ENVIRONMENT_LABELS = {"urban": _l("urban"), "rural": _l("rural")}
JOB_STATUS_LABELS = {"queued": _l("queued"), "running": _l("running"), "done": _l("done"), "failed": _l("failed")}
ROMAN = ("P", "I", "II", "III", "IV", "V", "VI", "VII", "VIII", "IX", "X", "XI", "XII")


@dataclass(frozen=True)
class Entry:
    endpoint: str
    label: object
    allowed: Callable[[object], bool]
    current_on: tuple[str, ...] = ()  # other endpoints that belong to this entry (for aria-current)


def may_import(user) -> bool:
    return policy.can(user, "network.import") or policy.can(user, "structure.import")


NAV: list[Entry] = [
    Entry("web.home", _l("Home"), lambda u: True),
    Entry("web.search", _l("Search"), lambda u: policy.can(u, "tree.view"),
          ("web.node", "web.structure", "web.building_new", "web.building_edit", "web.class_new", "web.class_edit")),
    Entry("web.imports", _l("Imports"), may_import),
    Entry("web.invitations", _l("Invitations"), lambda u: policy.can(u, "users.invite")),
    Entry("web.campaigns", _l("Campaigns"), lambda u: policy.can(u, "campaigns.view"),
          ("web.campaign_new", "web.node_campaigns", "web.campaign_node", "web.unit_form", "web.unit_extended",
           "web.class_table", "web.node_reports", "web.report", "web.report_sign")),
    Entry("web.jobs", _l("Jobs"), policy.is_staff, ("web.job",)),
    Entry("web.nomenclatures_index", _l("Nomenclatures"), lambda u: policy.can(u, "nomenclatures.manage"),
          ("web.nomenclature", "web.nomenclature_item_new", "web.nomenclature_item_edit")),
]

ALL_LEVELS = ("ministry", "inspectorate", "school", "unit")
# Pages about a node: (endpoint taking node_id, label, permission on the node, levels where it applies).
NODE_PAGES = [
    ("web.import_network", _l("Import the network"), "network.import", ("ministry", "inspectorate")),
    ("web.import_structure", _l("Import classes"), "structure.import", ALL_LEVELS),
    ("web.structure", _l("Buildings and classes"), "structure.edit", ("unit",)),
    ("web.invite", _l("Invite someone"), "users.invite", ALL_LEVELS),
    ("web.schools_without_accounts", _l("Schools with no account yet"), "users.invite", ("inspectorate",)),
    ("web.node_campaigns", _l("Data collection"), "campaigns.view", ALL_LEVELS),
]
# Downloads of a node's data, each in every format of EXPORT_FORMATS (endpoints take node_id and fmt).
NODE_DOWNLOADS = [
    ("web.export_network", _l("The network (schools and units)"), "network.export",
     ("ministry", "inspectorate", "school")),
    ("web.export_structure", _l("Classes and pupils"), "structure.export", ALL_LEVELS),
]
EXPORT_FORMATS = (("xlsx", "Excel"), ("csv", "CSV"))


def has_endpoint(endpoint: str) -> bool:
    """True when a page is installed under ``endpoint`` (templates link to other engineers' pages through it)."""
    return endpoint in current_app.view_functions


def nav_items(user) -> list[tuple[str, object]]:
    """(endpoint, label) pairs the user may open, in menu order."""
    if user is None:
        return []
    return [(e.endpoint, e.label) for e in NAV if has_endpoint(e.endpoint) and e.allowed(user)]


def is_current(endpoint: str) -> bool:
    """Whether the menu entry ``endpoint`` is the page being shown."""
    here = request.endpoint
    return here == endpoint or any(e.endpoint == endpoint and here in e.current_on for e in NAV)


def node_actions(user, node, year=None) -> tuple[list, list]:
    """What the user may do with ``node``, among the installed pages: ([(endpoint, label, url args)],
    [(label, [(format label, endpoint, url args)])]). Structure downloads are for ``year`` when given."""
    def allowed(endpoint, perm, levels):
        return node.level in levels and has_endpoint(endpoint) and policy.can(user, perm, node)

    pages = [(endpoint, label, {"node_id": node.id}) for endpoint, label, perm, levels in NODE_PAGES
             if allowed(endpoint, perm, levels)]
    downloads = []
    for endpoint, label, perm, levels in NODE_DOWNLOADS:
        if allowed(endpoint, perm, levels):
            extra = {"year": year.id} if year is not None and endpoint == "web.export_structure" else {}
            downloads.append((label, [(text, endpoint, {"node_id": node.id, "fmt": fmt, **extra})
                                      for fmt, text in EXPORT_FORMATS]))
    return pages, downloads


def identity(user) -> SimpleNamespace | None:
    """Who is signed in, for the header: name, the main role and node, every membership."""
    if user is None:
        return None
    members = sorted(user.memberships, key=lambda m: (len(m.node.path), m.node.name, m.role))
    roles = [SimpleNamespace(role=m.role, label=ROLE_LABELS.get(m.role, m.role), node=m.node) for m in members]
    initials = "".join(p[0] for p in user.name.split()[:2]).upper() or "?"
    return SimpleNamespace(name=user.name, email=user.email, initials=initials, roles=roles,
                           main=roles[0] if roles else None)


def grade_label(level: int) -> str:
    """Grade levels the Romanian way: P for the preparatory class, then Roman numerals."""
    return ROMAN[level] if 0 <= level < len(ROMAN) else str(level)


def language_names(codes: str) -> str:
    """"ro,hu" → "română, maghiară" in the page's language (names from the CLDR data Babel ships)."""
    locale = get_locale() or Locale("ro")
    return ", ".join(locale.languages.get(c.strip(), c.strip()) for c in (codes or "").split(",") if c.strip())
