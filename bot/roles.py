"""Which Discord role a role setting (CONCORD_VOLUNTEER_ROLE, CONCORD_FACILITATOR_ROLE) means in each server.

An ID is exact. A name is accepted for convenience but is easy to take over: anyone who can create a role
could make another "Volunteer". So a name must match exactly (case included), is resolved to one role ID
the first time a server needs it, and that ID is kept: a role made later with the same name grants
nothing. When several roles already share the name, none of them counts and a warning says to set the ID.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass

from bot.config import Settings, env_name

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class RoleLookup:
    """The role that grants the rights in one server."""

    role_id: int | None  # None: nobody gets the rights through a role here (Manage Server still does)
    label: str | None  # the role's name as members see it; None when no role is configured
    problem: str | None = None  # why nobody gets them, for the deployer


class RoleBook:
    """One role setting, resolved per server."""

    def __init__(self, setting: str, value: str | None) -> None:
        self.setting = setting  # as the deployer types it, e.g. CONCORD_VOLUNTEER_ROLE
        self.value = value
        self._pinned: dict[int, int] = {}  # guild id -> role id a name resolved to
        self._warned: set[tuple[int, str]] = set()

    @classmethod
    def of(cls, settings: Settings, field: str) -> RoleBook:
        return cls(env_name(field), getattr(settings, field))

    def resolve(self, guild_id: int, guild_name: str, roles: Iterable[tuple[int, str]]) -> RoleLookup:
        """`roles`: the server's roles as (id, name)."""
        if self.value is None:
            return RoleLookup(None, None)
        names = dict(roles)
        names.pop(guild_id, None)  # @everyone (its ID is the server's): every member holds it
        if self.value in (str(guild_id), "@everyone"):
            problem = f"{self.setting}={self.value} is @everyone, which every member holds; set it to a role's ID"
            self._warn(guild_id, problem)
            return RoleLookup(None, self.value, problem)
        pinned = self._pinned.get(guild_id)
        if pinned is not None and pinned in names:
            return RoleLookup(pinned, names[pinned])
        if self.value.isdigit() and int(self.value) in names:
            return RoleLookup(int(self.value), names[int(self.value)])
        matches = [role_id for role_id, name in names.items() if name == self.value]
        if len(matches) == 1:
            self._pinned[guild_id] = matches[0]
            log.info("%s=%s is role %s in %s", self.setting, self.value, matches[0], guild_name)
            return RoleLookup(matches[0], self.value)
        if matches:
            ids = ", ".join(str(m) for m in sorted(matches))
            problem = (
                f"{len(matches)} roles are named {self.value} in {guild_name} (IDs {ids}), so none of them counts; "
                f"set {self.setting} to the right role's ID"
            )
        elif self.value.isdigit():
            problem = f"{self.setting}={self.value} is not a role in {guild_name}; set it to a role ID from this server"
        else:
            problem = f"no role is named {self.value} in {guild_name}; create it or set {self.setting} to a role ID"
        self._warn(guild_id, problem)
        return RoleLookup(None, self.value, problem)

    def _warn(self, guild_id: int, problem: str) -> None:
        if (guild_id, problem) not in self._warned:
            self._warned.add((guild_id, problem))
            log.warning("%s", problem)
