"""Importing this module registers every background task with ``exports.jobs``."""
import core.mail  # noqa: F401
import tenants.network_io  # noqa: F401
import exports.report_tasks  # noqa: F401
import exports.rollup  # noqa: F401
import workflows.link_tasks  # noqa: F401
