"""Partners, legal migration channels, local work options, and referrals with their events."""

from __future__ import annotations

from datetime import date, datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from msc.core.db import TimestampMixin, UTCDateTime, VersionedMixin, db


class Partner(TimestampMixin, VersionedMixin, db.Model):
    """An organisation people are referred to."""

    __tablename__ = "partner"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(sa.String(200))
    kind: Mapped[str] = mapped_column(sa.String(24))
    country_code: Mapped[str] = mapped_column(sa.ForeignKey("country.code"), index=True)
    services: Mapped[list] = mapped_column(sa.JSON, default=list)
    countries_served: Mapped[list] = mapped_column(sa.JSON, default=list)
    regions_served: Mapped[list] = mapped_column(sa.JSON, default=list)  # region ids; empty: all
    contact_person: Mapped[str | None] = mapped_column(sa.String(120))
    phone: Mapped[str | None] = mapped_column(sa.String(40))
    email: Mapped[str | None] = mapped_column(sa.String(254))
    address: Mapped[str | None] = mapped_column(sa.String(300))
    website: Mapped[str | None] = mapped_column(sa.String(300))
    active: Mapped[bool] = mapped_column(sa.Boolean, server_default=sa.true(), default=True)


class Channel(TimestampMixin, VersionedMixin, db.Model):
    """A legal migration channel: a way to work, study or join family abroad regularly."""

    __tablename__ = "channel"

    id: Mapped[int] = mapped_column(primary_key=True)
    destination: Mapped[str] = mapped_column(sa.ForeignKey("country.code"), index=True)
    name: Mapped[str] = mapped_column(sa.String(200))
    kind: Mapped[str] = mapped_column(sa.String(24))
    occupations: Mapped[list] = mapped_column(sa.JSON, default=list)  # ISCO-08 codes; empty: any
    requirements: Mapped[str | None] = mapped_column(sa.Text)
    how_to_apply: Mapped[str | None] = mapped_column(sa.Text)
    partner_id: Mapped[int | None] = mapped_column(sa.ForeignKey("partner.id"))
    valid_from: Mapped[date | None] = mapped_column(sa.Date)
    valid_to: Mapped[date | None] = mapped_column(sa.Date)
    active: Mapped[bool] = mapped_column(sa.Boolean, server_default=sa.true(), default=True)

    partner = relationship("Partner", lazy="raise")


class LocalOption(TimestampMixin, VersionedMixin, db.Model):
    """An NES vacancy, training course or active labour-market programme at home."""

    __tablename__ = "local_option"

    id: Mapped[int] = mapped_column(primary_key=True)
    country_code: Mapped[str] = mapped_column(sa.ForeignKey("country.code"))
    external_id: Mapped[str | None] = mapped_column(sa.String(64))
    kind: Mapped[str] = mapped_column(sa.String(16))
    title: Mapped[str] = mapped_column(sa.String(200))
    provider: Mapped[str | None] = mapped_column(sa.String(200))
    occupation: Mapped[str | None] = mapped_column(sa.String(4))
    region_id: Mapped[int | None] = mapped_column(sa.ForeignKey("region.id"))
    closing_on: Mapped[date | None] = mapped_column(sa.Date)
    description: Mapped[str | None] = mapped_column(sa.Text)
    active: Mapped[bool] = mapped_column(sa.Boolean, server_default=sa.true(), default=True)

    region = relationship("Region", lazy="raise")

    __table_args__ = (
        sa.UniqueConstraint("country_code", "external_id"),
        sa.Index("ix_local_option_match", "country_code", "active", "occupation"),
    )


# Referrals the supervisor must look at: submitted, or sent without review (needs_review). The
# review queue states it in this literal form so that the planner can match the partial index
# (a bound parameter would hide the value from a generic plan).
AWAITING_REVIEW_SQL = sa.text("status = 'submitted' OR needs_review")


