"""Imports every model, so that metadata (Alembic, create_all) and relationships see them all."""

from msc.auth.models import User
from msc.centres.models import Centre, Country, Region
from msc.core.audit import AuditEvent

__all__ = ["AuditEvent", "Centre", "Country", "Region", "User"]
