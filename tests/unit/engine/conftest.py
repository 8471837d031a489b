"""The processes an engine test starts carry a run marker of their own; none outlives its test."""

import contextlib
import os
import signal
import uuid
from collections.abc import Iterator

import pytest

from tests.support import processes_with_marker


@pytest.fixture
def marker() -> Iterator[str]:
    value = f"{uuid.uuid4().hex}/01-test"
    yield value
    for pid in processes_with_marker(value):
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
