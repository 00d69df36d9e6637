"""Fixtures of the data set tests: a real HTTP server on the loopback interface."""

import functools
import threading
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest


class _QuietHandler(SimpleHTTPRequestHandler):
    """Serve files without writing one log line per request to stderr."""

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def http_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, request: pytest.FixtureRequest
) -> tuple[Path, str]:
    """A folder served over HTTP on 127.0.0.1, and its base URL (ending with /).

    The server runs in a thread and is shut down by a finalizer.
    """
    folder = tmp_path / "served"
    folder.mkdir()
    handler = functools.partial(_QuietHandler, directory=str(folder))
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()

    def stop() -> None:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)

    request.addfinalizer(stop)
    # Never send loopback requests through a proxy configured in the environment.
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")
    monkeypatch.setenv("no_proxy", "127.0.0.1,localhost")
    host, port = server.server_address[:2]
    return folder, f"http://{host}:{port}/"
