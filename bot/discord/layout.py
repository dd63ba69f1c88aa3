"""A meeting on Discord: its category, the main channel, one channel and one role per language, webhooks, the
pinned welcome in each language channel and the language picker pinned in the main channel.

`Builder.build` makes what is missing and repairs what drifted (a deleted channel or role, a missing overwrite,
an unpinned welcome), so running `/meeting create` again is safe. Every object is written to the store as soon
as it exists (a crash leaves nothing Concord forgets), and a failure undoes what this run made, newest first:
nothing is left half-created. The bot's permissions are checked before anything is made (`lacking`).

Who sees what: the main channel is open to everyone (the facilitator speaks there; the picker is there);
a language channel is hidden from @everyone and shown to its language role, the facilitator role and, for a
language no engine translates, the meeting's interpreter role. Concord itself is always let in.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import discord

from bot import languages, meetings
from bot.discord.errors import SetupError, role_lookup
from bot.discord.helpers import NO_PINGS, fit
from bot.discord.views import picker_view
from bot.store import Meeting, Room, Store

if TYPE_CHECKING:
    from bot.discord.bot import ConcordBot

log = logging.getLogger(__name__)

PARTICIPANT = discord.PermissionOverwrite(view_channel=True, send_messages=True, read_message_history=True)
CONCORD = discord.PermissionOverwrite(
    view_channel=True, send_messages=True, read_message_history=True, embed_links=True, attach_files=True
)


@dataclass
class Built:
    """What a build made or mended, for the facilitator's reply."""

    main: int = 0
    channels: dict[str, int] = field(default_factory=dict)  # language -> channel id
    made: list[str] = field(default_factory=list)  # "channel #español", "role ELAC · Español", ...
    mended: list[str] = field(default_factory=list)


