"""The collection state machine on the tree: who may do what to a node (or class) of a campaign, and when.

One entry point, :func:`transition`; :func:`available_actions` answers "what may this actor do here now" with the
same checks. The rules (SPEC "Workflow on the tree", seed 003):

- every state row is ``not_started`` → ``in_progress`` (first save) → ``submitted``, plus ``locked``, ``excluded``
  (with a reason) and, for units, the extended section ``none`` → ``requested`` → ``submitted``;
- the level directly above locks, unlocks and reopens (commission → inspectorate, inspectorate → school,
  director → unit, unit responsible → class); a lock anywhere above a node freezes every action on it;
- a node is submitted by its own level once every non-excluded child is submitted (classes: by the unit or the
  form teacher's link); a unit's own form and a class table must also pass submit-mode validation;
- a submitted node is reopened (with a reason) only when nothing above it is submitted;
- the inspectorate excludes/includes schools and units (with a reason); requests the extended section of a unit,
  even after submission, and the unit submits it.

Concurrency: each transition locks the ancestors' rows ``FOR SHARE`` (top first) and its own row ``FOR UPDATE``,
so two transitions on one node, or one on a node and one anywhere below it, run one after the other; saves of
values take the same locks (:mod:`workflows.values`). SQLite serialises writers with ``BEGIN IMMEDIATE``.
"""
from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import and_, bindparam, func, select
from sqlalchemy.orm import aliased

from core import audit
from core.db import session, utcnow
from core.errors import Conflict, DomainError, Forbidden, Invalid, NotFound
from tenants.models import Node, SchoolClass, User
from tenants.policy import roles_at
from workflows.errors import Refusal, refuse, subject
from workflows.models import Campaign, CampaignState, WorkflowEvent

ACTIONS = ("lock", "unlock", "submit", "reopen", "exclude", "include", "request-extended", "submit-extended")
# Who acts on a node of each level from the level directly above it (lock, unlock, reopen).
ABOVE_ROLES = {"inspectorate": frozenset({"commission"}), "school": frozenset({"isg", "inspector"}),
               "unit": frozenset({"director"}), "class": frozenset({"unit_responsible"})}
# Who reports a node of each level complete ("link" = the class's form teacher through a signed link).
SUBMIT_ROLES = {"inspectorate": frozenset({"isg", "inspector"}), "school": frozenset({"director"}),
                "unit": frozenset({"unit_responsible"}),
                "class": frozenset({"unit_responsible", "unit_helper", "link"})}
INSPECTORATE_ROLES = frozenset({"isg", "inspector"})
EXCLUDABLE = ("school", "unit")
# Who fills the unit form, the extended section and class tables.
EDIT_ROLES = frozenset({"unit_responsible", "unit_helper"})
CHILD_NOUN = {"inspectorate": ("school", "schools"), "school": ("unit", "units"), "unit": ("class", "classes")}
REASON_REQUIRED = frozenset({"reopen", "exclude"})
# Called after every successful transition, in its transaction: fn(campaign, state_row, action, actor). Other
# packages register here (exports.rollup writes snapshots) so workflows never imports them.
AFTER_TRANSITION: list = []


# --- actors ------------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class LinkActor:
    """A form teacher acting through a signed link scoped to one class (the links themselves come later)."""
    class_id: int
    link_id: int | None = None

    @property
    def label(self) -> str:
        return f"link {self.link_id} class {self.class_id}" if self.link_id else f"link class {self.class_id}"


def as_actor(actor):
    """A :class:`~tenants.models.User`, a :class:`LinkActor`, or a string ``"link:<class_id>[:<link_id>]"``."""
    if isinstance(actor, str):
        parts = actor.split(":")
        if parts[0] != "link" or len(parts) not in (2, 3) or not all(p.isdigit() for p in parts[1:]):
            raise ValueError(f"an actor string is 'link:<class_id>[:<link_id>]', not {actor!r}")
        return LinkActor(int(parts[1]), int(parts[2]) if len(parts) == 3 else None)
    return actor


def actor_label(actor) -> str:
    actor = as_actor(actor)
    if isinstance(actor, LinkActor):
        return actor.label
    return f"user {actor.id}" if actor is not None else "system"


def actor_user(actor) -> User | None:
    return actor if isinstance(actor, User) else None


