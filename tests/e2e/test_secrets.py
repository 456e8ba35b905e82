"""No cassette holds a credential: the VCR filter works, and every committed cassette passes the scan."""

import re
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
import requests
import vcr

from tests.conftest import CASSETTES, REDACTED
from tests.e2e.conftest import RECORDING_KEY, SECRETS_FROM_ENV

BEARER = re.compile(r"Bearer\s+(?!REDACTED)\S+", re.IGNORECASE)
# A header value on the next line of a YAML cassette: `x-api-token:` then `- value`.
HEADER_VALUE = r"{name}:\s*\n\s*-\s*(?!{redacted})(\S+)"
GUARDED_HEADERS = ("authorization", "x-api-token", "maton-connection", "cookie")
QUERY_SECRET = re.compile(r"[?&](?:api_token|access_token)=(?!REDACTED)[^&\s'\"]+")
SESSION_TOKEN = re.compile(r"session_token=(?!REDACTED)[^&\s'\"]+")


def leaks(text: str, secrets: tuple[str, ...]) -> list[str]:
    """What in a cassette's text looks like a credential."""
    found = [f"secret {secret[:4]}..." for secret in secrets if secret and secret in text]
    found += [f"bearer token {match[:12]}..." for match in BEARER.findall(text)]
    for name in GUARDED_HEADERS:
        pattern = HEADER_VALUE.format(name=re.escape(name), redacted=REDACTED)
        found += [f"{name} header" for _ in re.findall(pattern, text, re.IGNORECASE)]
    found += [f"query {match[:16]}..." for match in QUERY_SECRET.findall(text)]
    found += [f"authorization link {match[:18]}..." for match in SESSION_TOKEN.findall(text)]
    return found


def cassette_files() -> list[Path]:
    return sorted(CASSETTES.rglob("*.yaml"))


def test_cassettes_exist() -> None:
    assert cassette_files(), f"no cassettes under {CASSETTES}"


@pytest.mark.parametrize("cassette", cassette_files(), ids=lambda path: str(path.relative_to(CASSETTES)))
def test_no_cassette_holds_a_credential(cassette: Path) -> None:
    assert leaks(cassette.read_text(), (RECORDING_KEY, *SECRETS_FROM_ENV)) == []


class _Echo(BaseHTTPRequestHandler):
    def do_GET(self) -> None:  # noqa: N802 - http.server's naming
        body = b'{"connection": {"url": "https://connect.maton.ai/?session_token=5e9f0c2b7a"}}'
        self.send_response(200)
        self.send_header("content-type", "application/json")
        self.send_header("set-cookie", "session=cookie-secret-value")
        self.send_header("content-length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def local_server() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Echo)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def test_the_vcr_filter_removes_every_credential(
    vcr_config: dict[str, Any], local_server: str, tmp_path: Path
) -> None:
    secrets = (
        "maton-key-for-filter-test",
        "api-token-for-filter-test",
        "3f9a2c1e-0000-4000-8000-00000000abcd",
    )
    cassette = tmp_path / "filtered.yaml"
    with vcr.VCR(**vcr_config).use_cassette(str(cassette), record_mode="all"):
        requests.get(
            f"{local_server}/pipedrive/api/v1/users/me",
            params={"api_token": secrets[1]},
            headers={
                "Authorization": f"Bearer {secrets[0]}",
                "x-api-token": secrets[1],
                "Maton-Connection": secrets[2],
                "Cookie": "session=cookie-secret-value",
            },
            timeout=5,
        )
    text = cassette.read_text()

    assert leaks(text, (*secrets, "cookie-secret-value")) == []
    assert text.count(REDACTED) >= 4
    # the scan itself finds what the filter would have removed
    unfiltered = text.replace(f"- {REDACTED}", f"- Bearer {secrets[0]}", 1)
    assert leaks(unfiltered, secrets)
