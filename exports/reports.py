"""Report versions: generation (at submission and on demand), re-issue up the tree, files with their SHA-256,
the inspector general's signature. Operations audit and flush; the caller commits."""
from __future__ import annotations


def on_snapshot(campaign_id: int, node_id: int, reason: str) -> None:
    """Called by :mod:`exports.rollup` (in the submitting transaction) after the node's snapshot was (re)written:
    schedules the node's report version (after the commit) and the re-issue of reports above that exist."""
    return None  # being written (issue 6)