def actor_roles(actor, state: CampaignState) -> set[str]:
    """The roles ``actor`` holds over the state row's node (memberships on it or above it; a link: "link" on its
    own class only)."""
    actor = as_actor(actor)
    if isinstance(actor, LinkActor):
        return {"link"} if state.level == "class" and state.class_id == actor.class_id else set()
    if actor is None or not getattr(actor, "active", False):
        return set()
    return roles_at(actor, state.node)


# --- loading and locking -----------------------------------------------------------------------------------

def state_for(campaign: Campaign, target) -> CampaignState:
    """The state row of a node, class or state row in ``campaign``; NotFound when it does not take part."""
    if isinstance(target, CampaignState):
        if target.campaign_id != campaign.id:
            raise NotFound()
        return target
    q = select(CampaignState).where(CampaignState.campaign_id == campaign.id)
    if isinstance(target, SchoolClass):
        q = q.where(CampaignState.class_id == target.id)
    elif isinstance(target, Node):
        q = q.where(CampaignState.node_id == target.id, CampaignState.class_id.is_(None))
    else:
        raise TypeError(f"not a node or class: {target!r}")
    row = session.execute(q).scalar_one_or_none()
    if row is None:
        raise NotFound("this node does not take part in the campaign")
    return row


@dataclass
class Chain:
    """A state row with its ancestors' rows (top first), as locked for one operation."""
    me: CampaignState
    ancestors: list[CampaignState]

    @property
    def parent(self) -> CampaignState | None:
        return self.ancestors[-1] if self.ancestors else None

    def locked_above(self) -> CampaignState | None:
        return next((a for a in self.ancestors if a.locked), None)

    def submitted_above(self) -> CampaignState | None:
        return next((a for a in reversed(self.ancestors) if a.state == "submitted"), None)

    def excluded_above(self) -> CampaignState | None:
        return next((a for a in self.ancestors if a.excluded), None)


def _ancestors_query(state: CampaignState):
    return (select(CampaignState)
            .where(CampaignState.campaign_id == state.campaign_id, CampaignState.path.in_(state.ancestor_paths))
            .order_by(func.length(CampaignState.path)))


def lock_ancestors(state: CampaignState, *, exclusive: bool = False) -> list[CampaignState]:
    """The first half of :func:`lock_chain`: the ancestors' rows FOR SHARE (FOR UPDATE when ``exclusive``), top
    first, freshly read. Whoever uses it locks the row itself FOR UPDATE next."""
    return list(session.execute(
        _ancestors_query(state).with_for_update(read=not exclusive)
        .execution_options(populate_existing=True)).scalars())


def lock_chain(state: CampaignState, *, exclusive_ancestors: bool = False, campaign: Campaign | None = None) -> Chain:
    """Lock the ancestors' rows (FOR SHARE, or FOR UPDATE when they will be written) top first, then the row
    itself FOR UPDATE, and return them freshly read. With ``campaign``, the statement that locks the row also
    re-reads the campaign (instead of a ``session.refresh(campaign)`` of its own): a concurrent close is seen."""
    ancestors = lock_ancestors(state, exclusive=exclusive_ancestors)
    if campaign is None:
        me = session.execute(select(CampaignState).where(CampaignState.id == state.id).with_for_update()
                             .execution_options(populate_existing=True)).scalar_one()
        return Chain(me, ancestors)
    me, fresh = session.execute(
        select(CampaignState, Campaign).join(Campaign, Campaign.id == CampaignState.campaign_id)
        .where(CampaignState.id == state.id).with_for_update(of=CampaignState)
        .execution_options(populate_existing=True)).one()
    if fresh is not campaign:  # not this session's object: refresh it as before
        session.refresh(campaign)
    return Chain(me, ancestors)


def read_chain(state: CampaignState) -> Chain:
    """The same rows without locks (for :func:`available_actions` and pages)."""
    return Chain(state, list(session.execute(_ancestors_query(state)).scalars()))


