"""Fixtures of the widget tests: the detail pane, shown, on its own transcript model."""

import pytest

from app.gui.transcript_model import TranscriptModel
from app.gui.widgets.job_detail import JobDetail


@pytest.fixture
def detail(qtbot):
    detail = JobDetail(TranscriptModel())
    qtbot.addWidget(detail)
    detail.show()
    return detail
