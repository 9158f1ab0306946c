"""The same tables as XLSX and as CSV with an HXL hashtag row, for spreadsheets and humanitarian
data platforms. Text that a spreadsheet would read as a formula is escaped (OWASP CSV injection)."""

from __future__ import annotations

import csv
import io
import re
import zipfile
from datetime import datetime

from openpyxl import Workbook, load_workbook

FORMULA_START = ("=", "+", "-", "@", "\t", "\r")

# HXL 1.1 hashtags and attributes for our columns (https://hxlstandard.org/standard/1-1final/).
HXL = {
    "TIME_PERIOD": "#date+period",
    "REF_AREA": "#country+code",
    "DESTINATION": "#country+code+destination",
    "SEX": "#category+sex",
    "AGE": "#category+age",
    "EDUCATION": "#category+education",
    "INTENTION": "#category+intention",
    "CATEGORY": "#category+type",
    "LABOUR_STATUS": "#category+labour",
    "OCCUPATION": "#category+occupation",
    "TOPIC": "#category+topic",
    "OUTCOME": "#status+outcome",
    "OBS_VALUE": "#indicator+num",
    "CONF_STATUS": "#status+conf",
    "FLAG": "#meta+flag",
}


def escape_formula(value):
    if isinstance(value, str) and value.startswith(FORMULA_START):
        return "'" + value
    return value


def hxl_csv(raw_csv: bytes) -> bytes:
    rows = list(csv.reader(io.StringIO(raw_csv.decode("utf-8"))))
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(rows[0])
    writer.writerow([HXL.get(name, "") for name in rows[0]])
    for row in rows[1:]:
        writer.writerow([escape_formula(cell) for cell in row])
    return out.getvalue().encode("utf-8")


def xlsx(tables: dict[str, bytes], codebook: bytes, method: list[tuple[str, str]]) -> bytes:
    """A data sheet per table (the counts as numbers; codes stay text, as in the codebook sheet,
    so that "1" of ISCED or a year looks up there), the codebook and the method; byte-stable."""
    book = Workbook()
    book.remove(book.active)
    for name, raw in tables.items():
        sheet = book.create_sheet(name[:31])
        rows = csv.reader(io.StringIO(raw.decode("utf-8")))
        header = next(rows)
        sheet.append([escape_formula(cell) for cell in header])
        count = header.index("OBS_VALUE")
        for row in rows:
            sheet.append(
                [
                    int(cell) if n == count and cell.isdigit() else escape_formula(cell)
                    for n, cell in enumerate(row)
                ]
            )
    sheet = book.create_sheet("codebook")
    for row in csv.reader(io.StringIO(codebook.decode("utf-8"))):
        sheet.append([escape_formula(cell) for cell in row])
    sheet = book.create_sheet("method")
    for key, value in method:
        sheet.append([escape_formula(key), escape_formula(value)])
    book.properties.created = book.properties.modified = datetime(2020, 1, 1)
    book.properties.creator = "MSC"
    buffer = io.BytesIO()
    book.save(buffer)
    return _stable_zip(buffer.getvalue())


def _stable_zip(data: bytes) -> bytes:
    """Rewrite the XLSX container with fixed entry times, so the same table gives the same bytes."""
    source = zipfile.ZipFile(io.BytesIO(data))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as target:
        for item in source.infolist():
            info = zipfile.ZipInfo(item.filename, (2020, 1, 1, 0, 0, 0))
            info.compress_type = zipfile.ZIP_DEFLATED
            content = source.read(item.filename)
            if item.filename == "docProps/core.xml":  # openpyxl stamps the save time here
                content = re.sub(
                    rb"(<dcterms:(?:created|modified)[^>]*>)[^<]*",
                    rb"\g<1>2020-01-01T00:00:00Z",
                    content,
                )
            target.writestr(info, content)
    return out.getvalue()


def read_xlsx(data: bytes) -> dict:
    book = load_workbook(io.BytesIO(data), read_only=True)
    return {
        sheet.title: [list(row) for row in sheet.iter_rows(values_only=True)]
        for sheet in book.worksheets
    }