def _chain_selects() -> dict[str, object]:
    """The campaign, the state row of a class or node in it (outer-joined: NULL when it does not take part) and
    its ancestors through ``parent_id``, one join per level; built once (aliasing is costly), parameters bound."""
    global _CHAIN_ME
    me, p1, p2, p3 = (aliased(CampaignState) for _ in range(4))
    _CHAIN_ME = me  # the state row's alias (workflows.values joins its values row to it)
    out = {}
    for kind, on in (("class", me.class_id == bindparam("target_id")),
                     ("node", and_(me.node_id == bindparam("target_id"), me.class_id.is_(None)))):
        out[kind] = (select(Campaign, me, p1, p2, p3).select_from(Campaign)
                     .outerjoin(me, and_(me.campaign_id == Campaign.id, on))
                     .outerjoin(p1, p1.id == me.parent_id).outerjoin(p2, p2.id == p1.parent_id)
                     .outerjoin(p3, p3.id == p2.parent_id).where(Campaign.id == bindparam("campaign_id")))
    return out


_CHAIN_SELECTS = _chain_selects()


def _chain_from_row(row) -> tuple[Campaign, Chain]:
    """(campaign, chain) from the first five entities of a row of ``_CHAIN_SELECTS`` (NotFound as state_for)."""
    campaign, state, *parents = row[:5]
    if state is None:
        raise NotFound("this node does not take part in the campaign")
    # read_chain's rows are those whose path is one of ancestor_paths (unique per campaign): when the parent rows
    # carry every one of those paths, they are exactly those rows.
    wanted = state.ancestor_paths
    ancestors = [a for a in reversed(parents) if a is not None and a.path in wanted]
    if [a.path for a in ancestors] != wanted:
        return campaign, read_chain(state)
    return campaign, Chain(state, ancestors)


def _target_kind(target) -> str:
    if isinstance(target, SchoolClass):
        return "class"
    if isinstance(target, Node):
        return "node"
    raise TypeError(f"not a node or class: {target!r}")


def campaign_and_chain(campaign_id: int, target) -> tuple[Campaign, Chain]:
    """The campaign (NotFound "no such campaign") and :func:`chain_for` its class or node, in one statement."""
    rows = session.execute(_CHAIN_SELECTS[_target_kind(target)],
                           {"campaign_id": campaign_id, "target_id": target.id}).all()
    if not rows:
        raise NotFound("no such campaign")
    if len(rows) != 1:
        state_for(rows[0][0], target)  # several rows: raises as state_for does
    return _chain_from_row(rows[0])


def chain_for(campaign: Campaign, target) -> Chain:
    """:func:`state_for` and :func:`read_chain` in one statement: the row with its ancestors read through
    ``parent_id`` and kept when they are exactly the rows read_chain reads by path (otherwise read by path).
    ``target`` may also be a state row, or a :class:`Chain` already read (returned as it is)."""
    if isinstance(target, Chain):
        state_for(campaign, target.me)
        return target
    if isinstance(target, CampaignState):
        return read_chain(state_for(campaign, target))
    return campaign_and_chain(campaign.id, target)[1]


def mark_started(chain: Chain) -> None:
    """First activity in a subtree: the row and every not-started ancestor become in progress."""
    for s in [*chain.ancestors, chain.me]:
        if s.state == "not_started":
            s.state = "in_progress"
            s.updated_at = utcnow()


def needs_start(state: CampaignState) -> bool:
    """True when the row or one of its ancestors is still not started (read without locks: states never go back
    to not_started, so a False answer stays true)."""
    if state.state == "not_started":
        return True
    return session.execute(select(func.count()).select_from(
        _ancestors_query(state).order_by(None).where(CampaignState.state == "not_started").subquery())).scalar_one() > 0


# --- editability (shared with workflows.values) -------------------------------------------------------------

def edit_refusal(campaign: Campaign, chain: Chain, section: str) -> Refusal | None:
    """Why the section's values of ``chain.me`` cannot be edited now (code and params), or None when they can."""
    me = chain.me
    if campaign.status != "running":
        return Refusal("campaign_read_only", {"status": campaign.status})
    excluded = me if me.excluded else chain.excluded_above()
    if excluded is not None:
        return Refusal("excluded_from_collection", subject(excluded))
    if me.locked:
        return Refusal("locked", subject(me))
    above = chain.locked_above()
    if above is not None:
        return Refusal("locked_above", subject(above))
    if section == "extended":
        if me.extended == "none":
            return Refusal("extended_not_requested")
        if me.extended == "submitted":
            return Refusal("extended_submitted")
        if me.extended == "requested":
            return None
    if me.state == "submitted":
        return Refusal("submitted", subject(me))
    above = chain.submitted_above()
    if above is not None:
        return Refusal("submitted_above", subject(above))
    return None


