"""Every model module, imported so the metadata is complete for Alembic and the drift test."""
import core.audit  # noqa: F401
import exports.models  # noqa: F401
import forms.models  # noqa: F401
import tenants.factor_models  # noqa: F401
import tenants.invitations  # noqa: F401
import tenants.models  # noqa: F401
import workflows.models  # noqa: F401
from core.db import Base

metadata = Base.metadata
