"""Compatibility imports for code written for other frameworks.

See :mod:`junco.compat.microdot`.
"""
