"""The engine's control socket (docs/BEHAVIOUR.md section 9): JSON lines over a Unix socket, one
answer per request line."""

from __future__ import annotations

import asyncio
import contextlib
import errno
import json
import logging
import os
import socket
import stat
import sys
import time
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

SOCKET_MODE = 0o600
MAX_REQUEST_BYTES = 1024 * 1024
MAX_REQUEST_DEPTH = 8  # a request is a flat object; deeper nesting is refused, not parsed
BACKLOG = 1024  # connections waiting to be accepted: a burst of `overnight status` calls all get in
MAX_ANSWER_BYTES = 64 * 1024 * 1024
DEFAULT_TIMEOUT = 5.0
# sun_path holds 108 bytes on Linux and 104 on macOS and the BSDs, the closing NUL included.
_SUN_PATH_SIZE = 108 if sys.platform.startswith("linux") else 104

Message = dict[str, Any]
Handler = Callable[[Message], Awaitable[Message]]

_log = logging.getLogger(__name__)


class EngineNotRunning(Exception):
    """No engine listens on the socket: the caller reads the state from disk instead."""


class _LineTooLong(Exception):
    pass


class ControlServer:
    """Serves `handler` on a Unix socket; each connection may send any number of requests."""

    def __init__(self, path: Path, handler: Handler) -> None:
        self._path = path
        self._handler = handler
        self._server: asyncio.Server | None = None
        self._connections: dict[asyncio.Task[Any], asyncio.StreamWriter] = {}

    async def start(self) -> None:
        """The caller holds the one-engine lock, so a socket file already there was left by a dead engine.

        The socket is bound under a hidden name, made private, set listening, and only then renamed
        into place: a client that finds engine.sock can always connect to it.
        """
        _remove_stale_socket(self._path)
        hidden = self._path.with_name(f".{self._path.name}.{os.getpid()}")
        listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            with contextlib.suppress(FileNotFoundError):
                hidden.unlink()
            with _socket_address(hidden) as address:
                listener.bind(address)
            os.chmod(hidden, SOCKET_MODE)
            listener.listen(BACKLOG)
            os.rename(hidden, self._path)
            self._server = await asyncio.start_unix_server(
                self._serve, sock=listener, limit=MAX_REQUEST_BYTES, backlog=BACKLOG
            )
        except BaseException:
            listener.close()
            for path in (hidden, self._path):
                with contextlib.suppress(FileNotFoundError):
                    path.unlink()
            raise

    async def close(self) -> None:
        """Stops listening, drops open connections (cancelling requests in progress), removes the socket file.

        Call it from outside the handler: it waits for every connection, the caller's own included.
        """
        if self._server is None:
            return
        self._server.close()
        for task, writer in self._connections.items():
            writer.close()
            task.cancel()
        await asyncio.gather(*self._connections, return_exceptions=True)
        await self._server.wait_closed()
        self._server = None
        with contextlib.suppress(FileNotFoundError):
            self._path.unlink()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._connections[task] = writer
        try:
            while (answer := await self._answer_next(reader)) is not None:
                writer.write(_answer_line(answer))
                await writer.drain()
        except ConnectionError:
            pass  # the client left before reading its answer
        except asyncio.CancelledError:
            pass  # close() dropped the connection; Python 3.11 logs a connection task that ends cancelled
        finally:
            del self._connections[task]
            writer.close()

    async def _answer_next(self, reader: asyncio.StreamReader) -> Message | None:
        """The answer to the next request line, or None once the client has closed its side."""
        try:
            line = await _read_line(reader)
        except _LineTooLong:
            return _error(f"a request must fit on one line of at most {MAX_REQUEST_BYTES} bytes")
        return None if line is None else await self._answer(line)

    async def _answer(self, line: bytes) -> Message:
        too_deep = _error(f"the request is nested more than {MAX_REQUEST_DEPTH} levels deep")
        try:
            request = json.loads(line)
        except RecursionError:
            return too_deep
        except ValueError as exc:
            return _error(f"the request is not JSON ({exc})")
        if _too_deep(request):
            return too_deep
        if not isinstance(request, dict):
            return _error('a request is one JSON object per line, e.g. {"cmd": "status"}')
        try:
            return await self._handler(request)
        except Exception as exc:
            _log.exception("control command %r failed", request.get("cmd"))
            return _error(f"{type(exc).__name__}: {exc}")


async def request(path: Path, payload: Message, timeout: float = DEFAULT_TIMEOUT) -> Message:
    """Sends one request to the running engine and returns its answer."""
    async with asyncio.timeout(timeout):
        try:
            with _socket_address(path) as address:
                reader, writer = await asyncio.open_unix_connection(address, limit=MAX_ANSWER_BYTES)
        except (FileNotFoundError, ConnectionRefusedError) as exc:
            raise _not_running(path) from exc
        try:
            writer.write(_line(payload))
            await writer.drain()
            answer = await reader.readline()
        finally:
            writer.close()
    return _decode_answer(answer, path)


