"""Moved to :mod:`junco.stores.memory`; this old path is the same module."""

import importlib
import sys

sys.modules[__name__] = importlib.import_module("junco.stores.memory")
