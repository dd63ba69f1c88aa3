"""What a meeting posts on Discord besides relayed messages: the notices in every channel, in each one's
language; the transcripts; the call to the interpreters."""

from __future__ import annotations

import asyncio
import contextlib
import io
import logging
from typing import TYPE_CHECKING

import discord

from bot import meetings
from bot.discord.helpers import NO_PINGS, fit
from bot.store import Meeting
from bot.transcripts import TranscriptFile, attendance, attendance_text, labels, transcripts

if TYPE_CHECKING:
    from bot.discord.bot import ConcordBot

log = logging.getLogger(__name__)


async def announce(bot: ConcordBot, meeting: Meeting, kind: str | None, *, only: list[str] | None = None) -> str:
    """Post a notice in every channel of the meeting, each in its language. Returns a line about channels
    where it could not be posted ('' when none)."""
    if kind is None:
        return ""
    rooms = [r for r in await bot.store.rooms(meeting.id) if only is None or r.language in only]

    async def one(channel_id: int, code: str) -> str | None:
        channel = bot.get_channel(channel_id)
        if channel is None:
            return f"<#{channel_id}> (not found)"
        text = await meetings.localized(
            kind, code, meeting=meeting.name, translator=bot.translator, keep_days=bot.settings.keep_days
        )
        try:
            await channel.send(fit(text), allowed_mentions=NO_PINGS)
        except discord.HTTPException as exc:
            return f"<#{channel_id}> ({exc.status} {exc.text})"
        return None

    failed = [f for f in await asyncio.gather(*(one(r.channel_id, r.language) for r in rooms)) if f]
    return f"\n⚠️ The notice could not be posted in: {', '.join(failed)}." if failed else ""


async def transcript_files(
    bot: ConcordBot, guild: discord.Guild | None, meeting: Meeting
) -> tuple[str, list[TranscriptFile]]:
    """(the attendance, as a message for the facilitator; one Markdown and one HTML transcript per language)."""
    record = await meetings.record(bot.store, meeting, names=member_names(bot, guild), timezone=bot.settings.timezone)
    summary = attendance_text(attendance(record))
    head = f"📄 Transcripts of **{meeting.name}** ({len(record.entries)} messages), one per language:\n{summary}"
    return head, transcripts(record)


def as_file(file: TranscriptFile) -> discord.File:
    return discord.File(io.BytesIO(file.content.encode()), filename=file.filename)


async def post_transcripts(bot: ConcordBot, meeting: Meeting, files: list[TranscriptFile]) -> str:
    """Each language's transcripts in its own channel; returns where they could not be posted ('' if nowhere)."""
    failed = []
    for room in await bot.store.rooms(meeting.id):
        channel = bot.get_channel(room.channel_id)
        mine = [as_file(f) for f in files if f.language == room.language]
        if channel is None or not mine:
            continue
        try:
            text = f"📄 {labels(room.language).transcript}: **{meeting.name}**"
            await channel.send(text, files=mine, allowed_mentions=NO_PINGS)
        except discord.HTTPException as exc:
            log.warning("could not post the transcript in %s: %s %s", room.channel_id, exc.status, exc.text)
            failed.append(f"<#{room.channel_id}> ({exc.status} {exc.text})")
    return ", ".join(failed)


def member_names(bot: ConcordBot, guild: discord.Guild | None) -> meetings.Names:
    """Names for the mentions in a transcript: members, roles and channels as the server calls them."""

    async def names(kind: str, ident: int) -> str | None:
        if guild is None:
            return None
        if kind == "role":
            role = guild.get_role(ident)
            return role.name if role else None
        if kind == "channel":
            channel = guild.get_channel(ident)
            return channel.name if channel else None
        member = guild.get_member(ident) or bot.get_user(ident)
        if member is None:
            with contextlib.suppress(discord.HTTPException):
                member = await bot.fetch_user(ident)
        return member.display_name if member else None

    return names


async def call_interpreters(bot: ConcordBot, channel_id: int) -> None:
    """A burst of messages no engine translates began in a channel: ping the meeting's interpreters, once."""
    try:
        meeting = await bot.store.meeting_of_channel(channel_id)
        channel = bot.get_channel(channel_id)
        if meeting is None or meeting.interpreter_role_id is None or channel is None:
            return
        role = discord.Object(meeting.interpreter_role_id)
        await channel.send(
            f"🗣️ <@&{role.id}> — messages here need an interpreter.",
            allowed_mentions=discord.AllowedMentions(everyone=False, users=False, roles=[role]),
        )
    except Exception:
        log.exception("could not call the interpreters in channel %s", channel_id)
