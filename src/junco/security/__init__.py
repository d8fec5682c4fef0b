"""Native middleware: objects with before/after hooks, added with ``app.add_middleware``."""

from .allowed_hosts import AllowedHosts
from .audit import Audit
from .csp_nonce import CSPNonce, csp_nonce
from .html_inject import HTMLInject
from .proxy import ProxyHeaders, client_ip
from .ratelimit import RateLimit
from .request_id import RequestID, RequestIDLogFilter
from .security_headers import SecurityHeaders
from .stack import Stack, secure_stack

__all__ = [
    "AllowedHosts",
    "Audit",
    "CSPNonce",
    "HTMLInject",
    "ProxyHeaders",
    "RateLimit",
    "RequestID",
    "RequestIDLogFilter",
    "SecurityHeaders",
    "Stack",
    "client_ip",
    "csp_nonce",
    "secure_stack",
]
