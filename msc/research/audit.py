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
    round_to_base,
    sort_code,
)


def audit_package(data: bytes) -> list[str]:
    problems = []
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        descriptor = json.loads(archive.read("datapackage.json"))
        method = descriptor["msc"]["method"]
        k, base = int(method["threshold_k"]), int(method["rounding_base"])
        slack = float(method.get("rounding_slack", (base - 1) / 2))
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
            problems += _audit_table(resource["name"], raw, k, base, slack)
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
    table_id: str, raw: bytes, k: int, base: int, slack: float | None = None
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
        spec, categories, cells, equations_of(spec.dimensions, categories), k, base
    )
    missing = [key for equation in table.equations for key in equation if key not in cells]
    if missing:
        return problems + [f"{table_id}: {len(missing)} cells of the table's equations are missing"]
    if slack is None:  # conventional rounding: the true count is within ±2 of a value for base 5
        slack = (base - 1) / 2
    for key in audit_intervals(table, k, published, slack):
        problems.append(f"{table_id}: suppressed cell {key} can be narrowed below {k}")
    # Complementary cells: not determined exactly.
    secondary_as_primary = ProtectedTable(
        spec,
        categories,
        {
            key: Cell(
                key, c.units, status=PRIMARY if c.status == SECONDARY else c.status, value=c.value
            )
            for key, c in cells.items()
        },
        table.equations,
        k,
        base,
    )
    for key in audit_intervals(secondary_as_primary, 1e-6, published, slack):
        if cells[key].status == SECONDARY:
            problems.append(f"{table_id}: complementary cell {key} can be computed exactly")
    return problems
