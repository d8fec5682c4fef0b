"""junco._random: per-request random values, never handed out twice, fresh after fork."""

from __future__ import annotations

import os
import re
import threading
import uuid
from collections.abc import Callable

import pytest

from junco._random import random_token, random_uuid_hex

TOKEN = re.compile(r"[A-Za-z0-9_-]{22}")


@pytest.mark.parametrize("make", [random_uuid_hex, random_token])
def test_no_repeats_across_pages(make: Callable[[], str]) -> None:
    drawn = [make() for _ in range(3000)]  # several pages
    assert len(set(drawn)) == len(drawn)


def test_ids_are_version_4_uuids() -> None:
    for _ in range(600):
        value = random_uuid_hex()
        parsed = uuid.UUID(value)
        assert (len(value), parsed.version, parsed.variant) == (32, 4, uuid.RFC_4122)


def test_tokens_are_22_base64url_characters() -> None:
    assert all(TOKEN.fullmatch(random_token()) for _ in range(600))


@pytest.mark.parametrize("make", [random_uuid_hex, random_token])
def test_threads_never_share_values(make: Callable[[], str]) -> None:
    results: list[list[str]] = [[] for _ in range(4)]
    start = threading.Barrier(4)

    def draw(out: list[str]) -> None:
        start.wait()
        out.extend(make() for _ in range(1000))

    threads = [threading.Thread(target=draw, args=(out,)) for out in results]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    everything = [v for out in results for v in out]
    assert len(set(everything)) == len(everything) == 4000


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork")
@pytest.mark.parametrize("make", [random_uuid_hex, random_token])
def test_a_forked_child_does_not_repeat_its_parent(make: Callable[[], str]) -> None:
    make()  # the parent has a page in use
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the child
        os.write(write, make().encode())
        os._exit(0)
    os.close(write)
    child = os.read(read, 64).decode()
    os.close(read)
    os.waitpid(pid, 0)
    assert len(child) in (22, 32)
    assert child != make()
