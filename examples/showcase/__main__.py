"""Serve the showcase: ``python -m examples.showcase`` → http://127.0.0.1:5000.

Set ``PORT`` to use another port (``app.run()`` reads it). The audit trail
(``junco.audit``: logins, sign-ups, refusals) and junco's warnings are
printed on stderr, as ``junco run`` does.
"""

import logging

from examples.showcase.app import app

if __name__ == "__main__":
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)-7s %(name)s: %(message)s"
    )
    app.run(host="127.0.0.1")
