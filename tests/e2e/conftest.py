"""The end-to-end tier: the real Claude Code CLI against the fake Anthropic API.

Under ./scripts/test (which installs the pinned CLI and sets OVERNIGHT_TEST_CLAUDE) a missing
CLI is a failure; run alone, without it, these tests are skipped with the reason."""

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.fakes.anthropic import FakeAnthropic
from tests.fakes.cli import claude_binary


def pytest_collection_modifyitems(items):
    here = Path(__file__).parent
    for item in items:
        if here in Path(item.fspath).parents:
            item.add_marker(pytest.mark.e2e)


@pytest.fixture(scope="session")
def claude() -> Path:
    try:
        return claude_binary()
    except FileNotFoundError as exc:
        if os.environ.get("OVERNIGHT_TEST_CLAUDE"):
            pytest.fail(str(exc))
        pytest.skip(str(exc))


@pytest.fixture
def fake() -> Iterator[FakeAnthropic]:
    with FakeAnthropic() as server:
        yield server
