"""Form values of a campaign (unit form, class tables, extended section) with optimistic versions.

A values row starts at version 0 holding nothing: its values are then the form's defaults generated from the class
or unit parameters. :func:`save_values` merges a partial update, cleans it with the forms engine, and writes it
with ``UPDATE … WHERE version = :expected`` — of two saves based on one version exactly one wins; the other gets
a Conflict naming the current version and the fields changed since.
"""
from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import and_, bindparam, select, update

from core.db import session, utcnow
from core.errors import Conflict, Forbidden, Invalid, NotFound
from forms import engine
from forms.definitions import Definition
from forms.operations import load_definition, published_checksum
from tenants.models import SchoolClass
from tenants.queries import buildings_of
from workflows import state as sm
from workflows.errors import refuse
from workflows.models import SECTIONS, Campaign, CampaignState, CampaignValues, WorkflowEvent


@dataclass
class FormValues:
    section: str
    values: dict
    version: int
    definition: Definition
    context: dict
    chain: sm.Chain | None = None  # after a save: the rows as locked and written (for the answer)


def section_of(state: CampaignState, section: str | None) -> str:
    if section is None:
        return "class" if state.level == "class" else "unit"
    ok = ("class",) if state.level == "class" else ("unit", "extended") if state.level == "unit" else ()
    if section not in ok:
        raise refuse(Invalid, "no_such_section", details={"section": section}, level=state.level, section=section)
    return section


def definition_for(campaign: Campaign, section: str, checksum: str | None = None) -> Definition:
    """The pinned definition of a section (``checksum``: its stored checksum, when the caller read it)."""
    return load_definition(*campaign.form_pin(section), checksum=checksum)


def context_for(state: CampaignState, section: str) -> dict:
    if section == "class":
        return engine.class_context(state.school_class)
    if section == "unit":
        classes = session.execute(select(SchoolClass).join(CampaignState, CampaignState.class_id == SchoolClass.id)
                                  .where(CampaignState.parent_id == state.id)).scalars()
        return engine.unit_context(state.node, session.execute(buildings_of(state.node)).scalars(), classes)
    # The flagged classes come from the unit's roll-up snapshot (imported here: exports imports workflows).
    from exports.risk import flagged_classes
    return {"flagged_classes": flagged_classes(state.campaign, state)}


def _row(state: CampaignState, section: str, *, lock: bool = False) -> CampaignValues:
    q = select(CampaignValues).where(CampaignValues.state_id == state.id, CampaignValues.section == section)
    if lock:
        q = q.with_for_update()
    return session.execute(q.execution_options(populate_existing=True)).scalar_one()


# The values row of a state row's section with the stored checksum of the section's pinned definition (so a
# definition this process already parsed is used without reading it again); built once, parameters bound.
_PINNED_ROW = (select(CampaignValues, published_checksum(bindparam("form_key"), bindparam("form_version")))
               .where(CampaignValues.state_id == bindparam("state_id"), CampaignValues.section == bindparam("section"))
               .execution_options(populate_existing=True))
# The same, for a save: the state row FOR UPDATE with its values row, and the campaign re-read.
_LOCK_FOR_SAVE = (select(CampaignState, Campaign, CampaignValues,
                         published_checksum(bindparam("form_key"), bindparam("form_version")))
                  .join(Campaign, Campaign.id == CampaignState.campaign_id)
                  .join(CampaignValues, and_(CampaignValues.state_id == CampaignState.id,
                                             CampaignValues.section == bindparam("section")))
                  .where(CampaignState.id == bindparam("state_id"))
                  .with_for_update(of=[CampaignState, CampaignValues])
                  .execution_options(populate_existing=True))


