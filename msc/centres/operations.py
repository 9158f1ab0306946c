"""Centre and region operations: change, flush, audit; the view commits."""

from __future__ import annotations

from msc.centres.models import Centre, Region
from msc.core import audit
from msc.core.db import db


def save_region(region: Region | None, **fields) -> Region:
    created = region is None
    region = region or Region()
    for name, value in fields.items():
        setattr(region, name, value)
    db.session.add(region)
    audit.record("region.created" if created else "region.updated", region)
    return region


def save_centre(centre: Centre | None, **fields) -> Centre:
    created = centre is None
    centre = centre or Centre()
    for name, value in fields.items():
        setattr(centre, name, value)
    db.session.add(centre)
    db.session.flush()
    audit.record("centre.created" if created else "centre.updated", centre, centre_id=centre.id)
    return centre
