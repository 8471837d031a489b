"""queue.json: the queue round-trips through its document, and a document that cannot be used is an error."""

import json
from dataclasses import replace

import pytest
from hypothesis import given, settings

from app.core import queue_json
from app.core.outcome import OutcomeKind, StopReason
from app.core.prd import PrdError, PrdErrorKind
from app.core.queue import Investigation, InvestigationStatus, LastRun, QueueState, Status
from app.core.queue_json import QueueFileError

from .factories import T0, job
from .strategies import states


@settings(max_examples=60, deadline=None)
@given(states())
def test_queue_json_round_trips(state):
    document = json.loads(json.dumps(queue_json.state_to_json(state)))
    assert document["schemaVersion"] == queue_json.SCHEMA_VERSION
    assert queue_json.state_from_json(document) == state


def test_a_newer_schema_version_is_an_error_not_a_guess():
    with pytest.raises(QueueFileError, match="newer Overnight"):
        queue_json.state_from_json({"schemaVersion": queue_json.SCHEMA_VERSION + 1, "jobs": []})


@pytest.mark.parametrize(
    "document",
    [[], "x", {}, {"schemaVersion": 1, "jobs": [{"slug": "a"}]}, {"schemaVersion": 1, "jobs": 5}],
)
def test_a_damaged_queue_document_is_an_error_not_an_empty_queue(document):
    with pytest.raises(QueueFileError):
        queue_json.state_from_json(document)


def test_stop_reasons_outcomes_and_error_kinds_are_written_as_their_plain_names():
    running = job("01-a", Status.RUNNING)
    running = replace(running, current=replace(running.current, stopping=StopReason.CANCEL))
    finished = job("02-b", Status.FAILED, last=LastRun("r", OutcomeKind.RATE_LIMITED, 1, T0, 5, None, None, "limit"))
    invalid = job("03-c", Status.INVALID, error=PrdError("03-c.md", None, "x", "y", PrdErrorKind.DEPENDENCY))
    written = [json.loads(json.dumps(queue_json.job_to_json(j))) for j in (running, finished, invalid)]
    assert written[0]["current"]["stopping"] == "cancel"
    assert written[1]["last"]["outcome"] == "rate_limited"
    assert written[2]["error"]["kind"] == "dependency"
    assert [queue_json.job_from_json(d) for d in written] == [running, finished, invalid]


def test_a_queue_json_from_before_held_fix_plans_reads_with_no_plan_path():
    failed = job("01-a", Status.FAILED, investigation=Investigation(InvestigationStatus.HELD, "01-fix-a", "run-1",
                                                                      plan_path="/home/fix-plans/01-fix-a.md"))
    document = json.loads(json.dumps(queue_json.state_to_json(QueueState(jobs={"01-a": failed}))))
    assert document["jobs"][0]["investigation"]["planPath"] == "/home/fix-plans/01-fix-a.md"
    del document["jobs"][0]["investigation"]["planPath"]
    assert queue_json.state_from_json(document).jobs["01-a"].investigation.plan_path is None
