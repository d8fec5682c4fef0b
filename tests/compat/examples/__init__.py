"""Microdot-style example apps, ported by changing their imports only."""