def request_sync(path: Path, payload: Message, timeout: float = DEFAULT_TIMEOUT) -> Message:
    """`request` for callers without an event loop (the CLI)."""
    deadline = time.monotonic() + timeout
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as connection:
        _connect(connection, path, deadline)
        connection.sendall(_line(payload))
        return _decode_answer(_receive_line(connection, deadline), path)


def _connect(connection: socket.socket, path: Path, deadline: float) -> None:
    """Connects, waiting while the engine's backlog is full (EAGAIN) until the deadline."""
    while True:
        connection.settimeout(max(deadline - time.monotonic(), 0.001))
        try:
            with _socket_address(path) as address:
                connection.connect(address)
            return
        except (FileNotFoundError, ConnectionRefusedError) as exc:
            raise _not_running(path) from exc
        except BlockingIOError:
            if time.monotonic() >= deadline:
                raise TimeoutError("the engine did not accept the connection in time") from None
            time.sleep(0.01)


def _receive_line(connection: socket.socket, deadline: float) -> bytes:
    received = bytearray()
    while True:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise TimeoutError("the engine did not answer in time")
        connection.settimeout(remaining)
        chunk = connection.recv(65536)
        received += chunk
        if not chunk or b"\n" in chunk:
            return bytes(received)
        if len(received) > MAX_ANSWER_BYTES:
            raise ConnectionError(f"the engine's answer is longer than {MAX_ANSWER_BYTES} bytes")


def _decode_answer(raw: bytes, path: Path) -> Message:
    if not raw.endswith(b"\n"):
        raise ConnectionError(f"the engine at {path} closed the connection without a complete answer")
    try:
        answer = json.loads(raw)
    except ValueError as exc:
        raise ConnectionError(f"the engine at {path} answered with something that is not JSON ({exc})") from exc
    if not isinstance(answer, dict):
        raise ConnectionError(f"the engine at {path} answered with a JSON {type(answer).__name__}, not an object")
    return answer


def _not_running(path: Path) -> EngineNotRunning:
    return EngineNotRunning(f"no engine is listening on {path}")


def _error(message: str) -> Message:
    return {"ok": False, "error": message}


def _line(message: Message) -> bytes:
    return json.dumps(message, allow_nan=False, separators=(",", ":")).encode() + b"\n"


def _answer_line(answer: Message) -> bytes:
    try:
        return _line(answer)
    except (TypeError, ValueError) as exc:
        return _line(_error(f"the engine's answer cannot be written as JSON ({exc})"))


def _too_deep(value: object, limit: int = MAX_REQUEST_DEPTH) -> bool:
    """Whether `value` nests lists and objects more than `limit` levels deep."""
    level = [value]
    for _ in range(limit):
        level = [
            child
            for item in level
            if isinstance(item, (dict, list))
            for child in (item.values() if isinstance(item, dict) else item)
        ]
        if not level:
            return False
    return any(isinstance(item, (dict, list)) for item in level)


async def _read_line(reader: asyncio.StreamReader) -> bytes | None:
    """The next line (a last one without its newline counts), None at the end; a line over the limit is skipped."""
    try:
        return await reader.readuntil(b"\n")
    except asyncio.IncompleteReadError as exc:
        return exc.partial or None
    except asyncio.LimitOverrunError:
        await _skip_rest_of_line(reader)
        raise _LineTooLong from None


async def _skip_rest_of_line(reader: asyncio.StreamReader) -> None:
    while True:
        try:
            await reader.readuntil(b"\n")
            return
        except asyncio.IncompleteReadError:
            return
        except asyncio.LimitOverrunError as exc:
            await reader.readexactly(exc.consumed)


def _remove_stale_socket(path: Path) -> None:
    try:
        mode = path.lstat().st_mode
    except FileNotFoundError:
        return
    if not stat.S_ISSOCK(mode):
        raise FileExistsError(errno.EEXIST, "exists and is not a socket; move it out of the way", str(path))
    path.unlink()


@contextlib.contextmanager
def _socket_address(path: Path) -> Iterator[str]:
    """`path`, or when it is too long for a Unix socket, the same file reached through a handle on its folder."""
    if len(os.fsencode(path)) < _SUN_PATH_SIZE:
        yield str(path)
        return
    if not sys.platform.startswith("linux"):
        raise OSError(
            errno.ENAMETOOLONG,
            f"the control socket path is longer than the {_SUN_PATH_SIZE - 1} bytes a Unix socket allows; "
            "use a home with a shorter path",
            str(path),
        )
    folder = os.open(path.parent, os.O_PATH | os.O_DIRECTORY)
    try:
        yield f"/proc/self/fd/{folder}/{path.name}"
    finally:
        os.close(folder)
