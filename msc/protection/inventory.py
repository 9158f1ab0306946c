"""The data inventory: every column of the schema classified, with its purpose and retention.

This is the one place that says what each column is (GDPR art. 30 record of processing; IOM Data
Protection Principles 2 and 9). The rules read it: anonymisation clears what it marks identifying
or restricted, restricted columns must be encrypted, research never reads them, the subject-access
export lists the classification. A test fails when a column of the schema is missing here.
"""

from __future__ import annotations

from dataclasses import dataclass

from flask_babel import lazy_gettext as _l

IDENTIFYING = "identifying"  # names a person directly or is a contact or unique key
SENSITIVE = "sensitive"  # reveals intentions or circumstances; needs care in every output
RESTRICTED = "restricted"  # only the case's counsellor and the centre's supervisors; encrypted
OPERATIONAL = "operational"  # runs the service: ids, timestamps, statuses, staff
STATISTICAL = "statistical"  # coded facts that feed anonymised research tables

CLASS_LABELS = {
    IDENTIFYING: _l("Identifying"),
    SENSITIVE: _l("Sensitive"),
    RESTRICTED: _l("Restricted"),
    OPERATIONAL: _l("Operational"),
    STATISTICAL: _l("Statistical"),
}

# What anonymisation does to a column of a person's record.
KEEP = "keep"
CLEAR = "clear"  # set to NULL (or the empty value where the column is required)
COARSEN = "coarsen"  # replaced by a coarser value (see retention.COARSENERS)

CASE_RETENTION = _l(
    "Anonymised after %(years)s years without activity or on an erasure request, "
    "unless the case is under legal hold"
)
RETENTION = {
    "case": CASE_RETENTION,
    "account": _l("Kept while the account exists; accounts are deactivated, never deleted"),
    "audit": _l("Kept; append-only, holds object ids and field names, never values"),
    "reference": _l("Kept while in use; holds no personal data"),
    "release": _l("Kept as the ledger of research releases"),
    "aggregate": _l("Kept; anonymous counts only"),
    "cache": _l("Replaced when older than the research cache period; published counts only"),
    "package": _l("Deleted after the research package period; published counts only"),
}

COMMON = {
    "id": (OPERATIONAL, KEEP),
    "created_at": (OPERATIONAL, KEEP),
    "updated_at": (OPERATIONAL, KEEP),
    "version_id": (OPERATIONAL, KEEP),
    "submission_token": (OPERATIONAL, CLEAR),
}


@dataclass(frozen=True)
class TableEntry:
    purpose: object  # a lazy string
    retention: str  # a key of RETENTION
    columns: dict[str, tuple[str, str]]  # column -> (classification, anonymisation action)


def _t(purpose, retention, /, **columns) -> TableEntry:
    return TableEntry(purpose, retention, columns)


OP, ST, ID, RS, SE = OPERATIONAL, STATISTICAL, IDENTIFYING, RESTRICTED, SENSITIVE

