"""Microdot's ``microdot.test_client``."""

from . import TestClient, TestResponse

__all__ = ["TestClient", "TestResponse"]
