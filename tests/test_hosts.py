"""The Host header: malformed or untrusted hosts get a 400 that cannot fail, and never reach a redirect."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from web import create_app
from web._hosts import is_trusted, split_host


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("localhost", ("localhost", None)),
        ("127.0.0.1:5000", ("127.0.0.1", "5000")),
        ("[::1]:5000", ("::1", "5000")),
        ("[::1]", ("::1", None)),
        ("News.Example.org.", ("news.example.org.", None)),
        ("a..b", None),
        ("x" * 64 + ".com", None),
        ("a_b.com", None),
        ("-a.com", None),
        ("host:port", None),
        ("host:123456", None),
        ("[::g]:80", None),
        ("[::1", None),
        ("", None),
        ("evil.example/x", None),
    ],
)
def test_host_syntax(value: str, expected: tuple[str, str | None] | None) -> None:
    assert split_host(value) == expected


def test_trusted_names_and_domains() -> None:
    assert is_trusted("news.example.org", [".example.org"]) and is_trusted("example.org", [".example.org"])
    assert not is_trusted("badexample.org", [".example.org"]) and not is_trusted("evil.example", ["localhost"])
    assert is_trusted("::1", ["[::1]"]) and is_trusted("localhost.", ["localhost"])


@pytest.mark.parametrize("path", ["/", "/?q=合作", "/static/app.css", "/api/search?q=合作", "/opensearch.xml", "/nope"])
@pytest.mark.parametrize("host", ["a..b", "x" * 64 + ".com"])
def test_error_malformed_host_is_a_400_without_a_traceback(sample_index: Path, caplog: pytest.LogCaptureFixture,
                                                          path: str, host: str) -> None:
    client = create_app({"INDEX_DIR": sample_index}).test_client()
    with caplog.at_level(logging.ERROR):
        response = client.get(path, headers={"Host": host})
    assert response.status_code == 400 and not caplog.records
    if path.startswith("/api/"):
        assert response.get_json() == {"ok": False, "error": "malformed Host header", "status": 400}


def test_error_untrusted_host_is_refused_and_never_redirected_to(sample_index: Path) -> None:
    client = create_app({"INDEX_DIR": sample_index, "ALLOWED_HOSTS": ["localhost", "127.0.0.1", "::1"]}).test_client()
    for path in ("/static//app.css", "/opensearch.xml", "/?q=合作"):
        response = client.get(path, headers={"Host": "evil.example"})
        assert response.status_code == 400 and "Location" not in response.headers
    for host in ("localhost", "127.0.0.1:5000", "[::1]:5000"):
        redirect = client.get("/static//app.css", headers={"Host": host})
        assert redirect.status_code == 308 and redirect.headers["Location"].startswith(f"http://{host}/")
        assert client.get("/opensearch.xml", headers={"Host": host}).status_code == 200


def test_trusted_hosts_setting(monkeypatch: pytest.MonkeyPatch, sample_index: Path) -> None:
    monkeypatch.setenv("ZHSEARCH_TRUSTED_HOSTS", "search.example.org, .news.example")
    client = create_app({"INDEX_DIR": sample_index}).test_client()
    assert client.get("/", headers={"Host": "search.example.org"}).status_code == 200
    assert client.get("/", headers={"Host": "a.news.example:8080"}).status_code == 200
    assert client.get("/", headers={"Host": "localhost"}).status_code == 400
