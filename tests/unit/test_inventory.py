"""Every column of the schema is classified once, and the classification agrees with the code."""

import msc.models  # noqa: F401  every model on the metadata
from msc.core.crypto import EncryptedText, encrypted_columns
from msc.core.db import db
from msc.protection import inventory


def test_every_column_is_classified_and_nothing_else_is_listed():
    unclassified, unknown = [], []
    for table in db.metadata.sorted_tables:
        assert table.name in inventory.INVENTORY, f"table {table.name} is not in the inventory"
        names = {column.name for column in table.columns}
        for name in names:
            try:
                inventory.classify(table.name, name)
            except KeyError:
                unclassified.append(f"{table.name}.{name}")
        unknown += [
            f"{table.name}.{n}" for n in inventory.INVENTORY[table.name].columns if n not in names
        ]
    assert not unclassified, (
        f"classify these columns in msc/protection/inventory.py: {unclassified}"
    )
    assert not unknown, f"the inventory lists columns the schema does not have: {unknown}"
    assert set(inventory.INVENTORY) == {t.name for t in db.metadata.sorted_tables}


def test_restricted_columns_of_cases_are_encrypted_and_encrypted_ones_are_restricted():
    encrypted = {f"{c.table.name}.{c.name}" for c in encrypted_columns(db.metadata)}
    restricted_case_columns = {
        f"{table}.{name}"
        for table, entry in inventory.INVENTORY.items()
        if entry.retention == "case"
        for name in inventory.columns_of_class(table, inventory.RESTRICTED)
    }
    assert restricted_case_columns == {
        "migrant.phone",
        "migrant.email",
        "migrant.protection_indicators",
        "migrant.notes",
        "visit.notes",
    }
    assert restricted_case_columns <= encrypted
    for name in encrypted:
        table, column = name.split(".")
        assert inventory.classify(table, column)[0] == inventory.RESTRICTED, name
    for column in encrypted_columns(db.metadata):
        assert isinstance(column.type, EncryptedText)
        assert column.type.context == f"{column.table.name}.{column.name}"


def test_anonymisation_clears_every_identifying_and_restricted_column_of_a_profile():
    plan = inventory.anonymisation_plan(db.metadata.tables["migrant"])
    for cls in (inventory.IDENTIFYING, inventory.RESTRICTED):
        for name in inventory.columns_of_class("migrant", cls):
            assert plan.get(name) == inventory.CLEAR, name
    assert "birth_year" not in plan and "sex" not in plan  # research stays countable