def _chain_values_selects() -> dict[tuple[str, str], object]:
    """``sm.campaign_and_chain``'s statement with the state row's values row of one section and the stored
    checksum of the section's pinned definition added: all a read of a form needs, in one statement."""
    out = {}
    for kind in ("class", "node"):
        for section in SECTIONS:
            checksum = published_checksum(getattr(Campaign, f"{section}_form_key"),
                                          getattr(Campaign, f"{section}_form_version"))  # correlated
            out[kind, section] = (sm._CHAIN_SELECTS[kind].add_columns(CampaignValues, checksum)
                                  .outerjoin(CampaignValues, and_(CampaignValues.state_id == sm._CHAIN_ME.id,
                                                                  CampaignValues.section == section))
                                  .execution_options(populate_existing=True))
    return out


_CHAIN_VALUES = _chain_values_selects()


def read_form(campaign_id: int, target, section: str) -> tuple[Campaign, sm.Chain, FormValues]:
    """``sm.campaign_and_chain(campaign_id, target)`` and ``get_values(campaign, state, section)`` in one statement
    (the same answers and the same NotFound/Invalid refusals)."""
    kind = sm._target_kind(target)
    if section not in SECTIONS:
        campaign, chain = sm.campaign_and_chain(campaign_id, target)
        return campaign, chain, get_values(campaign, chain.me, section)
    rows = session.execute(_CHAIN_VALUES[kind, section], {"campaign_id": campaign_id, "target_id": target.id}).all()
    if not rows:
        raise NotFound("no such campaign")
    if len(rows) != 1:
        sm.state_for(rows[0][0], target)  # several rows: raises as state_for does
    campaign, chain = sm._chain_from_row(rows[0])
    section = section_of(chain.me, section)
    row, checksum = rows[0][5:7]
    if row is None:  # no values row: fails as get_values does
        row, checksum = _row_pinned(campaign, chain.me, section)
    return campaign, chain, _current(campaign, chain.me, section, row, checksum)


def _pins(campaign: Campaign, state: CampaignState, section: str) -> dict:
    key, version = campaign.form_pin(section)
    return {"form_key": key, "form_version": version, "state_id": state.id, "section": section}


def _row_pinned(campaign: Campaign, state: CampaignState, section: str) -> tuple[CampaignValues, str | None]:
    """The values row and the stored checksum of the section's pinned definition, in one statement."""
    row, checksum = session.execute(_PINNED_ROW, _pins(campaign, state, section)).one()
    return row, checksum


def _lock_for_save(campaign: Campaign, state: CampaignState, section: str, *,
                   exclusive_ancestors: bool) -> tuple[sm.Chain, CampaignValues, str | None]:
    """``sm.lock_chain(state, exclusive_ancestors=…, campaign=campaign)`` and the values row FOR UPDATE in two
    statements instead of three, the locks taken in the same order: the ancestors top first, then the row with
    its values row; the campaign is re-read in the same statement (a concurrent close is seen)."""
    ancestors = sm.lock_ancestors(state, exclusive=exclusive_ancestors)
    me, fresh, row, checksum = session.execute(_LOCK_FOR_SAVE, _pins(campaign, state, section)).one()
    if fresh is not campaign:  # not this session's object: refresh it as lock_chain does
        session.refresh(campaign)
    return sm.Chain(me, ancestors), row, checksum


def _current(campaign: Campaign, state: CampaignState, section: str, row: CampaignValues,
             checksum: str | None = None) -> FormValues:
    definition = definition_for(campaign, section, checksum)
    ctx = context_for(state, section)
    values = dict(row.values) if row.version else engine.compute(
        definition, engine.generate_defaults(definition, ctx), ctx)
    return FormValues(section, values, row.version, definition, ctx)


def get_values(campaign: Campaign, target, section: str | None = None) -> FormValues:
    """The stored values (or the generated defaults before the first save) with their version."""
    state = sm.state_for(campaign, target)
    section = section_of(state, section)
    return _current(campaign, state, section, *_row_pinned(campaign, state, section))


def submit_errors(campaign: Campaign, state: CampaignState, section: str) -> list:
    """Submit-mode validation errors of the current values (an empty list when they may be submitted)."""
    cur = _current(campaign, state, section, *_row_pinned(campaign, state, section))
    return engine.validate(cur.definition, cur.values, cur.context, mode="submit")