INVENTORY: dict[str, TableEntry] = {
    "migrant": _t(
        _l("Profile of a person counselled: advice, referrals and their follow-up"),
        "case",
        centre_id=(OP, KEEP),
        case_number=(ID, CLEAR),
        counsellor_id=(OP, KEEP),
        given_name=(ID, CLEAR),
        family_name=(ID, CLEAR),
        given_name_latin=(ID, CLEAR),
        family_name_latin=(ID, CLEAR),
        name_key=(ID, CLEAR),
        sex=(ST, KEEP),
        birth_date=(ID, CLEAR),
        birth_year=(ST, KEEP),
        birth_country=(ST, KEEP),
        residence_country=(ST, KEEP),
        residence_region_id=(ST, COARSEN),
        phone=(RS, CLEAR),
        phone_index=(ID, CLEAR),
        email=(RS, CLEAR),
        preferred_language=(ST, KEEP),
        education=(ST, KEEP),
        occupation_current=(ST, KEEP),
        occupation_sought=(ST, KEEP),
        labour_status=(ST, KEEP),
        experience_years=(ST, KEEP),
        category=(ST, KEEP),
        intention=(ST, KEEP),
        intention_purpose=(ST, KEEP),
        job_offer=(ST, KEEP),
        heard_from=(ST, KEEP),
        protection_indicators=(RS, CLEAR),
        notes=(RS, CLEAR),
        legal_hold=(OP, KEEP),
        anonymised_at=(OP, KEEP),
        created_by_id=(OP, KEEP),
        merged_into_id=(OP, KEEP),
        merged_at=(OP, KEEP),
    ),
    "migrant_code": _t(
        _l("Citizenships, spoken languages and intended destinations of a profile"),
        "case",
        migrant_id=(OP, KEEP),
        kind=(ST, KEEP),
        code=(ST, KEEP),
    ),
    "stay_abroad": _t(
        _l("Previous stays abroad of a profile"),
        "case",
        migrant_id=(OP, KEEP),
        country_code=(ST, KEEP),
        years=(ST, KEEP),
        purpose=(ST, KEEP),
        regular_status=(SE, KEEP),
    ),
    "consent": _t(
        _l("Legal basis for each purpose of processing, and its withdrawal"),
        "case",
        migrant_id=(OP, KEEP),
        purpose=(OP, KEEP),
        basis=(OP, KEEP),
        given_on=(OP, KEEP),
        informed_language=(OP, KEEP),
        recorded_by_id=(OP, KEEP),
        withdrawn_on=(OP, KEEP),
        withdrawn_by_id=(OP, KEEP),
    ),
    "visit": _t(
        _l("Individual counselling visits"),
        "case",
        migrant_id=(OP, KEEP),
        centre_id=(OP, KEEP),
        counsellor_id=(OP, KEEP),
        occurred_at=(ST, KEEP),
        mode=(ST, KEEP),
        duration_minutes=(ST, KEEP),
        material=(OP, KEEP),
        notes=(RS, CLEAR),
        follow_up_on=(OP, KEEP),
        follow_up_done=(OP, KEEP),
        topic_set=(ST, KEEP),
    ),
    "visit_topic": _t(
        _l("Topics of a visit"),
        "case",
        visit_id=(OP, KEEP),
        topic=(ST, KEEP),
    ),
    "visit_topic_bit": _t(
        _l("Visit topic codes, each with its bit in a visit's topic set"),
        "reference",
        topic=(OP, KEEP),
        bit=(OP, KEEP),
    ),
    "referral": _t(
        _l("Referrals to legal migration channels, local jobs, training and protection services"),
        "case",
        migrant_id=(OP, KEEP),
        centre_id=(OP, KEEP),
        created_by_id=(OP, KEEP),
        category=(ST, KEEP),
        partner_id=(OP, KEEP),
        channel_id=(OP, KEEP),
        local_option_id=(OP, KEEP),
        reason=(SE, CLEAR),
        urgency=(SE, KEEP),
        shared_fields=(OP, KEEP),
        due_on=(OP, KEEP),
        status=(ST, KEEP),
        consent_id=(OP, KEEP),
        outcome=(ST, KEEP),
        needs_review=(OP, KEEP),
        sent_at=(ST, KEEP),
        submitted_at=(OP, KEEP),
        closed_at=(OP, KEEP),
    ),
    "referral_event": _t(
        _l("History of each referral: who moved it to which status"),
        "case",
        referral_id=(OP, KEEP),
        user_id=(OP, KEEP),
        occurred_at=(OP, KEEP),
        action=(OP, KEEP),
        from_status=(OP, KEEP),
        to_status=(OP, KEEP),
        comment=(SE, CLEAR),
    ),
    "group_session": _t(
        _l("Group information sessions"),
        "aggregate",
        centre_id=(OP, KEEP),
        occurred_on=(ST, KEEP),
        title=(OP, KEEP),
        venue=(OP, KEEP),
        created_by_id=(OP, KEEP),
    ),
    "group_session_topic": _t(
        _l("Topics of a group session"),
        "aggregate",
        group_session_id=(OP, KEEP),
        topic=(ST, KEEP),
    ),
    "group_session_facilitator": _t(
        _l("Staff who led a group session"),
        "aggregate",
        group_session_id=(OP, KEEP),
        user_id=(OP, KEEP),
    ),
    "group_session_attendee": _t(
        _l("Registered participants of a group session"),
        "case",
        group_session_id=(OP, KEEP),
        migrant_id=(OP, KEEP),
    ),
    "group_session_headcount": _t(
        _l("Unregistered participants of a group session, counted by sex and age band"),
        "aggregate",
        group_session_id=(OP, KEEP),
        sex=(ST, KEEP),
        age_band=(ST, KEEP),
        count=(ST, KEEP),
    ),
    "walk_in": _t(
        _l("Anonymous walk-in visits: counted, never identified"),
        "aggregate",
        centre_id=(OP, KEEP),
        counsellor_id=(OP, KEEP),
        occurred_at=(ST, KEEP),
        sex=(ST, KEEP),
        age_band=(ST, KEEP),
        citizenship=(ST, KEEP),
    ),
    "walk_in_topic": _t(
        _l("Topics of a walk-in visit"),
        "aggregate",
        walk_in_id=(OP, KEEP),
        topic=(ST, KEEP),
    ),
    "case_sequence": _t(
        _l("Last case number given per centre and year"),
        "reference",
        centre_id=(OP, KEEP),
        year=(OP, KEEP),
        last_value=(OP, KEEP),
    ),
    "user": _t(
        _l("Staff accounts, their sign-in and second factor"),
        "account",
        username=(ID, KEEP),
        full_name=(ID, KEEP),
        email=(ID, KEEP),
        role=(OP, KEEP),
        centre_id=(OP, KEEP),
        locale=(OP, KEEP),
        active=(OP, KEEP),
        password_hash=(RS, KEEP),
        must_change_password=(OP, KEEP),
        password_changed_at=(OP, KEEP),
        failed_logins=(OP, KEEP),
        first_failed_login_at=(OP, KEEP),
        locked_until=(OP, KEEP),
        session_token=(RS, KEEP),
        last_login_at=(OP, KEEP),
        totp_secret=(RS, KEEP),
        totp_enabled_at=(OP, KEEP),
        totp_last_step=(OP, KEEP),
    ),
    "recovery_code": _t(
        _l("One-time recovery codes of the second factor, stored as hashes"),
        "account",
        user_id=(OP, KEEP),
        code_hash=(RS, KEEP),
        used_at=(OP, KEEP),
    ),
    "audit_event": _t(
        _l("Audit log: who did or read what, when and from where"),
        "audit",
        occurred_at=(OP, KEEP),
        user_id=(OP, KEEP),
        action=(OP, KEEP),
        object_type=(OP, KEEP),
        object_id=(OP, KEEP),
        centre_id=(OP, KEEP),
        ip=(ID, KEEP),
        fields=(OP, KEEP),
    ),
    "research_table_cache": _t(
        _l("Research tables lately computed for previews, after disclosure control"),
        "cache",
        key=(OP, KEEP),
        computed_at=(OP, KEEP),
        rows=(ST, KEEP),
    ),
    "research_release": _t(
        _l("Ledger of research packages released"),
        "release",
        released_at=(OP, KEEP),
        user_id=(OP, KEEP),
        kind=(OP, KEEP),
        tables=(OP, KEEP),
        parameters=(OP, KEEP),
        sha256=(OP, KEEP),
        size=(OP, KEEP),
    ),
    "research_job": _t(
        _l("Research packages prepared for a researcher, after disclosure control and audit"),
        "package",
        user_id=(OP, KEEP),
        requested_at=(OP, KEEP),
        kind=(OP, KEEP),
        tables=(OP, KEEP),
        parameters=(OP, KEEP),
        status=(OP, KEEP),
        started_at=(OP, KEEP),
        finished_at=(OP, KEEP),
        failure=(OP, KEEP),
        data=(ST, KEEP),
        size=(OP, KEEP),
    ),
    "country": _t(
        _l("Countries (ISO 3166)"),
        "reference",
        code=(OP, KEEP),
        alpha3=(OP, KEEP),
    ),
    "region": _t(
        _l("Regions of a country"),
        "reference",
        country_code=(OP, KEEP),
        code=(OP, KEEP),
        name=(OP, KEEP),
    ),
    "centre": _t(
        _l("Migrant Service Centres"),
        "reference",
        code=(OP, KEEP),
        name=(OP, KEEP),
        country_code=(OP, KEEP),
        region_id=(OP, KEEP),
        host_office=(OP, KEEP),
        timezone=(OP, KEEP),
        active=(OP, KEEP),
    ),
    "partner": _t(
        _l("Partner organisations that receive referrals"),
        "reference",
        name=(OP, KEEP),
        kind=(OP, KEEP),
        country_code=(OP, KEEP),
        services=(OP, KEEP),
        countries_served=(OP, KEEP),
        regions_served=(OP, KEEP),
        contact_person=(ID, KEEP),
        phone=(OP, KEEP),
        email=(OP, KEEP),
        address=(OP, KEEP),
        website=(OP, KEEP),
        active=(OP, KEEP),
    ),
    "channel": _t(
        _l("Legal migration channels"),
        "reference",
        destination=(OP, KEEP),
        name=(OP, KEEP),
        kind=(OP, KEEP),
        occupations=(OP, KEEP),
        requirements=(OP, KEEP),
        how_to_apply=(OP, KEEP),
        partner_id=(OP, KEEP),
        valid_from=(OP, KEEP),
        valid_to=(OP, KEEP),
        active=(OP, KEEP),
    ),
    "local_option": _t(
        _l("Local jobs and training offers"),
        "reference",
        country_code=(OP, KEEP),
        external_id=(OP, KEEP),
        kind=(OP, KEEP),
        title=(OP, KEEP),
        provider=(OP, KEEP),
        occupation=(OP, KEEP),
        region_id=(OP, KEEP),
        closing_on=(OP, KEEP),
        description=(OP, KEEP),
        active=(OP, KEEP),
    ),
}


def classify(table: str, column: str) -> tuple[str, str]:
    """(classification, anonymisation action) of a column; KeyError when it is unclassified."""
    entry = INVENTORY[table]
    if column in entry.columns:
        return entry.columns[column]
    return COMMON[column]


def columns_of_class(table: str, classification: str) -> list[str]:
    columns = INVENTORY[table].columns
    return [name for name, (cls, _action) in columns.items() if cls == classification]


def anonymisation_plan(table) -> dict[str, str]:
    """Column -> CLEAR or COARSEN for a person's rows of the sa.Table (KEEP left out)."""
    actions = {column.name: classify(table.name, column.name)[1] for column in table.columns}
    return {name: action for name, action in actions.items() if action != KEEP}
