"""Moved to :mod:`junco.security`; ``junco.middleware`` and its submodules keep working."""

from ..security import *  # noqa: F403 - the old public path
from ..security import __all__ as __all__
