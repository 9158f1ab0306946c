"""Imports every model, so that metadata (Alembic, create_all) and relationships see them all."""

from msc.auth.models import RecoveryCode, User
from msc.centres.models import Centre, Country, Region
from msc.core.audit import AuditEvent
from msc.migrants.models import CaseSequence, Consent, Migrant, MigrantCode, StayAbroad
from msc.referrals.models import Channel, LocalOption, Partner, Referral, ReferralEvent
from msc.research.models import ResearchRelease
from msc.visits.models import GroupSession, GroupSessionHeadcount, Visit, WalkIn

__all__ = [
    "AuditEvent",
    "CaseSequence",
    "Channel",
    "LocalOption",
    "Partner",
    "Referral",
    "ReferralEvent",
    "Centre",
    "Consent",
    "Country",
    "GroupSession",
    "GroupSessionHeadcount",
    "Migrant",
    "MigrantCode",
    "RecoveryCode",
    "Region",
    "ResearchRelease",
    "StayAbroad",
    "User",
    "Visit",
    "WalkIn",
]