def edit_blocker(campaign: Campaign, chain: Chain, section: str) -> str | None:
    """Why the section's values of ``chain.me`` cannot be edited now, in English, or None when they can."""
    refusal = edit_refusal(campaign, chain, section)
    return refusal.message if refusal is not None else None


# --- the rules ---------------------------------------------------------------------------------------------

def _pending_children(state: CampaignState) -> int:
    return session.execute(select(func.count()).where(
        CampaignState.campaign_id == state.campaign_id, CampaignState.parent_id == state.id,
        CampaignState.excluded.is_(False), CampaignState.state != "submitted")).scalar_one()


def _allowed_roles(action: str, level: str) -> frozenset[str]:
    if action in ("lock", "unlock", "reopen"):
        return ABOVE_ROLES[level]
    if action == "submit":
        return SUBMIT_ROLES[level]
    if action in ("exclude", "include"):
        return INSPECTORATE_ROLES if level in EXCLUDABLE else frozenset()
    if action == "request-extended":
        return INSPECTORATE_ROLES if level == "unit" else frozenset()
    if action == "submit-extended":
        return frozenset({"unit_responsible"}) if level == "unit" else frozenset()
    raise refuse(Invalid, "unknown_action", details={"action": action, "actions": list(ACTIONS)}, action=action)


def check(actor, campaign: Campaign, chain: Chain, action: str, reason: str | None = None, *,
          validate_forms: bool = True) -> None:
    """Raise Forbidden (role), Conflict (state) or Invalid (reason, form values) when ``action`` may not happen."""
    me = chain.me
    allowed = _allowed_roles(action, me.level)
    if not allowed & actor_roles(actor, me):
        raise refuse(Forbidden, "role_may_not", action=action, level=me.level)
    if campaign.status != "running":
        raise refuse(Conflict, "campaign_read_only", status=campaign.status)
    above = chain.locked_above()
    if above is not None:
        raise refuse(Conflict, "locked_above", **subject(above))
    above = chain.excluded_above()
    if above is not None:
        raise refuse(Conflict, "excluded_above", **subject(above))
    if action != "include" and me.excluded:
        raise refuse(Conflict, "excluded", **subject(me))
    if action in REASON_REQUIRED and not (reason or "").strip():
        raise refuse(Invalid, "reason_required", details={"reason": "required"}, action=action)
    _RULES[action](actor, campaign, chain, validate_forms)


def _no_submission_above(chain: Chain) -> None:
    above = chain.submitted_above()
    if above is not None:
        raise refuse(Conflict, "reopen_above_first", **subject(above))


def _lock(actor, campaign, chain, validate_forms):
    if chain.me.locked:
        raise refuse(Conflict, "already_locked", **subject(chain.me))


def _unlock(actor, campaign, chain, validate_forms):
    if not chain.me.locked:
        raise refuse(Conflict, "not_locked", **subject(chain.me))


def _submit(actor, campaign, chain, validate_forms):
    me = chain.me
    if me.locked:
        raise refuse(Conflict, "locked", **subject(me))
    if me.state == "submitted":
        raise refuse(Conflict, "already_submitted", **subject(me))
    _no_submission_above(chain)
    if me.level in CHILD_NOUN:
        pending = _pending_children(me)
        if pending:
            raise refuse(Conflict, "children_pending", details={"pending": pending}, count=pending,
                         child_level=CHILD_NOUN[me.level][0])
    if validate_forms and me.level in ("unit", "class"):
        _validate_section(campaign, me, me.level)


def _reopen(actor, campaign, chain, validate_forms):
    if chain.me.state != "submitted":
        raise refuse(Conflict, "not_submitted", **subject(chain.me))
    _no_submission_above(chain)


def _exclude(actor, campaign, chain, validate_forms):
    if chain.me.excluded:
        raise refuse(Conflict, "already_excluded", **subject(chain.me))
    _no_submission_above(chain)


def _include(actor, campaign, chain, validate_forms):
    if not chain.me.excluded:
        raise refuse(Conflict, "not_excluded", **subject(chain.me))
    _no_submission_above(chain)


def _request_extended(actor, campaign, chain, validate_forms):
    if chain.me.extended == "requested":
        raise refuse(Conflict, "extended_already_requested")


