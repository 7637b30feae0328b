"""Permissions as data on the view: ``@access("tree.view", load=Node)`` loads, scopes and checks in one place.

The decorator records an :class:`Access` on the view function, so a single test can walk every endpoint.
"""
from __future__ import annotations

import functools
from dataclasses import dataclass

from flask import abort, g, request
from flask_login import current_user

from core.errors import Forbidden, NotFound
from tenants import policy
from tenants.queries import get_visible_or_404


@dataclass(frozen=True)
class Access:
    permission: str | None  # None: any signed-in user
    model: type | None  # the object named by the URL id, resolved through the caller's subtree
    arg: str | None  # URL argument holding that id
    public: bool = False


def actor():
    """The user acting on this request: an API token's owner or the signed-in user, else None."""
    user = g.get("api_user")
    if user is not None:
        return user
    return current_user if current_user.is_authenticated else None


def access(permission: str | None = None, load: type | None = None, arg: str | None = None,
           as_: str | None = None, public: bool = False):
    """Guard a view. ``load`` names a model: the URL's ``arg`` (default ``<model>_id``) is replaced by the loaded
    object under ``as_`` (default the model's lowercase name), or 404 when it is outside the caller's subtree."""
    if permission is not None and permission not in policy.PERMISSIONS:
        raise KeyError(f"unknown permission {permission!r}")
    name = (as_ or (load.__name__.lower() if load else None))
    arg = arg or (f"{name}_id" if load else None)

    def deco(view):
        @functools.wraps(view)
        def wrapper(*args, **kwargs):
            if not public:
                user = actor()
                if user is None:
                    raise Unauthenticated()
                if load is not None:
                    obj = get_visible_or_404(load, kwargs.pop(arg), user)
                    kwargs[name] = obj
                    scope = obj if hasattr(obj, "path") else _node_of(obj)
                else:
                    scope = None
                if permission is not None and not policy.can(user, permission, scope):
                    raise Forbidden("your role may not do this here")
            return view(*args, **kwargs)

        wrapper.access = Access(permission, load, arg, public)
        return wrapper

    return deco


def _node_of(obj):
    from core.db import session
    from tenants.models import Node
    node = session.get(Node, obj.scope_node_id)
    if node is None:
        raise NotFound()
    return node


class Unauthenticated(Exception):
    """No signed-in user or token: 401 for the API, the login page for the web."""


def wants_json() -> bool:
    return request.path.startswith("/api/") or request.accept_mimetypes.best == "application/json"


def abort_404():
    abort(404)
