import os

import pytest

pytest_plugins = [
    "tests.fixtures.app",
    "tests.fixtures.factories",
    "tests.fixtures.browser",
]


def pytest_collection_modifyitems(config, items):
    """Tests of PostgreSQL-only features run in the PostgreSQL pass (CI runs both); on SQLite
    they are deselected, not skipped."""
    if os.environ.get("MSC_TEST_DATABASE_URL"):
        return
    postgresql_only = [item for item in items if item.get_closest_marker("postgresql")]
    if postgresql_only:
        config.hook.pytest_deselected(items=postgresql_only)
        items[:] = [item for item in items if item not in postgresql_only]


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    """Under CI=true no test may be skipped: a skip becomes a failure that says why."""
    outcome = yield
    report = outcome.get_result()
    if os.environ.get("CI", "").lower() == "true" and report.skipped:
        report.outcome = "failed"
        report.longrepr = f"skipped under CI=true, which is a failure: {report.longrepr}"
