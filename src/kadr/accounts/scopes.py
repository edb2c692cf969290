"""What a credential may do. A person's own session (JWT) may do everything; an API key only
what its scopes name.

One scope per resource and verb, so a key for a dashboard reads, a key for an uploader writes
videos and runs, and only a key its owner marked `admin` can mint or revoke other keys.
"""

from __future__ import annotations

from enum import StrEnum


class Scope(StrEnum):
    VIDEOS_READ = "videos:read"
    VIDEOS_WRITE = "videos:write"
    RUNS_READ = "runs:read"
    RUNS_WRITE = "runs:write"
    CHANNELS_READ = "channels:read"
    CHANNELS_WRITE = "channels:write"
    PUBLICATIONS_READ = "publications:read"
    #: Schedule, change, cancel and retry publications: puts content on the owner's channels.
    PUBLISH = "publish"
    NOTIFICATIONS_READ = "notifications:read"
    NOTIFICATIONS_WRITE = "notifications:write"
    SCENARIOS_READ = "scenarios:read"
    #: Write, edit, generate, rewrite and share scenarios (generation spends the language model budget).
    SCENARIOS_WRITE = "scenarios:write"
    #: Everything, including creating, listing and revoking API keys.
    ADMIN = "admin"


ALL_SCOPES: frozenset[Scope] = frozenset(Scope)
#: What a key created without `scopes` gets: it can look, not act. Least privilege keeps a
#: leaked monitoring key harmless, creating one stays a single field, and a write refused with
#: 403 names the scope to add.
DEFAULT_KEY_SCOPES: tuple[Scope, ...] = tuple(s for s in Scope if s.value.endswith(":read"))

#: The table the README and the API docs show.
DESCRIPTIONS: dict[Scope, str] = {
    Scope.VIDEOS_READ: "list and read videos and uploads",
    Scope.VIDEOS_WRITE: "upload (direct or multipart) and delete videos",
    Scope.RUNS_READ: "list and read runs, artifacts, manifests, profiles and glossaries; download artifacts",
    Scope.RUNS_WRITE: "start and cancel runs; create and delete profiles and glossaries",
    Scope.CHANNELS_READ: "list and read channels",
    Scope.CHANNELS_WRITE: "connect (YouTube, Telegram, webhook), check and delete channels",
    Scope.PUBLICATIONS_READ: "list and read publications",
    Scope.PUBLISH: "schedule, change, cancel and retry publications",
    Scope.NOTIFICATIONS_READ: "read notification settings and the inbox (the event feed)",
    Scope.NOTIFICATIONS_WRITE: "change notification settings; mark notifications read",
    Scope.SCENARIOS_READ: "list and read scenarios, their versions and shares",
    Scope.SCENARIOS_WRITE: "write, edit, restore, delete, generate and share scenarios; titles and rewrites",
    Scope.ADMIN: "everything above, and create, list and revoke API keys",
}


def grants(held: frozenset[str], needed: Scope) -> bool:
    """Whether a credential holding `held` may do what `needed` names (`admin` implies all)."""
    return needed in held or Scope.ADMIN in held
