"""is_safe_url: relative and same-host URLs pass; every known open-redirect trick fails."""

from __future__ import annotations

from typing import Any, cast

import pytest

from junco.security.redirects import MAX_URL_LENGTH, is_safe_url

HOSTS = {"good.example", "good.example:8443"}

SAFE = [
    "/",
    "/account",
    "/account/",
    "/a/b/c?x=1&y=2",
    "/search?q=a b",
    "/path#section",
    "jav&#x09;ascript:alert(1)",  # no scheme: a relative path with a fragment
    "/?next=//evil.example",
    "/%2F%2Fevil.example",
    "/café",
    "/\uff46\uff55\uff4c\uff4c",
    "page",
    "page?x=1",
    "./page",
    "../up",
    "?only=query",
    "#fragment",
    "/path/with:colon",
    "/path\\inside",
    "/a@b",
    "http://good.example",
    "http://good.example/",
    "https://good.example/path?x=1",
    "HTTPS://GOOD.EXAMPLE/path",
    "https://good.example:8443/x",
    "//good.example/path",
    "http://good.example#@evil.example",
    "http://good.example/@evil.example",
]

HOSTILE = [
    # other hosts, every spelling
    "http://evil.example",
    "https://evil.example/path",
    "//evil.example",
    "//evil.example/path",
    "///evil.example",
    "////evil.example",
    "https:///evil.example",
    "http:/evil.example",
    "http:evil.example",
    "https:evil.example",
    "http://good.example.evil.example",
    "http://evil.example?good.example",
    "http://good.example.",
    "http://good.example:80",
    "http://good.example:99999",
    "http://good.example:x",
    "http://[::1",
    # backslashes, which browsers read as slashes
    "/\\evil.example",
    "\\/evil.example",
    "\\\\evil.example",
    "\\\\\\evil.example",
    "/\\/evil.example",
    "http:\\\\evil.example",
    "https:/\\evil.example",
    "http://good.example\\@evil.example",
    "http://evil.example\\good.example",
    # userinfo
    "http://good.example@evil.example",
    "http://good.example:8443@evil.example",
    "http://user:pass@good.example/",
    "http://evil.example@good.example",
    "//good.example@evil.example",
    # other schemes
    "javascript:alert(1)",
    "JavaScript:alert(1)",
    "javascript://good.example/%0Aalert(1)",
    "javascript://good.example",
    "data:text/html,<script>alert(1)</script>",
    "data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==",
    "vbscript:msgbox(1)",
    "file:///etc/passwd",
    "ftp://good.example/file",
    "mailto:a@good.example",
    "ws://good.example/socket",
    "blob:https://good.example/uuid",
    # whitespace and control characters, which browsers strip or skip
    " /account",
    "/account ",
    " //evil.example",
    "\t//evil.example",
    "\n//evil.example",
    "/\t/evil.example",
    "/\n/evil.example",
    "/\r/evil.example",
    "/account\x00",
    "\x00//evil.example",
    "\x01//evil.example",
    "\x1f//evil.example",
    "\x7f//evil.example",
    "/acc\x0bount",
    "/\u0085/evil.example",
    "java\tscript:alert(1)",
    "java\nscript:alert(1)",
    "\u00a0//evil.example",
    "/\u00a0/evil.example",
    "\u3000//evil.example",
    "/\u2028/evil.example",
    "/\u2029/evil.example",
    # invisible formatting characters and bidi overrides
    "/\u200b/evil.example",
    "\ufeff//evil.example",
    "/\u202e/evil.example",
    "/\u2066x",
    "\ud800/x",
    # Unicode look-alikes that fold to separators
    "\uff0f\uff0fevil.example",
    "/\uff0fevil.example",
    "\uff3c\uff3cevil.example",
    "http://good.example\uff0f@evil.example",
    "http://evil\u3002example",
    "http://g\u043eod.example",
    "http://\uff47\uff4f\uff4f\uff44.example",
    # degenerate
    "",
]


@pytest.mark.parametrize("url", SAFE)
def test_safe(url: str) -> None:
    assert is_safe_url(url, HOSTS)


@pytest.mark.parametrize("url", HOSTILE)
def test_hostile(url: str) -> None:
    assert not is_safe_url(url, HOSTS)


@pytest.mark.parametrize("url", [u for u in SAFE if "good.example" not in u.lower()])
def test_relative_urls_need_no_hosts(url: str) -> None:
    assert is_safe_url(url)
    assert is_safe_url(url, None, require_https=True)


@pytest.mark.parametrize("url", [u for u in SAFE if "good.example" in u.lower()])
def test_absolute_urls_need_their_host(url: str) -> None:
    assert not is_safe_url(url)
    assert not is_safe_url(url, "other.example")


def test_a_single_host_string() -> None:
    assert is_safe_url("https://good.example/x", "good.example")
    assert is_safe_url("https://good.example/x", "GOOD.example")
    assert not is_safe_url("https://good.example.evil/x", "good.example")


def test_require_https() -> None:
    assert is_safe_url("https://good.example/x", HOSTS, require_https=True)
    assert not is_safe_url("http://good.example/x", HOSTS, require_https=True)
    # scheme-relative URLs count as http, as in Django
    assert not is_safe_url("//good.example/x", HOSTS, require_https=True)
    assert is_safe_url("/x", HOSTS, require_https=True)


def test_length_is_bounded() -> None:
    long_path = "/" + "a" * (MAX_URL_LENGTH - 1)
    assert is_safe_url(long_path)
    assert not is_safe_url(long_path + "a")
    assert not is_safe_url("/" + "\u00e9" * 10**6)


@pytest.mark.parametrize("value", [None, 0, b"/x", ["/x"], object()])
def test_not_a_string(value: Any) -> None:
    assert not is_safe_url(cast(str, value), HOSTS)


def test_every_control_character_anywhere() -> None:
    for code in [*range(0x20), 0x7F, *range(0x80, 0xA0)]:
        c = chr(code)
        for url in (f"{c}/x", f"/x{c}", f"/a{c}b", f"http://good.example/{c}"):
            assert not is_safe_url(url, HOSTS), repr(url)