class Builder:
    """Builds one meeting on one server. `made_now`: the meeting row is new (a failure deletes it too)."""

    def __init__(self, bot: ConcordBot, guild: discord.Guild, meeting: Meeting, *, made_now: bool) -> None:
        self.bot = bot
        self.store = bot.store
        self.guild = guild
        self.meeting = meeting
        self.made_now = made_now
        self.built = Built()
        self._undo: list[tuple[str, Callable[[], Awaitable[Any]]]] = []
        self._texts: dict[str, asyncio.Future[str]] = {}

    # --- the whole build, all or nothing ------------------------------------------------------

    async def build(self, codes: list[str]) -> Built:
        """Make or repair the meeting with these languages (besides those it has)."""
        try:
            await self._build(codes)
        except BaseException as exc:
            for text in self._texts.values():
                text.cancel()
            await self.rollback()
            if isinstance(exc, discord.HTTPException):
                raise SetupError("set up the meeting", f"{exc.status} {exc.text}", repaired=not self.made_now) from exc
            if isinstance(exc, SetupError):
                exc.repaired = not self.made_now
            raise
        return self.built

    async def rollback(self) -> None:
        """Undo this run's objects and records, newest first; what cannot be undone is logged."""
        for what, undo in reversed(self._undo):
            try:
                await undo()
            except Exception:
                log.exception("could not undo %s while rolling back meeting %s", what, self.meeting.name)
        self._undo.clear()
        if self.made_now:
            await self.store.delete_meeting(self.meeting.id)

    async def _build(self, codes: list[str]) -> None:
        rooms = {r.language: r for r in await self.store.rooms(self.meeting.id)}
        wanted = list(dict.fromkeys(["en", *rooms, *codes]))
        for code in wanted:
            if code != "en" and (code not in rooms or rooms[code].welcome_id is None):
                self._welcome_text(code)
        category = await self._category()
        interpreters = await self._interpreter_role(wanted)
        for code in wanted:
            room = rooms.get(code)
            role = await self._language_role(code, room) if code != "en" else None
            channel = await self._channel(code, room, category, role, interpreters)
            welcome = room.welcome_id if room and room.channel_id == channel.id else None
            room = Room(channel.id, self.meeting.id, code, role.id if role else None, welcome)
            if code == "en":
                self.built.main, self._main = channel.id, channel
            else:
                self.built.channels[code] = channel.id
            await self.store.set_room(channel.id, role_id=room.role_id, welcome_id=room.welcome_id)
            await self._webhook(channel)
            if code != "en":
                await self._welcome(channel, room)
        await self._picker(wanted)

    # --- steps ---------------------------------------------------------------------------------

    @contextlib.asynccontextmanager
    async def _step(self, what: str, permission: str):
        """Discord's 403 for one step becomes a SetupError naming the permission it needs."""
        try:
            yield
        except discord.Forbidden as exc:
            raise SetupError(what, f"{exc.status} {exc.text}", permission) from exc

    def _undo_on_failure(self, what: str, undo: Callable[[], Awaitable[Any]]) -> None:
        self._undo.append((what, undo))

    async def _category(self) -> discord.CategoryChannel:
        found = self.guild.get_channel(self.meeting.category_id) if self.meeting.category_id else None
        if not isinstance(found, discord.CategoryChannel):
            found = await self._unclaimed_category()
        if isinstance(found, discord.CategoryChannel):
            if found.id != self.meeting.category_id:
                await self.store.update_meeting(self.meeting.id, category_id=found.id)
            return found
        async with self._step(f"create the category {self.meeting.name}", "Manage Channels"):
            category = await self.guild.create_category(self.meeting.name, reason=self._reason)
        self._made(f"category {category.name}", lambda: category.delete(reason=self._undo_reason))
        before = self.meeting.category_id
        await self.store.update_meeting(self.meeting.id, category_id=category.id)
        self._undo_on_failure("category record", lambda: self.store.update_meeting(self.meeting.id, category_id=before))
        return category

    async def _interpreter_role(self, codes: list[str]) -> discord.Role | None:
        """The meeting's interpreter volunteers, when a language has no machine translation."""
        if not any(languages.get(c).interpreter_only for c in codes):
            return None
        found = self.guild.get_role(self.meeting.interpreter_role_id) if self.meeting.interpreter_role_id else None
        if found is not None:
            return found
        # Mentionable: Concord pings it without Mention Everyone, and parents may call an interpreter too.
        role = await self._new_role(meetings.interpreter_role_name(self.meeting.name), mentionable=True)
        before = self.meeting.interpreter_role_id
        await self.store.update_meeting(self.meeting.id, interpreter_role_id=role.id)
        self._undo_on_failure(
            "interpreter role record", lambda: self.store.update_meeting(self.meeting.id, interpreter_role_id=before)
        )
        return role

    async def _language_role(self, code: str, room: Room | None) -> discord.Role:
        found = self.guild.get_role(room.role_id) if room and room.role_id else None
        name = meetings.role_name(self.meeting.name, code)
        # A role of that name no channel of the meeting holds was made by a run that stopped (a crash) before
        # recording it: take it rather than make a second one.
        taken = {r.role_id for r in await self.store.rooms(self.meeting.id)}
        found = found or next((r for r in self.guild.roles if r.name == name and r.id not in taken), None)
        return found or await self._new_role(name)

    async def _unclaimed_category(self) -> discord.CategoryChannel | None:
        """A category named like the meeting that no meeting records (a run that stopped before recording it)."""
        claimed = {m.category_id for m in await self.store.meetings(self.guild.id)}
        named = [c for c in self.guild.categories if c.name == self.meeting.name and c.id not in claimed]
        return named[0] if len(named) == 1 else None

    async def _new_role(self, name: str, *, mentionable: bool = False) -> discord.Role:
        async with self._step(f"create the role {name}", "Manage Roles"):
            role = await self.guild.create_role(name=name, mentionable=mentionable, reason=self._reason)
        self._made(f"role {role.name}", lambda: role.delete(reason=self._undo_reason))
        return role

    async def _channel(
        self,
        code: str,
        room: Room | None,
        category: discord.CategoryChannel,
        role: discord.Role | None,
        interpreters: discord.Role | None,
    ) -> discord.TextChannel:
        wanted = self._overwrites(code, role, interpreters)
        found = self.guild.get_channel(room.channel_id) if room else None
        name = meetings.MAIN_CHANNEL if code == "en" else languages.get(code).channel
        if not isinstance(found, discord.TextChannel):  # one a stopped run made in the category, unrecorded
            for candidate in category.text_channels:
                if candidate.name == name and await self.store.meeting_of_channel(candidate.id) is None:
                    found = candidate
                    await self._link(candidate, code, room, role)
                    break
        if isinstance(found, discord.TextChannel):
            drifted = {t.id: o.pair() for t, o in found.overwrites.items() if t.id in {k.id for k in wanted}}
            if drifted != {t.id: o.pair() for t, o in wanted.items()} or found.category_id != category.id:
                merged = {t: o for t, o in found.overwrites.items() if t.id not in {k.id for k in wanted}} | wanted
                async with self._step(f"update who may see #{found.name}", "Manage Roles"):
                    await found.edit(overwrites=merged, category=category, reason=self._reason)
                self.built.mended.append(f"permissions of #{found.name}")
            return found
        async with self._step(f"create the channel #{name}", "Manage Channels"):
            channel = await self.guild.create_text_channel(
                name,
                category=category,
                overwrites=wanted,
                topic=meetings.topic(self.meeting.name, code),
                reason=self._reason,
            )
        self._made(f"channel #{channel.name}", lambda: channel.delete(reason=self._undo_reason))
        await self._link(channel, code, room, role)
        return channel

    async def _link(
        self, channel: discord.TextChannel, code: str, room: Room | None, role: discord.Role | None
    ) -> None:
        """Record a channel (and its role) as the meeting's channel for a language, at once."""
        if room is not None and room.channel_id != channel.id:  # its channel was deleted: this one takes its place
            await self.store.unlink_channel(room.channel_id)
        await self.store.link_channel(channel.id, self.meeting.id, code)
        await self.store.set_room(channel.id, role_id=role.id if role else None, welcome_id=None)
        self._undo_on_failure(f"link of #{channel.name}", lambda: self.store.unlink_channel(channel.id))

    def _overwrites(
        self, code: str, role: discord.Role | None, interpreters: discord.Role | None
    ) -> dict[Any, discord.PermissionOverwrite]:
        me = self.guild.me
        everyone = self.guild.default_role
        if code == "en":
            return {me: CONCORD}  # open to everyone: the facilitator speaks and the picker waits there
        wanted: dict[Any, discord.PermissionOverwrite] = {everyone: discord.PermissionOverwrite(view_channel=False)}
        seen = PARTICIPANT
        if role is not None:
            wanted[role] = seen
        facilitators = role_lookup(self.bot.facilitators, self.guild).role_id
        if facilitators is not None and (found := self.guild.get_role(facilitators)) is not None:
            wanted[found] = seen
        if interpreters is not None and languages.get(code).interpreter_only:
            wanted[interpreters] = seen
        wanted[me] = CONCORD
        return wanted

    async def _webhook(self, channel: discord.TextChannel) -> None:
        async with self._step(f"create the webhook in #{channel.name}", "Manage Webhooks"):
            if not await self.bot.sink.prepare(channel.id):
                raise SetupError(f"create the webhook in #{channel.name}", "403 Missing Permissions", "Manage Webhooks")

    async def _welcome(self, channel: discord.TextChannel, room: Room) -> None:
        """The pinned welcome, in the channel's language (machine-translated and marked draft where needed)."""
        if room.welcome_id is not None:
            try:
                message = await channel.fetch_message(room.welcome_id)
            except discord.NotFound:
                message = None
            if message is not None:
                if not message.pinned:
                    async with self._step(f"pin the welcome in #{channel.name}", "Pin Messages"):
                        await message.pin(reason=self._reason)
                    self.built.mended.append(f"pin in #{channel.name}")
                return
        text = await self._welcome_text(room.language)
        async with self._step(f"post the welcome in #{channel.name}", "Send Messages"):
            message = await channel.send(fit(text), allowed_mentions=NO_PINGS)
        self._made(f"welcome in #{channel.name}", message.delete, quiet=True)
        async with self._step(f"pin the welcome in #{channel.name}", "Pin Messages"):
            await message.pin(reason=self._reason)
        await self.store.set_room(channel.id, role_id=room.role_id, welcome_id=message.id)
        self._undo_on_failure(
            "welcome record",
            lambda: self.store.set_room(channel.id, role_id=room.role_id, welcome_id=room.welcome_id),
        )

    def _welcome_text(self, code: str) -> asyncio.Future[str]:
        """The welcome in one language, started at most once: languages without written wording are machine-
        translated, all of them at the same time and while the channels are being made."""
        if code not in self._texts:
            self._texts[code] = asyncio.ensure_future(
                meetings.localized(
                    "welcome",
                    code,
                    meeting=self.meeting.name,
                    translator=self.bot.translator,
                    keep_days=self.bot.settings.keep_days,
                )
            )
        return self._texts[code]

    async def _picker(self, codes: list[str]) -> None:
        """The language picker, pinned in the main channel; an existing one gets the current languages."""
        main = self._main
        view = picker_view(self.meeting.id, codes)
        text = meetings.picker_text(self.meeting.name, codes)
        if self.meeting.picker_message_id is not None:
            try:
                message = await main.fetch_message(self.meeting.picker_message_id)
            except discord.NotFound:
                message = None
            if message is not None:
                async with self._step(f"update the language picker in #{main.name}", "Send Messages"):
                    await message.edit(content=text, view=view, allowed_mentions=NO_PINGS)
                if not message.pinned:
                    async with self._step(f"pin the language picker in #{main.name}", "Pin Messages"):
                        await message.pin(reason=self._reason)
                return
        async with self._step(f"post the language picker in #{main.name}", "Send Messages"):
            message = await main.send(text, view=view, allowed_mentions=NO_PINGS)
        self._made(f"language picker in #{main.name}", message.delete, quiet=True)
        async with self._step(f"pin the language picker in #{main.name}", "Pin Messages"):
            await message.pin(reason=self._reason)
        before = self.meeting.picker_message_id
        await self.store.update_meeting(self.meeting.id, picker_message_id=message.id)
        self._undo_on_failure(
            "picker record", lambda: self.store.update_meeting(self.meeting.id, picker_message_id=before)
        )

    def _made(self, what: str, delete: Callable[[], Awaitable[Any]], *, quiet: bool = False) -> None:
        """Something this run made: listed in the reply, deleted again if the run fails."""
        if not quiet:
            self.built.made.append(what)
        self._undo_on_failure(what, lambda: _gone_ok(delete()))

    @property
    def _reason(self) -> str:
        return f"Concord: meeting {self.meeting.name}"

    @property
    def _undo_reason(self) -> str:
        return f"Concord: meeting {self.meeting.name} could not be set up; undoing"


