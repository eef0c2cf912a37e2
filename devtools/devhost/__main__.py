"""``python -m devtools.devhost [--app-dir DIR] [--host H] [--port N] [--no-timers]``."""

import sys

from devtools.devhost.cli import main

sys.exit(main())
