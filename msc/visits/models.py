"""Individual visits, group sessions and anonymous walk-ins."""

from __future__ import annotations

from datetime import date, datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from msc.core.crypto import EncryptedText
from msc.core.db import TimestampMixin, UTCDateTime, VersionedMixin, db


def topic_table(name: str, parent: str, *topic_key: sa.ForeignKey) -> sa.Table:
    return sa.Table(
        name,
        db.metadata,
        sa.Column(
            f"{parent}_id", sa.ForeignKey(f"{parent}.id", ondelete="CASCADE"), primary_key=True
        ),
        sa.Column("topic", sa.String(32), *topic_key, primary_key=True),
    )


# Each visit topic code with its bit in `Visit.topic_set`, for good: a retired code keeps its
# bit, a new code takes the next free one (a migration adds it; a test checks the code list).
visit_topic_bit = sa.Table(
    "visit_topic_bit",
    db.metadata,
    sa.Column("topic", sa.String(32), primary_key=True),
    sa.Column("bit", sa.SmallInteger, nullable=False, unique=True),
)
visit_topic = topic_table("visit_topic", "visit", sa.ForeignKey("visit_topic_bit.topic"))


def topic_bits(connection) -> dict[str, int]:
    """Each visit topic code with its bit in `Visit.topic_set`."""
    return dict(connection.execute(sa.select(visit_topic_bit.c.topic, visit_topic_bit.c.bit)).all())


group_session_topic = topic_table("group_session_topic", "group_session")
walk_in_topic = topic_table("walk_in_topic", "walk_in")


class Visit(TimestampMixin, VersionedMixin, db.Model):
    __tablename__ = "visit"

    id: Mapped[int] = mapped_column(primary_key=True)
    migrant_id: Mapped[int] = mapped_column(sa.ForeignKey("migrant.id"))
    centre_id: Mapped[int] = mapped_column(sa.ForeignKey("centre.id"))
    counsellor_id: Mapped[int] = mapped_column(sa.ForeignKey("user.id"))
    occurred_at: Mapped[datetime] = mapped_column(UTCDateTime)
    mode: Mapped[str] = mapped_column(sa.String(16))
    duration_minutes: Mapped[int] = mapped_column(sa.SmallInteger)
    material: Mapped[str | None] = mapped_column(sa.String(500))
    notes: Mapped[str | None] = mapped_column(EncryptedText("visit.notes"))  # restricted
    follow_up_on: Mapped[date | None] = mapped_column(sa.Date)
    follow_up_done: Mapped[bool] = mapped_column(
        sa.Boolean, server_default=sa.false(), default=False
    )
    submission_token: Mapped[str | None] = mapped_column(sa.String(64), unique=True)
    # The visit's topics again, as the sum of their bits (visit_topic_bit), so that research
    # counts every topic in one pass over the visits. Database triggers on visit_topic keep it
    # (migration 4d2a9c7e1b60); the application never writes it.
    topic_set: Mapped[int] = mapped_column(sa.BigInteger, server_default="0")

    topic_rows = relationship("VisitTopic", cascade="all, delete-orphan", lazy="raise")
    counsellor = relationship("User", lazy="raise")
    migrant_row = relationship("Migrant", lazy="raise")

    __table_args__ = (
        sa.Index("ix_visit_migrant_occurred", "migrant_id", "occurred_at"),
        sa.Index("ix_visit_centre_occurred", "centre_id", "occurred_at"),
        sa.Index("ix_visit_centre_follow_up", "centre_id", "follow_up_done", "follow_up_on"),
    )

    @property
    def topics(self) -> list[str]:
        return sorted(row.topic for row in self.topic_rows)


class VisitTopic(db.Model):
    __table__ = visit_topic


class GroupSession(TimestampMixin, VersionedMixin, db.Model):
    __tablename__ = "group_session"

    id: Mapped[int] = mapped_column(primary_key=True)
    centre_id: Mapped[int] = mapped_column(sa.ForeignKey("centre.id"), index=True)
    occurred_on: Mapped[date] = mapped_column(sa.Date)
    title: Mapped[str] = mapped_column(sa.String(200))
    venue: Mapped[str] = mapped_column(sa.String(200))
    created_by_id: Mapped[int] = mapped_column(sa.ForeignKey("user.id"))
    submission_token: Mapped[str | None] = mapped_column(sa.String(64), unique=True)

    topic_rows = relationship("GroupSessionTopic", cascade="all, delete-orphan", lazy="raise")
    facilitators = relationship("User", secondary="group_session_facilitator", lazy="raise")
    attendees = relationship("Migrant", secondary="group_session_attendee", lazy="raise")
    headcounts = relationship("GroupSessionHeadcount", cascade="all, delete-orphan", lazy="raise")

    @property
    def topics(self) -> list[str]:
        return sorted(row.topic for row in self.topic_rows)

    @property
    def unregistered_total(self) -> int:
        return sum(h.count for h in self.headcounts)


class GroupSessionTopic(db.Model):
    __table__ = group_session_topic


group_session_facilitator = sa.Table(
    "group_session_facilitator",
    db.metadata,
    sa.Column(
        "group_session_id", sa.ForeignKey("group_session.id", ondelete="CASCADE"), primary_key=True
    ),
    sa.Column("user_id", sa.ForeignKey("user.id"), primary_key=True),
)

group_session_attendee = sa.Table(
    "group_session_attendee",
    db.metadata,
    sa.Column(
        "group_session_id", sa.ForeignKey("group_session.id", ondelete="CASCADE"), primary_key=True
    ),
    sa.Column("migrant_id", sa.ForeignKey("migrant.id"), primary_key=True, index=True),
)


class GroupSessionHeadcount(db.Model):
    """Unregistered participants of a session, counted by sex and age band."""

    __tablename__ = "group_session_headcount"

    group_session_id: Mapped[int] = mapped_column(
        sa.ForeignKey("group_session.id", ondelete="CASCADE"), primary_key=True
    )
    sex: Mapped[str] = mapped_column(sa.String(1), primary_key=True)
    age_band: Mapped[str] = mapped_column(sa.String(8), primary_key=True)
    count: Mapped[int] = mapped_column(sa.Integer)


class WalkIn(TimestampMixin, db.Model):
    """A visit by someone who declined registration: counted, never identified."""

    __tablename__ = "walk_in"

    id: Mapped[int] = mapped_column(primary_key=True)
    centre_id: Mapped[int] = mapped_column(sa.ForeignKey("centre.id"))
    counsellor_id: Mapped[int] = mapped_column(sa.ForeignKey("user.id"))
    occurred_at: Mapped[datetime] = mapped_column(UTCDateTime)
    sex: Mapped[str] = mapped_column(sa.String(1))
    age_band: Mapped[str] = mapped_column(sa.String(8))
    citizenship: Mapped[str | None] = mapped_column(sa.ForeignKey("country.code"))
    submission_token: Mapped[str | None] = mapped_column(sa.String(64), unique=True)

    topic_rows = relationship("WalkInTopic", cascade="all, delete-orphan", lazy="raise")

    __table_args__ = (sa.Index("ix_walk_in_centre_occurred", "centre_id", "occurred_at"),)

    @property
    def topics(self) -> list[str]:
        return sorted(row.topic for row in self.topic_rows)


class WalkInTopic(db.Model):
    __table__ = walk_in_topic
