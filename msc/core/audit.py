"""The audit log: append-only rows written by operations.

A row says who did what to which object, when, from where, in which centre. It never holds field
values or personal data (ASVS 7.1.1): object ids only.
"""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from flask import has_request_context, request
from flask_login import current_user
from sqlalchemy.orm import Mapped, mapped_column, relationship

from msc.core.db import UTCDateTime, db, utcnow


class AuditEvent(db.Model):
    __tablename__ = "audit_event"

    id: Mapped[int] = mapped_column(
        sa.BigInteger().with_variant(sa.Integer, "sqlite"), primary_key=True
    )
    occurred_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
    user_id: Mapped[int | None] = mapped_column(sa.ForeignKey("user.id"), index=True)
    action: Mapped[str] = mapped_column(sa.String(64), index=True)
    object_type: Mapped[str | None] = mapped_column(sa.String(32))
    object_id: Mapped[str | None] = mapped_column(sa.String(64))
    centre_id: Mapped[int | None] = mapped_column(sa.ForeignKey("centre.id"), index=True)
    ip: Mapped[str | None] = mapped_column(sa.String(45))
    # Names of the fields an edit changed (never their values).
    fields: Mapped[str | None] = mapped_column(sa.String(1000))

    user = relationship("User", lazy="raise")
    centre = relationship("Centre", lazy="raise")

    __table_args__ = (sa.Index("ix_audit_event_object", "object_type", "object_id"),)


def record(
    action: str,
    target=None,
    *,
    centre_id: int | None = None,
    user_id: int | None = None,
    fields: list[str] | None = None,
):
    """Add an audit row to the session; the view's single commit saves it with the change."""
    if target is not None and getattr(target, "id", None) is None:
        db.session.flush()  # the new object needs its id
    if user_id is None and current_user and current_user.is_authenticated:
        user_id = current_user.id
    if centre_id is None and target is not None:
        centre_id = getattr(target, "centre_id", None)
    event = AuditEvent(
        action=action,
        object_type=target.__tablename__ if target is not None else None,
        object_id=str(target.id) if target is not None else None,
        centre_id=centre_id,
        user_id=user_id,
        ip=request.remote_addr if has_request_context() else None,
        fields=",".join(sorted(fields))[:1000] if fields else None,
    )
    db.session.add(event)
    return event