class Referral(TimestampMixin, VersionedMixin, db.Model):
    __tablename__ = "referral"

    id: Mapped[int] = mapped_column(primary_key=True)
    migrant_id: Mapped[int] = mapped_column(sa.ForeignKey("migrant.id"), index=True)
    centre_id: Mapped[int] = mapped_column(sa.ForeignKey("centre.id"))
    created_by_id: Mapped[int] = mapped_column(sa.ForeignKey("user.id"))
    category: Mapped[str] = mapped_column(sa.String(24))
    partner_id: Mapped[int | None] = mapped_column(sa.ForeignKey("partner.id"))
    channel_id: Mapped[int | None] = mapped_column(sa.ForeignKey("channel.id"))
    local_option_id: Mapped[int | None] = mapped_column(sa.ForeignKey("local_option.id"))
    reason: Mapped[str] = mapped_column(sa.Text)
    urgency: Mapped[str] = mapped_column(sa.String(8), server_default="normal", default="normal")
    # What personal data goes to the recipient: each referral records a transfer to a third party.
    shared_fields: Mapped[list] = mapped_column(sa.JSON, default=list)
    due_on: Mapped[date] = mapped_column(sa.Date)
    status: Mapped[str] = mapped_column(sa.String(16), server_default="draft", default="draft")
    # The legal basis it went out on: the consent row for referral, or the vital interest.
    consent_id: Mapped[int | None] = mapped_column(sa.ForeignKey("consent.id"))
    outcome: Mapped[str | None] = mapped_column(sa.String(24))
    needs_review: Mapped[bool] = mapped_column(sa.Boolean, server_default=sa.false(), default=False)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    submitted_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    submission_token: Mapped[str | None] = mapped_column(sa.String(64), unique=True)

    migrant = relationship("Migrant", lazy="raise")
    created_by = relationship("User", lazy="raise")
    partner = relationship("Partner", lazy="raise")
    channel = relationship("Channel", lazy="raise")
    local_option = relationship("LocalOption", lazy="raise")
    events = relationship(
        "ReferralEvent", lazy="raise", order_by="ReferralEvent.id", back_populates="referral"
    )

    __table_args__ = (
        sa.Index("ix_referral_centre_status", "centre_id", "status", "submitted_at"),
        sa.Index("ix_referral_centre_due", "centre_id", "status", "due_on"),
        # The referral list: a centre's referrals, last changed first (read backwards).
        sa.Index("ix_referral_centre_updated", "centre_id", "updated_at", "id"),
    )

    @property
    def target_name(self) -> str:
        target = self.partner or self.channel or self.local_option
        return getattr(target, "name", None) or getattr(target, "title", "")


# The supervisor's review queue, in its order (queries.queue): a centre's referrals awaiting
# review, those sent without review first, then oldest first. The index gives the order, so a
# page of the queue reads only its rows.
sa.Index(
    "ix_referral_review_queue",
    Referral.centre_id,
    Referral.needs_review.desc(),
    Referral.submitted_at,
    Referral.id,
    postgresql_where=AWAITING_REVIEW_SQL,
    sqlite_where=AWAITING_REVIEW_SQL,
)


class ReferralEvent(db.Model):
    """One step of a referral's life: who moved it from which state to which, and why."""

    __tablename__ = "referral_event"

    id: Mapped[int] = mapped_column(primary_key=True)
    referral_id: Mapped[int] = mapped_column(sa.ForeignKey("referral.id"), index=True)
    user_id: Mapped[int] = mapped_column(sa.ForeignKey("user.id"))
    occurred_at: Mapped[datetime] = mapped_column(UTCDateTime)
    action: Mapped[str] = mapped_column(sa.String(16))
    from_status: Mapped[str | None] = mapped_column(sa.String(16))
    to_status: Mapped[str] = mapped_column(sa.String(16))
    comment: Mapped[str | None] = mapped_column(sa.Text)

    referral = relationship("Referral", lazy="raise", back_populates="events")
    user = relationship("User", lazy="raise")
