"""Moved to :mod:`junco.security.request_id`; this old path is the same module."""

import importlib
import sys

sys.modules[__name__] = importlib.import_module("junco.security.request_id")
