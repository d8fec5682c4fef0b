"""``python -m junco``: the ``junco`` command."""

import sys

from .server.cli import main

if __name__ == "__main__":
    sys.exit(main())
