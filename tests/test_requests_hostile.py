"""Request bodies a hostile or broken client sends, against a real `resimply serve`.

Every way a body can fail to decode is a `400 invalid_request` that says what to
send (issue 11: deep nesting, invalid UTF-8 and NUL characters reached the
catch-all as `500`); a body that stops half-way gets `408 request_timeout`
instead of holding its connection for ever; a client that goes away mid-body is
one info line in the log, not two tracebacks.
"""

from __future__ import annotations

import json
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

from resimply import errors
from resimply.links import link_problem
from resimply.providers.direct import DirectScraper, canonical_url
from resimply.web.requests import MAX_JSON_DEPTH, _too_deep
from tests.servers import Service, wait_for

BODY_TIMEOUT_S = 1


@pytest.fixture(scope="module")
def web(redis_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Service]:
    """`resimply serve` alone (no worker: tasks stay queued), in development mode."""
    svc = Service(
        redis_url,
        tmp_path_factory.mktemp("hostile"),
        RESIMPLY_BODY_TIMEOUT_S=str(BODY_TIMEOUT_S),
    )
    try:
        svc.start(workers=0)
        yield svc
    except BaseException:
        print(svc.logs())
        raise
    finally:
        svc.stop()


@pytest.fixture(scope="module")
def token(web: Service) -> str:
    return web.token("hostile-user")


def post(web: Service, token: str, body: bytes, *, declared: int | None = None) -> bytes:
    """POST /scrape/async with a raw body; the raw answer (up to EOF or 10 s)."""
    head = (
        "POST /scrape/async HTTP/1.1\r\nHost: x\r\n"
        f"Authorization: Bearer {token}\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(body) if declared is None else declared}\r\n"
        "Connection: close\r\n\r\n"
    ).encode()
    with socket.create_connection(("127.0.0.1", web.port), timeout=10) as sock:
        sock.sendall(head + body)
        answer = b""
        while chunk := sock.recv(65536):
            answer += chunk
    return answer


def status_and_json(answer: bytes) -> tuple[int, dict[str, str]]:
    head, _, body = answer.partition(b"\r\n\r\n")
    status = int(head.split(b" ", 2)[1])
    parsed: dict[str, str] = json.loads(body)
    return status, parsed


def errors_logged(web: Service) -> list[str]:
    return [
        line
        for line in web.web.log().splitlines()
        if "Traceback" in line or '"level": "error"' in line or line.startswith("ERROR")
    ]


def nested(depth: int) -> bytes:
    return b'{"url": "https://example.com/v.mp4", "x": ' + b"[" * depth + b"]" * depth + b"}"


@pytest.mark.parametrize(
    ("body", "says"),
    [
        pytest.param(b"[" * 5000, "more than 32 levels deep", id="5000-open-arrays"),
        pytest.param(b"[" * 900 + b"]" * 900, "more than 32 levels deep", id="900-deep-valid"),
        pytest.param(nested(MAX_JSON_DEPTH), "more than 32 levels deep", id="33-deep-object"),
        pytest.param(b'{"url": "\xff\xfe"}', "not valid UTF-8", id="invalid-utf8"),
        pytest.param(b'{"url": "\xed\xa0\x80"}', "not valid UTF-8", id="utf8-encoded-surrogate"),
        pytest.param(b'{"url": "\\ud800"}', "not valid JSON", id="lone-surrogate-escape"),
        pytest.param(b'{"url": "/tmp/v\\u0000.mp4"}', "control characters", id="nul-local-path"),
        pytest.param(b'{"url": "file:///tmp/v%00.mp4"}', "%00", id="nul-file-url"),
        pytest.param(
            b'{"url": "https://example.com/v\\u0000.mp4"}', "control characters", id="nul-url"
        ),
        pytest.param(
            b'{"url": "https://example.com/v.mp4\\r\\nX: y"}', "control characters", id="crlf-url"
        ),
        pytest.param(
            b'{"url": "https://example.com/v.mp4", "caption": "a\\u0000b"}',
            "NUL",
            id="nul-caption",
        ),
        pytest.param(b"url=https://example.com/v.mp4", "not valid JSON", id="form-encoded"),
    ],
)
def test_a_body_that_cannot_be_decoded_is_a_400_that_says_what_to_send(
    web: Service, token: str, body: bytes, says: str
) -> None:
    status, answer = status_and_json(post(web, token, body))
    assert (status, answer["error"]) == (400, "invalid_request")
    assert says in answer["message"]
    assert errors_logged(web) == []


