"""The module-scoped `lab_module` fixture (one bring-up shared by a module's tests)."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.topology("topologies/nat-static.yaml")


def test_module_lab_is_up(lab_module) -> None:
    assert lab_module.h1.ping(lab_module.addr("srv"), count=1).received == 1
    assert "test_plugin_module.py" in str(lab_module.workdir)


def test_module_lab_is_shared_within_a_worker(lab_module, request) -> None:
    assert request.getfixturevalue("lab_module") is lab_module
    assert lab_module.srv.ping("198.51.100.10", count=1).received == 1
