"""User accounts."""

from __future__ import annotations

import secrets
from datetime import datetime

import sqlalchemy as sa
from flask_login import UserMixin
from sqlalchemy.orm import Mapped, mapped_column, relationship

from msc.centres.models import Centre
from msc.core.crypto import EncryptedText
from msc.core.db import TimestampMixin, UTCDateTime, VersionedMixin, db
from msc.core.roles import Role


def new_session_token() -> str:
    return secrets.token_urlsafe(24)


class User(UserMixin, TimestampMixin, VersionedMixin, db.Model):
    __tablename__ = "user"

    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(sa.String(64), unique=True)
    full_name: Mapped[str] = mapped_column(sa.String(120))
    email: Mapped[str | None] = mapped_column(sa.String(254))
    role: Mapped[Role] = mapped_column(
        sa.Enum(
            Role,
            name="role",
            native_enum=False,
            create_constraint=True,
            length=16,
            values_callable=lambda roles: [r.value for r in roles],
        )
    )
    centre_id: Mapped[int | None] = mapped_column(sa.ForeignKey("centre.id"), index=True)
    locale: Mapped[str | None] = mapped_column(sa.String(16))
    active: Mapped[bool] = mapped_column(sa.Boolean, server_default=sa.true(), default=True)
    password_hash: Mapped[str] = mapped_column(sa.String(255))
    must_change_password: Mapped[bool] = mapped_column(
        sa.Boolean, server_default=sa.false(), default=False
    )
    password_changed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # Lockout (kept in the database so it holds across workers).
    failed_logins: Mapped[int] = mapped_column(sa.Integer, server_default="0", default=0)
    first_failed_login_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    locked_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # Changing this token ends every session of the user (logout, password change, deactivation).
    session_token: Mapped[str] = mapped_column(sa.String(64), default=new_session_token)
    last_login_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # TOTP second factor (RFC 6238): the shared secret is encrypted at rest; the last accepted
    # time step is kept so a code cannot be replayed (ASVS 2.8.4).
    totp_secret: Mapped[str | None] = mapped_column(EncryptedText("user.totp_secret"))
    totp_enabled_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    totp_last_step: Mapped[int | None] = mapped_column(sa.BigInteger)

    centre: Mapped[Centre | None] = relationship(lazy="raise")

    __table_args__ = (
        sa.CheckConstraint(
            "centre_id IS NOT NULL OR role NOT IN ('counsellor', 'supervisor')",
            name="centre_required_for_role",
        ),
    )

    @property
    def is_active(self) -> bool:  # Flask-Login refuses inactive users
        return self.active

    def get_id(self) -> str:
        # The session carries the token too, so rotating it revokes every copy of the cookie.
        return f"{self.id}:{self.session_token}"

    def revoke_sessions(self) -> None:
        self.session_token = new_session_token()


class RecoveryCode(db.Model):
    """A one-time recovery code for a lost authenticator, stored as a hash (ASVS 2.6.2)."""

    __tablename__ = "recovery_code"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(sa.ForeignKey("user.id"), index=True)
    code_hash: Mapped[str] = mapped_column(sa.String(64))
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
