import asyncio
import concurrent.futures
import contextlib
import json
import socket
import stat
import sys
import threading
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from app.engine.control import MAX_REQUEST_BYTES, ControlServer, EngineNotRunning, request, request_sync


async def echo(message: dict) -> dict:
    if message.get("cmd") == "explode":
        raise RuntimeError("the queue is on fire")
    if message.get("cmd") == "hang":
        await asyncio.sleep(60)
    return {"ok": True, "echo": message}


@contextlib.asynccontextmanager
async def serving(path: Path, handler=echo) -> AsyncIterator[ControlServer]:
    server = ControlServer(path, handler)
    await server.start()
    try:
        yield server
    finally:
        await server.close()


async def exchange(path: Path, data: bytes, answers: int) -> list[dict]:
    """Writes raw bytes on one connection and reads `answers` lines back."""
    reader, writer = await asyncio.open_unix_connection(str(path), limit=4 * MAX_REQUEST_BYTES)
    try:
        writer.write(data)
        await writer.drain()
        return [json.loads(await asyncio.wait_for(reader.readline(), 5)) for _ in range(answers)]
    finally:
        writer.close()


def bound_but_not_listening(path: Path) -> None:
    """What a killed engine leaves behind: a socket file with nobody behind it."""
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as orphan:
        orphan.bind(str(path))


def test_a_request_gets_the_handlers_answer(tmp_path):
    async def scenario():
        async with serving(tmp_path / "engine.sock"):
            return await request(tmp_path / "engine.sock", {"cmd": "pause", "reason": "lunch"})

    assert asyncio.run(scenario()) == {"ok": True, "echo": {"cmd": "pause", "reason": "lunch"}}


def test_one_connection_carries_several_requests_in_order(tmp_path):
    path = tmp_path / "engine.sock"

    async def scenario():
        async with serving(path):
            pipelined = b'{"cmd": "status"}\n{"cmd": "tick"}\n{"cmd": "resume"}\n'
            return await exchange(path, pipelined, 3)

    answers = asyncio.run(scenario())
    assert [answer["echo"]["cmd"] for answer in answers] == ["status", "tick", "resume"]


def test_bad_lines_get_an_error_and_the_connection_keeps_serving(tmp_path):
    path = tmp_path / "engine.sock"

    async def scenario():
        async with serving(path):
            return await exchange(path, b'{"cmd": \n[1, 2]\n\xff\xfe{\n{"cmd": "status"}\n', 4)

    not_json, not_object, not_utf8, good = asyncio.run(scenario())
    assert not_json["ok"] is False and "not JSON" in not_json["error"]
    assert not_object["ok"] is False and "JSON object" in not_object["error"]
    assert not_utf8["ok"] is False
    assert good == {"ok": True, "echo": {"cmd": "status"}}


def test_a_line_over_one_mebibyte_is_refused_and_the_next_one_served(tmp_path):
    path = tmp_path / "engine.sock"
    huge = json.dumps({"cmd": "add", "body": "x" * MAX_REQUEST_BYTES}).encode() + b"\n"

    async def scenario():
        async with serving(path):
            return await exchange(path, huge + b'{"cmd": "status"}\n', 2)

    too_long, good = asyncio.run(scenario())
    assert too_long["ok"] is False and str(MAX_REQUEST_BYTES) in too_long["error"]
    assert good == {"ok": True, "echo": {"cmd": "status"}}


def test_a_line_of_exactly_one_mebibyte_is_served(tmp_path):
    path = tmp_path / "engine.sock"
    prefix, suffix = b'{"cmd": "add", "body": "', b'"}'
    line = prefix + b"x" * (MAX_REQUEST_BYTES - len(prefix) - len(suffix)) + suffix

    async def scenario():
        async with serving(path):
            return await exchange(path, line + b"\n", 1)

    [answer] = asyncio.run(scenario())
    assert answer["ok"] is True and len(answer["echo"]["body"]) > 1_000_000


def test_a_handler_exception_is_answered_and_the_server_keeps_serving(tmp_path):
    path = tmp_path / "engine.sock"

    async def scenario():
        async with serving(path):
            failed = await request(path, {"cmd": "explode"})
            return failed, await request(path, {"cmd": "status"})

    failed, after = asyncio.run(scenario())
    assert failed == {"ok": False, "error": "RuntimeError: the queue is on fire"}
    assert after["ok"] is True


def test_an_answer_that_is_not_json_becomes_an_error(tmp_path):
    path = tmp_path / "engine.sock"

    async def answers_a_set(message: dict) -> dict:
        return {"ok": True, "slugs": {"01-a"}}

    async def scenario():
        async with serving(path, answers_a_set):
            return await request(path, {"cmd": "status"})

    answer = asyncio.run(scenario())
    assert answer["ok"] is False and "JSON" in answer["error"]


def test_the_socket_is_private_and_removed_on_close(tmp_path):
    path = tmp_path / "engine.sock"

    async def scenario():
        async with serving(path):
            return stat.S_IMODE(path.stat().st_mode), stat.S_ISSOCK(path.stat().st_mode)

    assert asyncio.run(scenario()) == (0o600, True)
    assert not path.exists()


def test_a_dead_engines_socket_file_is_replaced(tmp_path):
    path = tmp_path / "engine.sock"
    bound_but_not_listening(path)

    async def scenario():
        async with serving(path):
            return await request(path, {"cmd": "status"})

    assert asyncio.run(scenario())["ok"] is True


