"""The end-to-end tier: the real Claude Code CLI against the fake Anthropic API.

Under ./scripts/test (which installs the tested CLI versions and sets OVERNIGHT_TEST_CLAUDE to the
newest, OVERNIGHT_TEST_CLAUDE_OLDEST to the oldest) a missing CLI is a failure; run alone, without
it, these tests are skipped with the reason. Tests that take `agent_cli` (Overnight's journeys) run
once per CLI given, their ids naming its version; the fake's own tests take `claude`, the newest."""

import os
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.test_journeys import Overnight
from tests.fakes.anthropic import FakeAnthropic
from tests.fakes.cli import NEWEST, OLDEST, claude_binary, cli_version


def pytest_collection_modifyitems(items):
    here = Path(__file__).parent
    for item in items:
        if here in Path(item.fspath).parents:
            item.add_marker(pytest.mark.e2e)


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "agent_cli" in metafunc.fixturenames:
        variables = [NEWEST] + ([OLDEST] if os.environ.get(OLDEST) else [])
        metafunc.parametrize("agent_cli", variables, ids=[_version_id(v) for v in variables], indirect=True)


def _version_id(variable: str) -> str:
    try:
        return cli_version(claude_binary(variable))
    except (FileNotFoundError, OSError, subprocess.SubprocessError):
        return variable.removeprefix("OVERNIGHT_TEST_").lower()


def _cli(variable: str) -> Path:
    try:
        return claude_binary(variable)
    except FileNotFoundError as exc:
        if os.environ.get(variable):
            pytest.fail(str(exc))
        pytest.skip(str(exc))


@pytest.fixture(scope="session")
def claude() -> Path:
    return _cli(NEWEST)


@pytest.fixture
def agent_cli(request: pytest.FixtureRequest) -> Path:
    return _cli(request.param)


@pytest.fixture
def fake() -> Iterator[FakeAnthropic]:
    with FakeAnthropic() as server:
        yield server


@pytest.fixture
def overnight(tmp_path: Path, fake: FakeAnthropic, agent_cli: Path) -> Iterator[Callable[..., Overnight]]:
    """Overnight with the real CLI, once for each tested version (the newest and the oldest)."""
    made: list[Overnight] = []

    def make(**config: Any) -> Overnight:
        made.append(Overnight(tmp_path, fake, agent_cli, config))
        return made[-1]

    yield make
    for each in made:
        each.stop()
