"""Storage backends (memory, Redis) for sessions, rate limits and pub/sub.

Every component that keeps state takes ``store=`` in the same forms: a store
object, ``"memory"`` or a Redis URL (see :mod:`junco.stores.resolve`).
"""

from .resolve import REDIS_URL_ENV, in_memory, redis_url_from_env

__all__ = ["REDIS_URL_ENV", "in_memory", "redis_url_from_env"]
