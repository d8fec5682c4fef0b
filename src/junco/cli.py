"""Moved to :mod:`junco.server.cli`; this old path is the same module."""

import importlib
import sys

sys.modules[__name__] = importlib.import_module("junco.server.cli")
