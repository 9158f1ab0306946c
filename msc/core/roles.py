"""The four kinds of user."""

from __future__ import annotations

import enum

from flask_babel import lazy_gettext as _l


class Role(enum.StrEnum):
    COUNSELLOR = "counsellor"
    SUPERVISOR = "supervisor"
    RESEARCHER = "researcher"
    ADMIN = "admin"

    @property
    def title(self):
        return ROLE_TITLES[self]

    @property
    def needs_centre(self) -> bool:
        return self in CENTRE_ROLES


ROLE_TITLES = {
    Role.COUNSELLOR: _l("Counsellor"),
    Role.SUPERVISOR: _l("Supervisor"),
    Role.RESEARCHER: _l("Researcher"),
    Role.ADMIN: _l("Administrator"),
}

# Counsellors and supervisors work inside one centre; their data access is scoped to it.
CENTRE_ROLES = frozenset({Role.COUNSELLOR, Role.SUPERVISOR})
