"""Importing this module registers every background task with ``exports.jobs``."""
import tenants.network_io  # noqa: F401
