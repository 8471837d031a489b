"""Every test runs with its own Overnight home, never the user's, and Qt offscreen."""

import os

import pytest

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

pytest_plugins = ["tests.notify_server"]  # the notify_server fixture


@pytest.fixture(autouse=True)
def _private_home(tmp_path, monkeypatch):
    monkeypatch.setenv("OVERNIGHT_HOME", str(tmp_path / "overnight-home"))
