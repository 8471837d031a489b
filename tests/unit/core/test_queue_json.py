"""queue.json: the queue round-trips through its document, and a document that cannot be used is an error."""

import json

import pytest
from hypothesis import given, settings

from app.core import queue_json
from app.core.queue_json import QueueFileError

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
