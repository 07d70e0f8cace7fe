"""Scenario framework hooks and fixtures (see reports/plugin.py)."""

from reports.plugin import (  # noqa: F401  (pytest finds hooks and fixtures by name)
    ev,
    pytest_collection_finish,
    pytest_collectreport,
    pytest_generate_tests,
    pytest_pycollect_makemodule,
    pytest_runtest_call,
    pytest_runtest_makereport,
    pytest_runtest_setup,
)
