"""TOTP second factor (RFC 6238) with one-time recovery codes (OWASP ASVS 2.8, 2.6).

Required for the roles in MSC_TOTP_REQUIRED_ROLES (supervisors and admins by default), optional
for others. The secret is encrypted at rest; a code is accepted once (the last time step is
kept) and within one step of clock drift. Recovery codes are random, shown once, stored hashed.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time

import pyotp
import segno
import sqlalchemy as sa
from flask import current_app
from markupsafe import Markup

from msc.auth.models import RecoveryCode, User
from msc.core import audit
from msc.core.db import db, utcnow

RECOVERY_CODES = 10
STEP_SECONDS = 30


def required_for(user: User) -> bool:
    return user.role.value in current_app.config["TOTP_REQUIRED_ROLES"]


def enrolled(user: User) -> bool:
    return user.totp_enabled_at is not None


def start_enrolment(user: User) -> str:
    """A new pending secret (kept until confirmed with a code); returns it."""
    if not user.totp_secret or enrolled(user):
        user.totp_secret = pyotp.random_base32()
    return user.totp_secret


def provisioning_svg(user: User) -> Markup:
    """The QR code to scan, as inline SVG (no JavaScript, no image request)."""
    uri = pyotp.TOTP(user.totp_secret).provisioning_uri(
        name=user.username, issuer_name=current_app.config["TOTP_ISSUER"]
    )
    # Trusted markup: segno writes only the code's path geometry; the URI (with the username)
    # is encoded in the modules, never written as text (title=None).
    return Markup(segno.make(uri, error="m").svg_inline(scale=4, title=None))  # noqa: S704  # nosec B704


def _accepted_step(user: User, code: str) -> int | None:
    """The time step the code belongs to, if valid and newer than the last one used."""
    code = "".join(ch for ch in code if ch.isdigit())
    if len(code) != 6 or not user.totp_secret:
        return None
    totp = pyotp.TOTP(user.totp_secret)
    now_step = int(time.time()) // STEP_SECONDS
    for step in (now_step - 1, now_step, now_step + 1):
        if hmac.compare_digest(totp.at(step * STEP_SECONDS), code):
            if user.totp_last_step is not None and step <= user.totp_last_step:
                return None  # replayed (ASVS 2.8.4)
            return step
    return None


def confirm_enrolment(user: User, code: str) -> list[str] | None:
    """Enable the factor when the code matches; returns the new recovery codes (shown once)."""
    step = _accepted_step(user, code)
    if step is None:
        return None
    user.totp_last_step = step
    user.totp_enabled_at = utcnow()
    audit.record("auth.totp_enrolled", user, user_id=user.id)
    return _new_recovery_codes(user)


def verify(user: User, code: str) -> bool:
    """A TOTP code or an unused recovery code; the use is recorded and audited."""
    step = _accepted_step(user, code)
    if step is not None:
        user.totp_last_step = step
        audit.record("auth.totp_passed", user, user_id=user.id)
        return True
    recovery = db.session.scalar(
        sa.select(RecoveryCode).where(
            RecoveryCode.user_id == user.id,
            RecoveryCode.code_hash == _hash(code),
            RecoveryCode.used_at.is_(None),
        )
    )
    if recovery is not None:
        recovery.used_at = utcnow()
        audit.record("auth.recovery_code_used", user, user_id=user.id)
        return True
    audit.record("auth.totp_failed", user, user_id=user.id)
    return False


def reset(user: User) -> None:
    """Remove the factor (a lost device): the user enrols again at the next login."""
    user.totp_secret = None
    user.totp_enabled_at = None
    user.totp_last_step = None
    db.session.execute(sa.delete(RecoveryCode).where(RecoveryCode.user_id == user.id))
    user.revoke_sessions()
    audit.record("auth.totp_reset", user)


def remaining_recovery_codes(user: User) -> int:
    return db.session.scalar(
        sa.select(sa.func.count(RecoveryCode.id)).where(
            RecoveryCode.user_id == user.id, RecoveryCode.used_at.is_(None)
        )
    )


def _hash(code: str) -> str:
    # Codes carry 50 random bits; a plain SHA-256 of the normalised code is enough to store them.
    normalised = "".join(ch for ch in code.lower() if ch.isalnum())
    return hashlib.sha256(normalised.encode()).hexdigest()


def _new_recovery_codes(user: User) -> list[str]:
    db.session.execute(sa.delete(RecoveryCode).where(RecoveryCode.user_id == user.id))
    alphabet = "abcdefghjkmnpqrstuvwxyz23456789"
    codes = []
    for _ in range(RECOVERY_CODES):
        raw = "".join(secrets.choice(alphabet) for _ in range(10))
        codes.append(f"{raw[:5]}-{raw[5:]}")
        db.session.add(RecoveryCode(user_id=user.id, code_hash=_hash(raw)))
    return codes
