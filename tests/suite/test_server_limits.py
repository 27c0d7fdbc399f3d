"""What the HTTP server itself refuses, through a real ``suite serve`` (uvicorn): in the
uniform error shape, not uvicorn's plain-text 400.

Found by a security review: a query string over ~65 kB got "Invalid HTTP request received."
(httptools cannot parse a URL of 65,536 bytes or more), outside the uniform shape."""

from __future__ import annotations

import socket

import pytest
import requests

from tests.servers import SuiteServer, server_env

E2E_DATABASE = "communs_limits_e2e"
E2E_REDIS_DB = 11


@pytest.fixture(scope="module")
def server(s3_engine, tmp_path_factory):
    data_dir = tmp_path_factory.mktemp("suite-limits")
    env = server_env(database=E2E_DATABASE, redis_db=E2E_REDIS_DB, s3=s3_engine,
                     data_dir=data_dir, apps="")
    process = SuiteServer(env, data_dir / "server.log")
    try:
        yield process.start()
    finally:
        process.stop()


def _error(response, status, code):
    assert response.status_code == status, response.text[:300]
    assert response.headers["Content-Type"].startswith("application/json")
    body = response.json()
    assert set(body) == {"error"} and set(body["error"]) == {"code", "message", "details"}
    assert body["error"]["code"] == code
    return body["error"]


@pytest.mark.parametrize("length", [20_000, 70_000, 200_000])
def test_a_long_query_string_is_414_in_the_uniform_shape(server, length):
    response = requests.get(f"{server.base}/api/v1/users/", params={"q": "a" * length}, timeout=30)
    error = _error(response, 414, "uri_too_long")
    assert error["details"] == {"max_bytes": 16 * 1024}


def test_a_long_path_is_414_too(server):
    response = requests.get(f"{server.base}/api/v1/documents/{'a' * 70_000}", timeout=30)
    _error(response, 414, "uri_too_long")


def test_a_url_under_the_limit_reaches_the_application(server):
    response = requests.get(f"{server.base}/api/v1/users/", params={"q": "a" * 8000}, timeout=30)
    _error(response, 401, "not_authenticated")  # past the server: the API answers


def test_an_unparsable_request_is_400_in_the_uniform_shape(server):
    with socket.create_connection(("127.0.0.1", server.port), timeout=10) as connection:
        connection.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\nBad Header\r\n\r\n")
        raw = b""
        while chunk := connection.recv(65536):
            raw += chunk
    head, _, body = raw.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 400 ")
    assert b"content-type: application/json" in head.lower()
    assert b'"code": "bad_request"' in body
