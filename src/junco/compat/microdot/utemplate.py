"""Microdot's ``microdot.utemplate``: not available; use Jinja (one import line).

The ``utemplate`` engine is a MicroPython package: its PyPI release has no
``setup.py``/``pyproject.toml`` and pip cannot install it, so junco cannot
depend on it. Change ``from microdot.utemplate import Template`` to
``from junco.compat.microdot.jinja import Template`` and rename the templates'
``{% args ... %}`` line away: ``{{ expression }}``, ``{% if %}`` and
``{% for %}`` read the same in Jinja, which also escapes HTML (uTemplate does not).
"""

from __future__ import annotations

from typing import Any

MESSAGE = (
    "uTemplate is not supported by junco (its PyPI package cannot be installed with pip): "
    "use `from junco.compat.microdot.jinja import Template` and drop the templates' "
    "`{% args %}` line; see docs/porting-from-microdot.md"
)


class Template:
    """Stands in for Microdot's uTemplate ``Template`` and says what to change.

    Raises:
        ImportError: always, with the one-line change to make.
    """

    @classmethod
    def initialize(cls, *args: Any, **kwargs: Any) -> None:
        raise ImportError(MESSAGE)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        raise ImportError(MESSAGE)


__all__ = ["Template"]
