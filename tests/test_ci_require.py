"""tests/conftest.py `require`: a missing optional piece skips locally and fails under CI=true."""

import conftest
import pytest


def test_require_skips_locally_and_fails_under_ci(monkeypatch):
    conftest.require(True, "present")  # nothing happens
    monkeypatch.setattr(conftest, "IN_CI", False)
    with pytest.raises(pytest.skip.Exception, match="needs x"):
        conftest.require(False, "needs x")
    monkeypatch.setattr(conftest, "IN_CI", True)
    with pytest.raises(pytest.fail.Exception, match="CI=true but needs x"):
        conftest.require(False, "needs x")


def test_require_module_imports_or_defers_to_require(monkeypatch):
    assert conftest.require_module("json", "needs json").dumps([1]) == "[1]"
    monkeypatch.setattr(conftest, "IN_CI", True)
    with pytest.raises(pytest.fail.Exception, match="No module named 'no_such_module_ki'"):
        conftest.require_module("no_such_module_ki", "needs it")
