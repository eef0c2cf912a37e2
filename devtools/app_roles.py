"""Print the app roles of the scheduler's Entra app registration, for `az ad app update --app-roles`.

    python -m devtools.app_roles > app-roles.json
    az ad app update --id "$API_APP_ID" --app-roles @app-roles.json

The ids are fixed per role (shared.access.roles.role_id), so running it again changes
nothing in the registration. docs/access.md walks through the whole set-up.
"""

from __future__ import annotations

import json
import sys

from shared.access.roles import app_roles_manifest


def main() -> int:
    json.dump(app_roles_manifest(), sys.stdout, indent=2)
    sys.stdout.write("\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
