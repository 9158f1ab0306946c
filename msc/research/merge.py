"""The regional merge: national packages in, one regional package out, without any database.

Each national package must carry a valid signature by a trusted instance key, and all must share
the specification, the code-list versions, the period (and its granularity) and the geography:
cells of different periods or areas do not add up. A regional cell is the sum of the national
cells and is published only when every national component was published; otherwise it is marked
D. Each published national count is rounded, so the merged package records the wider rounding
slack.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import zipfile
from collections import defaultdict

from flask import current_app
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

from msc.research.catalogue import OTHER
from msc.research.disclosure import sort_code
from msc.research.package import UNREADABLE, add_other_formats, csv_bytes, finish_package
from msc.research.signing import public_key_entry, verify


class MergeRefused(Exception):
    pass


# What every package must share with the first, and what the researcher is told when one does not.
MUST_AGREE = {
    "specification": _l("The packages follow different specifications; a merge needs the same."),
    "code_lists": _l("The packages use different code-list versions; a merge needs the same."),
    "period": _l(
        "The packages cover different months, or count by different periods; a merge needs the "
        "same."
    ),
    "geography": _l(
        "The packages count by different areas (countries or regions); a merge needs the same."
    ),
}


def _read_csv(raw: bytes) -> list[dict]:
    return list(csv.DictReader(io.StringIO(raw.decode("utf-8"))))


# A national package of every table by month unpacks to 1.5 MB at 100,000 profiles; a zip that
# claims far more is no package of ours (a zip bomb) and is refused before anything is unpacked.
MAX_UNPACKED_BYTES = 100 * 1024 * 1024


def configured_trusted_keys() -> dict[str, str]:
    """The national systems' keys this hub trusts: MSC_RESEARCH_TRUSTED_KEYS, JSON of
    {"key id": "base64 public key"}."""
    return dict(json.loads(current_app.config["RESEARCH_TRUSTED_KEYS"] or "{}"))


def merge_packages(packages: list[bytes], trusted: dict[str, str], key, hub_id: str) -> bytes:
    if len(packages) < 2:
        raise MergeRefused(_("Give at least two national packages."))
    opened, signed_by = [], {}
    for number, data in enumerate(packages, start=1):
        archive, descriptor, signer = _open_signed(number, data, trusted)
        if "components" in descriptor["msc"]:  # its rounding and parts would be counted wrong
            raise MergeRefused(
                _(
                    "Package %(number)d is a regional package; a merge takes national packages.",
                    number=number,
                )
            )
        if signer in signed_by:  # the same package twice, or two of one country: counted twice
            raise MergeRefused(
                _(
                    "Packages %(first)d and %(second)d come from the same instance; a merge "
                    "sums each country once.",
                    first=signed_by[signer],
                    second=number,
                )
            )
        signed_by[signer] = number
        opened.append((archive, descriptor, signer, hashlib.sha256(data).hexdigest()))
    # The same packages in any order make the same regional package, byte for byte.
    opened.sort(key=lambda package: (str(package[1]["msc"].get("instance")), package[2]))
    first = opened[0][1]
    for _archive, descriptor, _signer, _digest in opened[1:]:
        for field, refusal in MUST_AGREE.items():
            if _stated(descriptor, field) != _stated(first, field):
                raise MergeRefused(str(refusal))
        if descriptor["msc"]["method"]["rounding_base"] != first["msc"]["method"]["rounding_base"]:
            raise MergeRefused(_("The packages round to different bases; a merge needs the same."))
        if [r["name"] for r in descriptor["resources"]] != [r["name"] for r in first["resources"]]:
            raise MergeRefused(_("The packages hold different tables; a merge needs the same."))
    files, resources, codes = {}, [], {}
    # The codebook last: it keeps only the codes the merged tables still use.
    for resource in sorted(first["resources"], key=lambda r: r["name"] == "codebook"):
        name, path = resource["name"], resource["path"]
        tables = [_read_csv(archive.read(path)) for archive, *_rest in opened]
        if name == "codebook":
            files[path] = _merge_codebook(tables, codes)
        else:
            files[path], enums = _merge_table(resource, tables)
            for field in resource["schema"]["fields"]:
                if field["name"] in enums:
                    field["constraints"]["enum"] = enums[field["name"]]
            codes.update({(name, dimension): set(used) for dimension, used in enums.items()})
        resource = dict(resource, hash="sha256:" + hashlib.sha256(files[path]).hexdigest())
        resources.append(resource)
    descriptor = json.loads(json.dumps(first))
    descriptor["resources"] = resources
    method = descriptor["msc"]["method"]
    method["threshold_k"] = max(d["msc"]["method"]["threshold_k"] for _a, d, _s, _h in opened)
    method["rounding_slack"] = sum(d["msc"]["method"]["rounding_slack"] for _a, d, _s, _h in opened)
    method["merge"] = (
        "sum of national cells; published only when every national cell was published, else D;"
        " a code that a national package groups as other (_O) is grouped as other in all"
    )
    descriptor["msc"]["instance"] = hub_id
    descriptor["msc"]["components"] = [
        {"instance": d["msc"]["instance"], "signing_key_id": signer, "sha256": digest}
        for _a, d, signer, digest in opened
    ]
    add_other_formats(files, descriptor, [r["name"] for r in resources if r["name"] != "codebook"])
    descriptor["msc"]["signing_key_id"] = public_key_entry(key)[0]
    return finish_package(files, descriptor, key)


def _open_signed(number: int, data: bytes, trusted: dict[str, str]):
    """The package's archive, descriptor and signing key id, once its signature is trusted and
    every file it lists is the one signed (the signature covers the descriptor, which holds
    each file's SHA-256)."""
    not_a_package = MergeRefused(
        _("Package %(number)d is not a signed research package.", number=number)
    )
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
        if sum(info.file_size for info in archive.infolist()) > MAX_UNPACKED_BYTES:
            raise not_a_package
        descriptor_bytes = archive.read("datapackage.json")
        signer = verify(descriptor_bytes, archive.read("signature.json"), trusted)
        if signer is None:  # before anything in it is parsed
            raise MergeRefused(
                _("Package %(number)d is not signed by a trusted instance key.", number=number)
            )
        descriptor = json.loads(descriptor_bytes)
        for resource in descriptor["resources"]:
            digest = "sha256:" + hashlib.sha256(archive.read(resource["path"])).hexdigest()
            if digest != resource["hash"]:
                raise MergeRefused(
                    _("Package %(number)d was changed after it was signed.", number=number)
                )
    except UNREADABLE:
        raise not_a_package from None
    return archive, descriptor, signer


def release_record(merged: bytes) -> tuple[list[str], dict]:
    """The tables and parameters the release ledger keeps of a merged package, read from it:
    its period, its areas and the national packages it sums."""
    with zipfile.ZipFile(io.BytesIO(merged)) as archive:
        descriptor = json.loads(archive.read("datapackage.json"))
    stated = descriptor["msc"]
    tables = [r["name"] for r in descriptor["resources"] if r["name"] != "codebook"]
    return tables, {
        "from": stated["period"]["from"],
        "to": stated["period"]["to"],
        "period": stated["period"]["granularity"],
        "locale": stated["locale"],
        "geography": _stated(descriptor, "geography"),
        "components": [
            {"instance": c["instance"], "sha256": c["sha256"]} for c in stated["components"]
        ],
    }


def _stated(descriptor: dict, field: str):
    """What a package says of `field`; packages made before there was a choice of areas were by
    country."""
    return descriptor["msc"].get(field, "country" if field == "geography" else None)


def _merge_table(resource: dict, tables: list[list[dict]]) -> tuple[bytes, dict]:
    dimensions = [
        f["name"]
        for f in resource["schema"]["fields"]
        if f["name"] not in {"OBS_VALUE", "CONF_STATUS", "FLAG"}
    ]
    grouped = _grouped_as_other(dimensions, tables)
    parts: dict[tuple, list[dict]] = defaultdict(list)  # a regional cell's national cells
    for table in tables:
        for row in table:
            key = tuple(OTHER if row[d] in grouped[j] else row[d] for j, d in enumerate(dimensions))
            parts[key].append(row)
    rows = []
    for key in sorted(parts, key=lambda k: tuple(sort_code(c) for c in k)):
        published = all(p["CONF_STATUS"] == "F" for p in parts[key])
        row = dict(zip(dimensions, key, strict=True))
        row.update(
            OBS_VALUE=sum(int(p["OBS_VALUE"]) for p in parts[key]) if published else None,
            CONF_STATUS="F" if published else "D",
            FLAG="G" if any(p["FLAG"] == "G" for p in parts[key]) else "",
        )
        rows.append(row)
    enums = {d: sorted({k[j] for k in parts}, key=sort_code) for j, d in enumerate(dimensions)}
    return csv_bytes(rows, [*dimensions, "OBS_VALUE", "CONF_STATUS", "FLAG"]), enums


def _grouped_as_other(dimensions: list[str], tables: list[list[dict]]) -> list[set[str]]:
    """For each dimension, the codes to group as other (_O) in the regional table. A package
    that groups rare codes as other (destinations named by fewer than k persons) hides which
    ones it holds there; a code it does not name may have up to k-1 persons inside its _O. Summed
    as a zero, that code's regional count would be short. A code missing from a package that
    has no _O is a true zero."""
    grouped = []
    for dimension in dimensions:
        named = [{row[dimension] for row in table} for table in tables]
        everywhere = set.intersection(*named)
        grouped.append(
            {
                code
                for codes in named
                for code in codes - everywhere
                if any(OTHER in other and code not in other for other in named)
            }
        )
    return grouped


def _merge_codebook(tables: list[list[dict]], codes: dict[tuple, set]) -> bytes:
    """One label per code the merged tables use (the first package's, in the merge's order)."""
    seen, rows = set(), []
    for table in tables:
        for row in table:
            key = (row["table"], row["dimension"], row["code"])
            if key not in seen and row["code"] in codes.get(key[:2], ()):
                seen.add(key)
                rows.append(row)
    rows.sort(key=lambda r: (r["table"], r["dimension"], r["code"]))
    return csv_bytes(rows, ["table", "dimension", "code", "label"])
