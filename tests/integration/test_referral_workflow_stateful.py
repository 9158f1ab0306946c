"""Random sequences of actions by random users: the workflow never leaves its transition table."""

import pytest
import sqlalchemy as sa
from flask import current_app
from flask_login import login_user
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, precondition, rule

from msc.centres.models import Centre
from msc.core.audit import AuditEvent
from msc.core.db import db
from msc.core.roles import Role
from msc.referrals import operations
from msc.referrals.models import Referral, ReferralEvent
from msc.referrals.operations import TransitionRefused
from msc.referrals.workflow import ACTIONS, REVIEW_ACTIONS, TRANSITIONS

STATES = {
    "draft",
    "submitted",
    "returned",
    "approved",
    "rejected",
    "sent",
    "accepted",
    "declined",
    "completed",
    "cancelled",
}


@pytest.fixture
def world(make_user, make_migrant, make_directory, make_centre):
    counsellor = make_user(Role.COUNSELLOR)
    centre = db.session.get(Centre, counsellor.centre_id)
    users = {
        "counsellor": counsellor,
        "colleague": make_user(Role.COUNSELLOR, centre=centre),
        "supervisor": make_user(Role.SUPERVISOR, centre=centre),
        "supervisor2": make_user(Role.SUPERVISOR, centre=centre),
        "stranger": make_user(Role.SUPERVISOR),  # another centre
    }
    with_basis = make_migrant(counsellor)
    without_basis = make_migrant(counsellor, given_name="Ana", consents=("service",))
    partner, channel, _option = make_directory()
    return users, [with_basis.id, without_basis.id], partner.id


def counts(referral_id):
    events = db.session.scalar(
        sa.select(sa.func.count(ReferralEvent.id)).where(ReferralEvent.referral_id == referral_id)
    )
    audits = db.session.scalar(
        sa.select(sa.func.count(AuditEvent.id)).where(
            AuditEvent.object_type == "referral", AuditEvent.object_id == str(referral_id)
        )
    )
    return events, audits


def test_random_action_sequences_follow_the_table(world):
    users, migrants, partner_id = world

    class Workflow(RuleBasedStateMachine):
        @initialize()
        def start(self):
            self.referrals = []

        def as_user(self, name):
            context = current_app.test_request_context()
            context.push()
            login_user(db.session.get(type(users[name]), users[name].id))
            return context

        @rule(
            migrant=st.sampled_from(migrants),
            category=st.sampled_from(["legal_migration", "protection"]),
            urgency=st.sampled_from(["normal", "urgent"]),
        )
        def create(self, migrant, category, urgency):
            context = self.as_user("counsellor")
            try:
                import datetime as dt

                from msc.migrants.models import Migrant

                referral = operations.create(
                    db.session.get(Migrant, migrant),
                    {
                        "category": category,
                        "partner_id": partner_id,
                        "reason": "r",
                        "urgency": urgency,
                        "shared_fields": ["name"],
                        "due_on": dt.date.today(),
                    },
                    None,
                )
                db.session.commit()
                self.referrals.append(referral.id)
            finally:
                context.pop()

        @precondition(lambda self: self.referrals)
        @rule(
            data=st.data(),
            action=st.sampled_from(sorted(ACTIONS)),
            who=st.sampled_from(sorted(users)),
            comment=st.sampled_from(["", "because"]),
            outcome=st.sampled_from([None, "", "placed_home", "bogus"]),
            vital=st.booleans(),
        )
        def act(self, data, action, who, comment, outcome, vital):
            referral_id = data.draw(st.sampled_from(self.referrals))
            referral = db.session.get(Referral, referral_id)
            before, version = referral.status, referral.version_id
            events_before, audits_before = counts(referral_id)
            context = self.as_user(who)
            try:
                try:
                    operations.transition(
                        referral, action, comment=comment, outcome=outcome, vital_interest=vital
                    )
                    db.session.commit()
                    refused = False
                except TransitionRefused:
                    db.session.rollback()
                    refused = True
            finally:
                context.pop()
            db.session.expire_all()
            referral = db.session.get(Referral, referral_id)
            events_after, audits_after = counts(referral_id)
            user = users[who]
            if refused:
                assert (referral.status, referral.version_id) == (before, version)
                assert (events_after, audits_after) == (events_before, audits_before)
            else:
                assert TRANSITIONS[(before, action)] == referral.status
                assert user.role in ACTIONS[action].roles and user.centre_id == referral.centre_id
                assert not (action in REVIEW_ACTIONS and referral.created_by_id == user.id)
                assert events_after == events_before + 1 and audits_after >= audits_before + 1
                if action == "submit":
                    assert referral.consent_id is not None
                if action == "complete":
                    assert referral.outcome == "placed_home"

        @invariant()
        def every_history_follows_the_table(self):
            for referral_id in getattr(self, "referrals", []):
                events = db.session.scalars(
                    sa.select(ReferralEvent)
                    .where(ReferralEvent.referral_id == referral_id)
                    .order_by(ReferralEvent.id)
                ).all()
                state = None
                for event in events:
                    assert event.from_status == state
                    expected = (
                        "draft" if event.action == "create" else TRANSITIONS[(state, event.action)]
                    )
                    assert event.to_status == expected
                    state = expected
                assert db.session.get(Referral, referral_id).status == state in STATES

    Workflow.TestCase.settings = settings(
        max_examples=25,
        stateful_step_count=25,
        deadline=None,
        suppress_health_check=list(HealthCheck),
    )
    Workflow.TestCase().runTest()