def test_a_file_that_is_not_a_socket_is_left_alone(tmp_path):
    path = tmp_path / "engine.sock"
    path.write_text("notes")

    with pytest.raises(FileExistsError, match="not a socket"):
        asyncio.run(ControlServer(path, echo).start())
    assert path.read_text() == "notes"


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="long socket paths go through /proc/self/fd")
def test_a_socket_path_longer_than_sun_path_works(tmp_path):
    folder = tmp_path / ("a-rather-long-home-folder-name-" * 4) / "overnight"
    folder.mkdir(parents=True)
    path = folder / "engine.sock"
    assert len(str(path)) > 108

    async def scenario():
        async with serving(path):
            mode = stat.S_IMODE(path.stat().st_mode)
            async_answer = await request(path, {"cmd": "status"})
            return mode, (async_answer, await asyncio.to_thread(request_sync, path, {"cmd": "tick"}))

    mode, (async_answer, sync_answer) = asyncio.run(scenario())
    assert mode == 0o600
    assert async_answer["echo"] == {"cmd": "status"} and sync_answer["echo"] == {"cmd": "tick"}
    assert not path.exists()


def test_the_sync_client_round_trips(tmp_path):
    path = tmp_path / "engine.sock"

    async def scenario():
        async with serving(path):
            return await asyncio.to_thread(request_sync, path, {"cmd": "cancel", "slug": "07-add-login"})

    assert asyncio.run(scenario()) == {"ok": True, "echo": {"cmd": "cancel", "slug": "07-add-login"}}


def test_no_socket_file_means_the_engine_is_not_running(tmp_path):
    path = tmp_path / "engine.sock"

    with pytest.raises(EngineNotRunning, match=r"engine\.sock"):
        asyncio.run(request(path, {"cmd": "status"}))
    with pytest.raises(EngineNotRunning):
        request_sync(path, {"cmd": "status"})
    with pytest.raises(EngineNotRunning):
        request_sync(tmp_path / ("missing-folder-" * 8) / "engine.sock", {"cmd": "status"})


def test_a_socket_file_nobody_listens_on_means_the_engine_is_not_running(tmp_path):
    path = tmp_path / "engine.sock"
    bound_but_not_listening(path)

    with pytest.raises(EngineNotRunning):
        asyncio.run(request(path, {"cmd": "status"}))
    with pytest.raises(EngineNotRunning):
        request_sync(path, {"cmd": "status"})


def test_a_silent_engine_times_out_instead_of_hanging(tmp_path):
    path = tmp_path / "engine.sock"

    async def scenario():
        async with serving(path):
            with pytest.raises(TimeoutError):
                await request(path, {"cmd": "hang"}, timeout=0.2)
            with pytest.raises(TimeoutError):
                await asyncio.to_thread(request_sync, path, {"cmd": "hang"}, 0.2)

    asyncio.run(asyncio.wait_for(scenario(), 10))


def test_close_ends_idle_connections_and_requests_in_progress(tmp_path):
    path = tmp_path / "engine.sock"

    async def scenario():
        handling = asyncio.Event()

        async def hangs(message: dict) -> dict:
            if message["cmd"] == "hang":
                handling.set()
            return await echo(message)

        server = ControlServer(path, hangs)
        await server.start()
        idle = await asyncio.open_unix_connection(str(path))
        idle[1].write(b'{"cmd": "status"}\n')
        await idle[0].readline()
        busy = await asyncio.open_unix_connection(str(path))
        busy[1].write(b'{"cmd": "hang"}\n')
        await asyncio.wait_for(handling.wait(), 5)
        await asyncio.wait_for(server.close(), 5)
        leftovers = [await asyncio.wait_for(reader.read(), 5) for reader, _ in (idle, busy)]
        for _, writer in (idle, busy):
            writer.close()
        return leftovers

    assert asyncio.run(scenario()) == [b"", b""]


def test_a_request_nested_past_the_limit_is_answered_with_an_error_and_the_next_one_served(tmp_path):
    path = tmp_path / "engine.sock"

    async def scenario():
        async with serving(path):
            deep = b"[" * 200_000 + b"]" * 200_000 + b"\n"
            nested = json.dumps({"cmd": "pause", "reason": [[[[[[[[["x"]]]]]]]]]}).encode() + b"\n"
            return await exchange(path, deep + nested + b'{"cmd": "status"}\n', 3)

    deep, nested, good = asyncio.run(scenario())
    assert deep["ok"] is False and "nested" in deep["error"]
    assert nested["ok"] is False and "nested" in nested["error"]
    assert good["echo"]["cmd"] == "status"


def test_five_hundred_clients_at_once_all_get_their_answer(tmp_path):
    path = tmp_path / "engine.sock"

    together = threading.Barrier(500)

    def client(n: int) -> dict:
        together.wait()
        return request_sync(path, {"cmd": "status", "n": n}, 20)

    async def scenario():
        async with serving(path):
            with concurrent.futures.ThreadPoolExecutor(max_workers=500) as pool:
                return await asyncio.gather(*(asyncio.wrap_future(pool.submit(client, n)) for n in range(500)))

    answers = asyncio.run(scenario())
    assert sorted(answer["echo"]["n"] for answer in answers) == list(range(500))
