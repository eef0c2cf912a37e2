"""``python -m devtools.aml_emulator``: see ``devtools.aml_emulator.cli``."""

import sys

from devtools.aml_emulator.cli import main

sys.exit(main())
