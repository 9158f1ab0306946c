"""Referrals: partners, legal migration channels, local options and the referral workflow."""


def register_hooks() -> None:
    """Referrals join the case timeline and move with a merged profile."""
    from msc.migrants.operations import MERGE_HOOKS
    from msc.referrals.operations import move_referrals
    from msc.referrals.queries import referral_timeline
    from msc.visits.queries import TIMELINE_SOURCES

    if move_referrals not in MERGE_HOOKS:
        MERGE_HOOKS.append(move_referrals)
    if referral_timeline not in TIMELINE_SOURCES:
        TIMELINE_SOURCES.append(referral_timeline)
