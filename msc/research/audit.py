"""Re-check a research package on its own, from its files alone (what an outsider sees).

Checks: file hashes; every status is F, A or D; suppressed cells carry no value; published values
are multiples of the rounding base and, when not zero, at least the rounded threshold; and no
suppressed cell can be worked out — given the published cells (each known only to within the
rounding: ±2 for base 5) and the table's additive equations, the feasible interval of every
primary cell is at least k wide and no complementary cell is determined exactly.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import zipfile

from msc.research.catalogue import TABLES
from msc.research.disclosure import (
    FREE,
    PRIMARY,
    SECONDARY,
    Cell,
    ProtectedTable,
    audit_intervals,
    equations_of,
    protection_level,
    round_to_base,
    sort_code,
)


def audit_package(data: bytes) -> list[str]:
    problems = []
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        descriptor = json.loads(archive.read("datapackage.json"))
        method = descriptor["msc"]["method"]
        k, base = int(method["threshold_k"]), int(method["rounding_base"])
        # Each national count is rounded to the nearest multiple of the base, at most base // 2
        # away; a regional count sums one per component. Derived, not read: a package that
        # stated a wider slack would pass any interval check.
        components = len(descriptor["msc"].get("components") or ()) or 1
        slack = components * (base // 2)
        regional = "components" in descriptor["msc"]
        if "signature.json" in archive.namelist():
            problems += _check_signature(archive)
        else:  # every package this software releases is signed
            problems.append("signature.json: missing, the package is not signed")
        for path, digest in descriptor["msc"].get("other_files", {}).items():
            if digest != "sha256:" + hashlib.sha256(archive.read(path)).hexdigest():
                problems.append(f"{path}: hash does not match")
        if k < 5:
            problems.append(f"threshold k={k} is below the minimum of 5")
        for resource in descriptor["resources"]:
            raw = archive.read(resource["path"])
            if resource.get("hash") != "sha256:" + hashlib.sha256(raw).hexdigest():
                problems.append(f"{resource['path']}: hash does not match")
            if resource["name"] == "codebook":
                continue
            problems += _audit_table(resource["name"], raw, k, base, slack, regional)
    return problems


def _check_signature(archive: zipfile.ZipFile) -> list[str]:
    """The signature matches the descriptor under the key it names (trust: the merge's concern)."""
    from msc.research.signing import verify

    document = json.loads(archive.read("signature.json"))
    if not isinstance(document, dict):
        return ["signature.json: not a signature document"]
    own = {str(document.get("key_id", "")): document.get("public_key", "")}
    if verify(archive.read("datapackage.json"), archive.read("signature.json"), own) is None:
        return ["signature.json: the signature does not match datapackage.json"]
    return []


def _audit_table(
    table_id: str,
    raw: bytes,
    k: int,
    base: int,
    slack: float | None = None,
    regional: bool = False,
) -> list[str]:
    spec = TABLES.get(table_id)
    if spec is None:
        return [f"{table_id}: not a table of this specification"]
    problems = []
    ids = [d.id for d in spec.dimensions]
    cells, published = {}, {}
    for line, row in enumerate(csv.DictReader(io.StringIO(raw.decode("utf-8"))), start=2):
        key = tuple(row[i] for i in ids)
        status, value = row["CONF_STATUS"], row["OBS_VALUE"]
        if status not in {FREE, PRIMARY, SECONDARY}:
            problems.append(f"{table_id} line {line}: unknown status {status!r}")
            continue
        if status != FREE:
            if value != "":
                problems.append(f"{table_id} line {line}: a suppressed cell carries a value")
            cells[key] = Cell(key, status=status)
            continue
        number = int(value)
        if number % base:
            problems.append(f"{table_id} line {line}: {number} is not a multiple of {base}")
        if 0 < number < round_to_base(k, base):
            problems.append(f"{table_id} line {line}: published {number} is below the threshold")
        cells[key] = Cell(key, units=number, status=FREE, value=number)
        published[key] = number
    categories = []
    for j, _id in enumerate(ids):
        codes = {key[j] for key in cells if key[j] != "_T"}
        categories.append(sorted(codes, key=sort_code))
    table = ProtectedTable(
        spec,
        categories,
        cells,
        equations_of(spec.dimensions, categories),
        k,
        base,
        _national_release(spec, cells),
        regional=regional,
    )
    missing = [key for equation in table.equations for key in equation if key not in cells]
    if missing:
        return problems + [f"{table_id}: {len(missing)} cells of the table's equations are missing"]
    if slack is None:  # a national package: each count within base // 2 of the true one
        slack = base // 2
    level = protection_level(k)
    for key in audit_intervals(table, level, published, slack):
        problems.append(f"{table_id}: suppressed cell {key} can be narrowed below {level}")
    for key in audit_intervals(table, level, published, slack, secondary=True):
        problems.append(f"{table_id}: complementary cell {key} can be computed exactly")
    return problems


def _national_release(spec, cells: dict) -> frozenset:
    """In a table by region, the cells by country: the national release it is linked to, out
    already (`package.protect_by_area`); none in a table by country."""
    j = spec.area_position()
    if j is None or not any("-" in key[j] for key in cells):
        return frozenset()
    return frozenset(key for key in cells if "-" not in key[j])
