"""Collection campaigns and the workflow state machine on the tenant tree (no Flask here).

- :mod:`workflows.models` — Campaign, CampaignState (one row per node and per class of a launched campaign),
  CampaignValues (versioned form values), WorkflowEvent (history per node);
- :mod:`workflows.campaigns` — create, launch, close, archive;
- :mod:`workflows.state` — the state machine: :func:`~workflows.state.transition`,
  :func:`~workflows.state.available_actions`;
- :mod:`workflows.values` — reading and saving form values with optimistic versions;
- :mod:`workflows.queries` — progress counts and filters.
"""
