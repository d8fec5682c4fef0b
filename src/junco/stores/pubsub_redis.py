"""Moved to :mod:`junco.stores.redis`; this old path is the same module."""

import importlib
import sys

sys.modules[__name__] = importlib.import_module("junco.stores.redis")
