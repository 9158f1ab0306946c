"""Countries (ISO 3166-1 alpha-2), their regions, and the Migrant Service Centres."""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from msc.core.db import TimestampMixin, VersionedMixin, db


class Country(db.Model):
    """A country by its ISO 3166-1 alpha-2 code; labels come from pycountry at display time."""

    __tablename__ = "country"

    code: Mapped[str] = mapped_column(sa.String(2), primary_key=True)
    alpha3: Mapped[str | None] = mapped_column(sa.String(3))


class Region(TimestampMixin, VersionedMixin, db.Model):
    """A sub-national unit of a country (ISO 3166-2 where one exists)."""

    __tablename__ = "region"

    id: Mapped[int] = mapped_column(primary_key=True)
    country_code: Mapped[str] = mapped_column(sa.ForeignKey("country.code"), index=True)
    code: Mapped[str] = mapped_column(sa.String(16))
    name: Mapped[str] = mapped_column(sa.String(120))

    __table_args__ = (sa.UniqueConstraint("country_code", "code"),)

    @staticmethod
    def area_code(country_code: str, code: str) -> str:
        """The code as research tables write it (REF_AREA): ISO 3166-2, the country's prefix
        added where the code lacks it (`research.catalogue._area` says the same in SQL)."""
        return code if code.startswith(f"{country_code}-") else f"{country_code}-{code}"


class Centre(TimestampMixin, VersionedMixin, db.Model):
    """A Migrant Service Centre inside a National Employment Service office."""

    __tablename__ = "centre"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(sa.String(8))
    name: Mapped[str] = mapped_column(sa.String(120))
    country_code: Mapped[str] = mapped_column(sa.ForeignKey("country.code"), index=True)
    region_id: Mapped[int] = mapped_column(sa.ForeignKey("region.id"), index=True)
    host_office: Mapped[str] = mapped_column(sa.String(200))
    timezone: Mapped[str] = mapped_column(sa.String(64))
    active: Mapped[bool] = mapped_column(sa.Boolean, server_default=sa.true(), default=True)

    region: Mapped[Region] = relationship(lazy="raise")

    __table_args__ = (sa.UniqueConstraint("country_code", "code"),)