async def _gone_ok(call: Awaitable[Any]) -> None:
    with contextlib.suppress(discord.NotFound):
        await call


async def remove_language(bot: ConcordBot, guild: discord.Guild, meeting: Meeting, room: Room) -> None:
    """Take a language out of a meeting: unlink its channel, then delete the channel and its role. Its messages
    stay in the store (and in transcripts) until they expire or are purged."""
    await bot.store.unlink_channel(room.channel_id)
    reason = f"Concord: {languages.get(room.language).english} removed from {meeting.name}"
    channel = guild.get_channel(room.channel_id)
    if channel is not None:
        with contextlib.suppress(discord.NotFound):
            await channel.delete(reason=reason)
    role = guild.get_role(room.role_id) if room.role_id else None
    if role is not None:
        with contextlib.suppress(discord.NotFound):
            await role.delete(reason=reason)


async def make_read_only(guild: discord.Guild, store: Store, meeting: Meeting) -> str:
    """An archived meeting's channels: everyone who saw them still does, nobody but Concord writes."""
    failed = []
    for room in await store.rooms(meeting.id):
        channel = guild.get_channel(room.channel_id)
        if channel is None:
            continue
        targets = [guild.default_role] + ([r] if room.role_id and (r := guild.get_role(room.role_id)) else [])
        try:
            for target in targets:
                overwrite = channel.overwrites_for(target)
                overwrite.send_messages = False
                await channel.set_permissions(target, overwrite=overwrite, reason=f"Concord: {meeting.name} archived")
        except discord.HTTPException as exc:
            failed.append(f"<#{room.channel_id}> ({exc.status} {exc.text})")
    return f"\n⚠️ Could not make these read-only: {', '.join(failed)}." if failed else ""
