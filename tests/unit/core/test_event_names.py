import json
import re

from app.core.event_names import EventName


def test_an_event_is_written_as_its_plain_name():
    assert json.dumps({"event": EventName.JOB_STARTED}) == '{"event": "job.started"}'
    assert f"{EventName.QUEUE_PAUSED} reason=disk" == "queue.paused reason=disk"


def test_every_event_is_an_area_and_what_happened_in_lower_case():
    for name in EventName:
        assert re.fullmatch(r"[a-z]+\.[a-z_]+", name), name


def test_the_name_of_a_member_spells_its_event():
    for name in EventName:
        assert name.name.lower() == name.value.replace(".", "_")