def _submit_extended(actor, campaign, chain, validate_forms):
    me = chain.me
    if me.extended != "requested":
        raise refuse(Conflict, "extended_not_requested" if me.extended == "none" else "extended_already_submitted")
    if me.locked:
        raise refuse(Conflict, "locked", **subject(me))
    if validate_forms:
        _validate_section(campaign, me, "extended")


def _validate_section(campaign: Campaign, state: CampaignState, section: str) -> None:
    from workflows import values
    errors = values.submit_errors(campaign, state, section)
    if errors:
        raise refuse(Invalid, "section_problems", details={"section": section, "errors": [e.to_dict() for e in errors]},
                     section=section, count=len(errors))


_RULES = {"lock": _lock, "unlock": _unlock, "submit": _submit, "reopen": _reopen, "exclude": _exclude,
          "include": _include, "request-extended": _request_extended, "submit-extended": _submit_extended}


def _apply(me: CampaignState, action: str, reason: str | None) -> None:
    if action in ("lock", "unlock"):
        me.locked = action == "lock"
    elif action == "submit":
        me.state = "submitted"
    elif action == "reopen":
        me.state = "in_progress"
    elif action == "exclude":
        me.excluded, me.exclusion_reason = True, reason.strip()
    elif action == "include":
        me.excluded, me.exclusion_reason = False, None
    elif action == "request-extended":
        me.extended = "requested"
    elif action == "submit-extended":
        me.extended = "submitted"
    me.updated_at = utcnow()


# --- the public surface ------------------------------------------------------------------------------------

def record_event(campaign: Campaign, state: CampaignState, action: str, actor, *, reason: str | None = None,
                 before=None, after=None) -> WorkflowEvent:
    """Append a history row and the matching audit entry (same transaction)."""
    user, label = actor_user(actor), actor_label(actor)
    event = WorkflowEvent(campaign_id=campaign.id, state_id=state.id, action=action,
                          user_id=getattr(user, "id", None), actor=label, reason=reason, before=before, after=after)
    session.add(event)
    audit.record(f"workflow.{action}", user=user, actor=label, object_type="campaign_states", object_id=state.id,
                 node_id=state.node_id, old=before, new={"campaign_id": campaign.id, **(after or {})}, reason=reason)
    return event


def transition(actor, campaign: Campaign, target, action: str, reason: str | None = None) -> CampaignState:
    """Apply ``action`` to the node/class ``target`` of ``campaign`` for ``actor`` (a User or a link actor).

    Locks the rows, checks the rules (Forbidden 403 / Conflict 409 / Invalid 422), changes the state, appends a
    WorkflowEvent and an audit entry, queues the e-mails (sent after the commit) and flushes. The caller commits.
    """
    if action not in ACTIONS:
        raise refuse(Invalid, "unknown_action", details={"action": action, "actions": list(ACTIONS)}, action=action)
    actor = as_actor(actor)
    state = state_for(campaign, target)
    exclusive = action == "submit" and needs_start(state)
    chain = lock_chain(state, exclusive_ancestors=exclusive, campaign=campaign)  # a concurrent close is seen
    check(actor, campaign, chain, action, reason)
    before = chain.me.snapshot()
    if action == "submit":
        mark_started(chain)
    _apply(chain.me, action, reason)
    record_event(campaign, chain.me, action, actor, reason=(reason or "").strip() or None, before=before,
                 after=chain.me.snapshot())
    session.flush()
    from workflows import notify
    notify.transition(campaign, chain, action, actor, reason)
    for callback in AFTER_TRANSITION:
        callback(campaign, chain.me, action, actor)
    return chain.me


def available_actions(actor, campaign: Campaign, target) -> list[str]:
    """The actions ``actor`` may take on ``target`` now (form validity is checked only by the submit itself)."""
    actor = as_actor(actor)
    state = state_for(campaign, target)
    chain = read_chain(state)
    out = []
    for action in ACTIONS:
        try:
            check(actor, campaign, chain, action, reason="(checking)", validate_forms=False)
        except DomainError:
            continue
        out.append(action)
    return out


__all__ = ["ACTIONS", "LinkActor", "as_actor", "available_actions", "campaign_and_chain", "chain_for", "edit_blocker",
           "edit_refusal", "state_for", "transition"]
