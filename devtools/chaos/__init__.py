"""The chaos suite: scheduler processes killed, AML failing, storage cut, clocks jumping (see harness.py)."""