def test_nesting_up_to_the_limit_is_read_as_usual(web: Service, token: str) -> None:
    # 31 levels inside the top-level object: 32 in all, accepted; the task is created.
    status, answer = status_and_json(post(web, token, nested(MAX_JSON_DEPTH - 1)))
    assert status == 202, answer


def test_a_body_that_stops_half_way_gets_408_in_the_body_timeout(web: Service, token: str) -> None:
    head = (
        "POST /scrape/async HTTP/1.1\r\nHost: x\r\n"
        f"Authorization: Bearer {token}\r\nContent-Length: 100\r\n\r\n"
    ).encode()
    with socket.create_connection(("127.0.0.1", web.port), timeout=BODY_TIMEOUT_S + 10) as sock:
        sock.sendall(head + b'{"url": "h')  # 10 of 100 bytes, then nothing
        answer = b""
        while chunk := sock.recv(65536):  # EOF: the server closes the connection
            answer += chunk
    status, body = status_and_json(answer)
    assert (status, body["error"]) == (408, "request_timeout")
    assert "send the whole body at once" in body["message"]
    assert errors_logged(web) == []


def test_a_client_that_leaves_mid_body_is_one_info_line_not_a_traceback(
    web: Service, token: str
) -> None:
    head = (
        "POST /scrape/async HTTP/1.1\r\nHost: x\r\n"
        f"Authorization: Bearer {token}\r\nContent-Length: 100\r\n\r\n"
    ).encode()
    before = web.web.log().count('"request_body_incomplete"')
    with socket.create_connection(("127.0.0.1", web.port), timeout=10) as sock:
        sock.sendall(head + b'{"url": "h')
    wait_for(
        lambda: web.web.log().count('"request_body_incomplete"') == before + 1,
        what="the request_body_incomplete line",
    )
    line = next(
        json.loads(line)
        for line in reversed(web.web.log().splitlines())
        if '"request_body_incomplete"' in line
    )
    assert (line["level"], line["received"], line["declared"]) == ("info", 10, "100")
    assert errors_logged(web) == []


# --- the checks themselves ----------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "deep"),
    [
        (b"{}", False),
        (b"[" * 32 + b"]" * 32, False),
        (b"[" * 33 + b"]" * 33, True),
        (b"[" * 33, True),  # unbalanced: still too deep before it is malformed
        (b"[]" * 5000, False),  # many brackets, none nested
        (b'{"caption": "' + b"[" * 100 + b'"}', False),  # brackets inside a string
        (b'{"caption": "\\"' + b"[" * 100 + b'"}', False),  # after an escaped quote
        (b'["\\\\", ' + b"[" * 40 + b"]" * 40 + b"]", True),  # an escaped backslash ends
    ],
)
def test_depth_check_counts_only_brackets_outside_strings(body: bytes, deep: bool) -> None:
    assert _too_deep(body) is deep


@pytest.mark.parametrize(
    "url", ["/tmp/a\x00b.mp4", "file:///tmp/a%00b.mp4", "https://e.com/\x7f", "~/a\nb.mp4"]
)
def test_links_with_control_characters_have_a_problem(url: str) -> None:
    assert link_problem(url)


@pytest.mark.parametrize(
    "url", ["/tmp/a b.mp4", "file:///tmp/a%20b.mp4", "https://e.com/v.mp4?q=%00", "~/ü.mp4"]
)
def test_ordinary_links_have_none(url: str) -> None:
    assert link_problem(url) is None


@pytest.mark.parametrize("url", ["/tmp/a\x00b.mp4", "file:///tmp/a%00b.mp4"])
def test_the_direct_scraper_refuses_a_nul_in_a_local_path(url: str, tmp_path: Path) -> None:
    # What reaches a worker without passing the web tier's check is refused
    # with a task error, not a ValueError ("embedded null byte").
    assert DirectScraper(dev=True, allow_private_urls=False).accepts(url)
    with pytest.raises(errors.UnsupportedUrl, match="NUL"):
        canonical_url(url)
