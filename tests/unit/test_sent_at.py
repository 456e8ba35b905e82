"""The moment a request leaves (`sent_at`): the callback fires once the request is written, through plain
connections and through vcrpy's recording ones (re-recording the cassettes goes through them)."""

from __future__ import annotations

import http.server
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
import vcr
from requests.adapters import HTTPAdapter

from pipedrive_source.sent_at import STAMPED_POOLS, sending


class StampedAdapter(HTTPAdapter):
    def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
        super().init_poolmanager(*args, **kwargs)
        self.poolmanager.pool_classes_by_scheme = STAMPED_POOLS


class Answer(http.server.BaseHTTPRequestHandler):
    def do_GET(self) -> None:  # noqa: N802 (http.server's name)
        self.send_response(200)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", "11")
        self.end_headers()
        self.wfile.write(b'{"ok":true}')

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def server_url() -> Iterator[str]:
    server = http.server.HTTPServer(("127.0.0.1", 0), Answer)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/api/v1/users/me"
    server.shutdown()
    server.server_close()


def get_stamped(url: str) -> tuple[int, int]:
    """The status of a GET through stamped connections, and how often the send callback fired."""
    session = requests.Session()
    session.mount("http://", StampedAdapter())
    fired: list[int] = []
    with sending(lambda: fired.append(1)):
        status = session.get(url, timeout=10).status_code
    return status, len(fired)


def test_the_callback_fires_once_the_request_is_written(server_url: str) -> None:
    assert get_stamped(server_url) == (200, 1)


def test_requests_are_recorded_through_vcrpy(server_url: str, tmp_path: Path) -> None:
    # vcrpy's connections pass attribute writes on to the real connection they record through: the
    # stamped `request` must stay on vcrpy's side, or the real connection never sends
    cassette = tmp_path / "recorded.yaml"
    with vcr.use_cassette(str(cassette), record_mode="all") as recorded:
        assert get_stamped(server_url) == (200, 1)
        assert len(recorded.data) == 1
    with vcr.use_cassette(str(cassette), record_mode="none") as replayed:
        assert get_stamped(server_url)[0] == 200
        assert replayed.play_count == 1
