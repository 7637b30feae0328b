"""Role-aware navigation: what the top bar offers to the signed-in user."""
from __future__ import annotations

from flask_babel import lazy_gettext as _l

from tenants import policy


def nav_items(user) -> list[tuple[str, object]]:
    """(endpoint, label) pairs the user may open."""
    if user is None:
        return []
    items = [("web.home", _l("Home"))]
    if policy.can(user, "tree.view"):
        items.append(("web.search", _l("Search")))
    if any(policy.can(user, p) for p in ("network.import", "structure.import")):
        items.append(("web.imports", _l("Imports")))
    if policy.can(user, "users.invite"):
        items.append(("web.invitations", _l("Invitations")))
    items.append(("web.jobs", _l("Jobs")))
    items.append(("auth.profile", _l("Profile")))
    return items