def _may_edit(actor, state: CampaignState) -> bool:
    allowed = sm.EDIT_ROLES | ({"link"} if state.level == "class" else set())
    return bool(sm.actor_roles(actor, state) & allowed)


def _changed_since(state: CampaignState, section: str, version: int) -> list[str]:
    events = session.execute(select(WorkflowEvent.after).where(WorkflowEvent.state_id == state.id,
                                                              WorkflowEvent.action == "save")).scalars()
    fields: set[str] = set()
    for after in events:
        if after and after.get("section") == section and after.get("version", 0) > version:
            fields.update(after.get("fields") or ())
    return sorted(fields)


def save_values(actor, campaign: Campaign, target, values: dict, expected_version: int, mode: str = "draft",
                section: str | None = None) -> FormValues:
    """Merge ``values`` into the section's stored values and save them as the next version.

    Forbidden when the actor may not fill this form; Conflict when the node (or anything above it) is locked,
    submitted or excluded, or when ``expected_version`` is not the current one (details: current version and the
    fields changed since); Invalid with per-field errors when the values are wrong (``mode="draft"`` accepts
    incomplete data, ``"submit"`` does not). The first save moves the node and its ancestors to in progress."""
    if not isinstance(values, dict):
        raise refuse(Invalid, "values_not_object", details={"values": "invalid"})
    actor = sm.as_actor(actor)
    read = sm.chain_for(campaign, target)
    state = read.me
    section = section_of(state, section)
    if not _may_edit(actor, state):
        raise refuse(Forbidden, "role_may_not_fill", level=state.level)
    # sm.needs_start on the rows just read (unlocked, like needs_start: states never go back to not_started)
    needs_start = any(s.state == "not_started" for s in (*read.ancestors, state))
    chain, row, checksum = _lock_for_save(campaign, state, section, exclusive_ancestors=needs_start)
    blocker = sm.edit_refusal(campaign, chain, section)
    if blocker is not None:
        raise blocker.error(Conflict)
    if row.version != expected_version:
        raise refuse(Conflict, "stale_version",
                     details={"current_version": row.version,
                              "changed_fields": _changed_since(chain.me, section, expected_version)},
                     based_on=expected_version, current=row.version)
    cur = _current(campaign, chain.me, section, row, checksum)
    merged = {**cur.values, **values}
    cleaned = engine.clean(cur.definition, merged, cur.context, mode=mode)
    if cleaned.errors:
        raise refuse(Invalid, "values_problems",
                     details={"fields": {k or "": [e.message for e in errs]
                                         for k, errs in cleaned.errors_by_field().items()},
                              "errors": [e.to_dict() for e in cleaned.errors]},
                     count=len(cleaned.errors))
    new_values = cleaned.values
    changed = sorted(k for k in set(new_values) | set(cur.values) if new_values.get(k) != cur.values.get(k))
    label = sm.actor_label(actor)
    result = session.execute(
        update(CampaignValues)
        .where(CampaignValues.id == row.id, CampaignValues.version == expected_version)
        .values(values=new_values, version=CampaignValues.version + 1, updated_at=utcnow(), updated_by=label)
        .execution_options(synchronize_session=False))
    if result.rowcount != 1:  # another save won in between
        raise refuse(Conflict, "stale_version",
                     details={"current_version": _row(chain.me, section).version,
                              "changed_fields": _changed_since(chain.me, section, expected_version)},
                     based_on=expected_version)
    sm.mark_started(chain)
    chain.me.updated_at = utcnow()
    sm.record_event(campaign, chain.me, "save", actor, before={k: cur.values.get(k) for k in changed},
                    after={"section": section, "version": expected_version + 1, "fields": changed,
                           "state": chain.me.state, "values": {k: new_values.get(k) for k in changed}}
                    if changed else {"section": section, "version": expected_version + 1, "fields": []})
    session.flush()
    return FormValues(section, new_values, expected_version + 1, cur.definition, cur.context, chain)


__all__ = ["FormValues", "get_values", "read_form", "save_values", "submit_errors"]
