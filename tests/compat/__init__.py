"""Microdot compatibility: tests written as a ported Microdot test suite would be."""
