"""The app roles of the scheduler (Microsoft Entra app roles) and what each one grants.

Routes name the one role they need where they are declared (`shared.blueprints`). The
rule for holding several: every write role also grants Reader, since whoever may change
or run something needs to see it; nothing else is implied (an Editor may not run a
schedule now, an Operator may not change one). The role values are what an Entra app
registration declares and what arrives in the token's `roles` claim.
"""

from __future__ import annotations

from typing import Iterable

READER = "Scheduler.Reader"
OPERATOR = "Scheduler.Operator"
EDITOR = "Scheduler.Editor"
COMPUTE_ADMIN = "Compute.Admin"
SUBMITTER = "Runs.Submitter"
# Not a role: the route answers anyone, with nothing sensitive (health only).
PUBLIC = "public"

ROLES = (READER, OPERATOR, EDITOR, COMPUTE_ADMIN, SUBMITTER)

DESCRIPTIONS = {
    READER: "Read schedules, their runs and history, computes, jobs, endpoints, the console and the API description.",
    OPERATOR: "Enable and disable schedules, run them now, backfill them, and cancel runs and jobs (and read).",
    EDITOR: "Create, change and delete schedules, and import AML schedules (and read).",
    COMPUTE_ADMIN: "Create, change and delete AML compute, and start, stop and restart compute instances (and read).",
    SUBMITTER: "Submit pipelines, pipeline endpoints, runs, jobs and batch endpoint invocations (and read).",
}

IMPLIED = {OPERATOR: READER, EDITOR: READER, COMPUTE_ADMIN: READER, SUBMITTER: READER}

# A fixed namespace, so each role's id in the app registration is the same in every tenant
# and every run of the manifest (Entra refuses to change an existing role's id).
_ROLE_ID_NAMESPACE = "5b0e7d2a-3f61-4c55-9a2f-0c8f6e4d1b37"


def effective(held: Iterable[str]) -> frozenset[str]:
    """The roles a caller holding `held` has, with the implied ones added."""
    roles = {role for role in held if role in ROLES}
    return frozenset(roles | {IMPLIED[role] for role in roles if role in IMPLIED})


def grants(held: Iterable[str], needed: str) -> bool:
    return needed == PUBLIC or needed in effective(held)


def role_id(role: str) -> str:
    import uuid  # only the manifest needs it; every cold start imports this module

    return str(uuid.uuid5(uuid.UUID(_ROLE_ID_NAMESPACE), role))


def app_roles_manifest() -> list[dict]:
    """The `appRoles` of the app registration, as `az ad app update --app-roles` takes them."""
    return [{"allowedMemberTypes": ["User", "Application"], "description": DESCRIPTIONS[role],
             "displayName": role, "id": role_id(role), "isEnabled": True, "value": role} for role in ROLES]
