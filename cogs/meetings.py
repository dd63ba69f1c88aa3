"""Meetings from slash commands.

- `/meeting create | start | pause | end | transcript | archive | purge`, `/meeting languages add | remove`: a
  facilitator runs a whole multilingual meeting (the lifecycle lives in bot/meetings.py, what is made on
  Discord in bot/discord/layout.py, the language picker in bot/discord/views.py);
- "Show original", a message context menu: the source of a relayed message, its language and a link;
- `/concord link | unlink | status`: bind existing channels to a meeting and a language by hand.

Who may: members with Manage Server (for `/meeting`, also Manage Channels), or the facilitator role
(`CONCORD_FACILITATOR_ROLE`: an ID, or a name resolved once per server); "Show original" is for everyone.
Replies are ephemeral. Errors (unknown language, missing permission, a meeting in the wrong state) are turned
into polite replies by the one handler in `bot.discord.errors.ConcordTree.on_error`.
"""

from __future__ import annotations

import asyncio
import contextlib
import io
import logging
from typing import TYPE_CHECKING, Literal

import discord
from discord import app_commands
from discord.ext import commands

from bot import languages, meetings
from bot.bidi import for_discord
from bot.discord.errors import BotLacks, NotFacilitator, require_role
from bot.discord.helpers import (
    MEETING_NEEDS,
    RELAY_NEEDS,
    fit,
    lacking,
    language_choices,
    language_list_choices,
    message_link,
)
from bot.discord.layout import Builder, Built, make_read_only, remove_language
from bot.discord.meeting_posts import announce, as_file, call_interpreters, post_transcripts, transcript_files
from bot.discord.views import LanguagePicker
from bot.meetings import MeetingError
from bot.store import Meeting
from bot.transcripts import labels

if TYPE_CHECKING:
    from bot.discord.bot import ConcordBot


log = logging.getLogger(__name__)

FILES_PER_MESSAGE = 10  # Discord's limit
DRAIN_BEFORE_END = 10.0  # seconds /meeting end waits for messages still on their way before the transcript


def describe(code: str) -> str:
    lang = languages.get(code)
    if code == "en":
        return "English (main channel)"
    return lang.english if lang.native == lang.english else f"{lang.english} · {lang.native}"


async def _facilitator_check(interaction: discord.Interaction) -> bool:
    require_role(interaction, interaction.client.facilitators, NotFacilitator)  # type: ignore[attr-defined]
    return True


# Server-side in every command: Manage Server, or the CONCORD_FACILITATOR_ROLE role.
facilitators_only = app_commands.check(_facilitator_check)


class Meetings(commands.Cog):
    concord = app_commands.Group(
        name="concord",
        description="Live interpretation channels for a meeting",
        guild_only=True,
        default_permissions=discord.Permissions(manage_guild=True),
    )

    def __init__(self, bot: ConcordBot) -> None:
        self.bot = bot
        if bot.settings.facilitator_role is not None:  # let facilitators see the commands; the check decides
            self.concord.default_permissions = None

    @concord.command(name="link", description="Make this channel a meeting's channel for one language")
    @app_commands.describe(meeting="Meeting name, e.g. ELAC", language="Language code; en is the main channel")
    @facilitators_only
    async def link(self, interaction: discord.Interaction, meeting: str, language: str) -> None:
        lang = languages.get(language)  # UnknownLanguage -> polite reply from the central handler
        found = await self.bot.store.create_meeting(interaction.guild_id, meeting.strip())
        await self.bot.store.link_channel(interaction.channel_id, found.id, lang.code)
        await interaction.response.send_message(
            f"Linked <#{interaction.channel_id}> to meeting **{found.name}** as {describe(lang.code)}.",
            ephemeral=True,
        )

    @concord.command(name="unlink", description="Stop relaying this channel")
    @facilitators_only
    async def unlink(self, interaction: discord.Interaction) -> None:
        removed = await self.bot.store.unlink_channel(interaction.channel_id)
        text = "This channel is no longer part of a meeting." if removed else "This channel was not linked."
        await interaction.response.send_message(text, ephemeral=True)

    @concord.command(name="status", description="Show this channel's meeting and its language channels")
    @facilitators_only
    async def status(self, interaction: discord.Interaction) -> None:
        store = self.bot.store
        meeting = await store.meeting_of_channel(interaction.channel_id)
        if meeting is None:
            await interaction.response.send_message(
                "This channel is not linked to a meeting. Use `/concord link` to link it.", ephemeral=True
            )
            return
        channels = await store.rooms(meeting.id)
        lines = [f"**{meeting.name}** — {len(channels)} channels · {state_line(meeting)}"]
        lines += [f"• <#{c.channel_id}> — {describe(c.language)}" for c in channels]
        await interaction.response.send_message("\n".join(lines), ephemeral=True)

    @link.autocomplete("language")
    async def _language_choices(self, interaction: discord.Interaction, current: str) -> list[app_commands.Choice[str]]:
        return language_choices(current, include_english=True)

    @link.autocomplete("meeting")
    async def _meeting_choices(self, interaction: discord.Interaction, current: str) -> list[app_commands.Choice[str]]:
        return await meeting_choices(self.bot, interaction, current)

    @commands.command(name="sync")
    @commands.is_owner()
    async def sync(self, ctx: commands.Context, scope: Literal["here", "global"] = "here") -> None:
        """`@Concord sync` registers slash commands in this server (instant); `@Concord sync global` everywhere."""
        if scope == "global" or ctx.guild is None:
            synced = await self.bot.tree.sync()
        else:
            self.bot.tree.copy_global_to(guild=ctx.guild)
            synced = await self.bot.tree.sync(guild=ctx.guild)
        await ctx.reply(f"Synced {len(synced)} command(s) ({scope}).", mention_author=False)

    async def cog_command_error(self, ctx: commands.Context, error: commands.CommandError) -> None:
        if isinstance(error, commands.CheckFailure | commands.UserInputError):
            return  # someone else tried the owner's command, or mistyped it: stay quiet
        raise error


async def meeting_choices(bot: ConcordBot, interaction: discord.Interaction, current: str) -> list[app_commands.Choice]:
    typed = current.strip().lower()
    found = await bot.store.meetings(interaction.guild_id)
    return [app_commands.Choice(name=m.name, value=m.name) for m in found if typed in m.name.lower()][:25]


def state_line(meeting: Meeting) -> str:
    relaying = "relaying" if meeting.active else "not relaying"
    always = ", always on" if meeting.always_on and meeting.state != "archived" else ""
    return f"{meeting.state} ({relaying}{always})"


async def _runs_meetings(interaction: discord.Interaction) -> bool:
    if interaction.permissions.manage_channels:
        return True
    require_role(interaction, interaction.client.facilitators, NotFacilitator)  # type: ignore[attr-defined]
    return True


# Server-side in every /meeting command: Manage Channels, Manage Server, or the CONCORD_FACILITATOR_ROLE role.
facilitates = app_commands.check(_runs_meetings)
MEETING_OPTION = "Meeting name (default: the meeting of this channel)"


class MeetingCommands(commands.Cog):
    meeting = app_commands.Group(
        name="meeting",
        description="Run a multilingual meeting: channels, language picker, start, end, transcripts",
        guild_only=True,
        default_permissions=discord.Permissions(manage_channels=True),
    )
    langs = app_commands.Group(name="languages", description="Add or remove a meeting's languages", parent=meeting)

    def __init__(self, bot: ConcordBot) -> None:
        self.bot = bot
        if bot.settings.facilitator_role is not None:  # let facilitators see the commands; the check decides
            self.meeting.default_permissions = None
        self.original_menu = app_commands.ContextMenu(name="Show original", callback=self.show_original)
        self.original_menu.guild_only = True
        self.bursts = meetings.Bursts()
        self._locks: dict[tuple[int, str], asyncio.Lock] = {}
        self._tasks: set[asyncio.Task] = set()
        self._chained = None

    async def cog_load(self) -> None:
        self.bot.tree.add_command(self.original_menu)
        self.bot.add_dynamic_items(LanguagePicker)
        self._chained = self.bot.engine.on_delivered
        self.bot.engine.on_delivered = self._delivered

    async def cog_unload(self) -> None:
        self.bot.tree.remove_command(self.original_menu.name, type=self.original_menu.type)
        self.bot.remove_dynamic_items(LanguagePicker)
        self.bot.engine.on_delivered = self._chained

    # --- setting up ---------------------------------------------------------------------------

    @meeting.command(name="create", description="Create (or repair) a meeting: channels, roles, picker, welcome")
    @app_commands.describe(
        name="Meeting name, e.g. ELAC",
        languages="Language codes besides English, separated by commas, e.g. es,vi,zh-TW,ko,ar,hmn",
        always_on="Relay at all times, not only between /meeting start and /meeting end (default: no)",
        transcripts_to_channels="At the end, also post each language's transcript in its channel (default: no)",
        interpreters="Volunteers who interpret languages no engine translates (default: a new role)",
    )
    @facilitates
    async def create(
        self,
        interaction: discord.Interaction,
        name: str,
        languages: str,
        always_on: bool | None = None,
        transcripts_to_channels: bool | None = None,
        interpreters: discord.Role | None = None,
    ) -> None:
        name = meetings.clean_name(name)
        codes = [lang.code for lang in meetings.parse_languages(languages)]
        self._bot_needs(interaction, MEETING_NEEDS, "set up a meeting")
        await interaction.response.defer(ephemeral=True, thinking=True)
        async with self._lock(interaction.guild_id, name):
            found = await self.bot.store.meeting_by_name(interaction.guild_id, name)
            if found is not None and not found.managed:
                raise MeetingError(
                    f"**{name}** was set up by hand with `/concord link`; choose another name for a new meeting"
                )
            if found is not None and found.state == "archived":
                raise MeetingError(f"**{name}** is archived; choose another name for a new meeting")
            meeting, made_now = await self.bot.store.create_managed_meeting(
                interaction.guild_id, name, always_on=bool(always_on)
            )
            options: dict[str, object] = {}
            if always_on is not None:
                options["always_on"] = always_on
            if transcripts_to_channels is not None:
                options["share_transcripts"] = transcripts_to_channels
            if interpreters is not None:
                options["interpreter_role_id"] = interpreters.id
            await self.bot.store.update_meeting(meeting.id, **options)
            meeting = await self.bot.store.meeting(meeting.id)
            before = {r.language for r in await self.bot.store.rooms(meeting.id)}
            built = await Builder(self.bot, interaction.guild, meeting, made_now=made_now).build(codes)
        if meeting.state == "live":  # new channels get the opening notice the others had
            await announce(self.bot, meeting, "started", only=[c for c in codes if c not in before])
        await self._reply(interaction, self._built_text(meeting, built, made_now=made_now))

    @langs.command(name="add", description="Add language channels to a meeting")
    @app_commands.describe(languages="Language codes, separated by commas, e.g. km,so", meeting=MEETING_OPTION)
    @facilitates
    async def languages_add(self, interaction: discord.Interaction, languages: str, meeting: str | None = None) -> None:
        codes = [lang.code for lang in meetings.parse_languages(languages)]
        found = await self._managed(interaction, meeting)
        self._bot_needs(interaction, MEETING_NEEDS, "add language channels")
        await interaction.response.defer(ephemeral=True, thinking=True)
        async with self._lock(interaction.guild_id, found.name):
            before = {r.language for r in await self.bot.store.rooms(found.id)}
            built = await Builder(self.bot, interaction.guild, found, made_now=False).build(codes)
        added = [c for c in codes if c not in before]
        if found.state == "live":  # the new channels get the opening notice the others had
            await announce(self.bot, found, "started", only=added)
        await self._reply(interaction, self._built_text(found, built, made_now=False))

    @langs.command(name="remove", description="Remove language channels (and their roles) from a meeting")
    @app_commands.describe(languages="Language codes, separated by commas", meeting=MEETING_OPTION)
    @facilitates
    async def languages_remove(
        self, interaction: discord.Interaction, languages: str, meeting: str | None = None
    ) -> None:
        codes = [lang.code for lang in meetings.parse_languages(languages)]
        found = await self._managed(interaction, meeting)
        self._bot_needs(interaction, MEETING_NEEDS, "remove language channels")
        rooms = {r.language: r for r in await self.bot.store.rooms(found.id)}
        missing = [c for c in codes if c not in rooms]
        if missing:
            raise MeetingError(f"**{found.name}** has no {', '.join(describe(c) for c in missing)} channel")
        await interaction.response.defer(ephemeral=True, thinking=True)
        async with self._lock(interaction.guild_id, found.name):
            for code in codes:
                await remove_language(self.bot, interaction.guild, found, rooms[code])
            await Builder(self.bot, interaction.guild, found, made_now=False).build([])  # the picker follows
        names = ", ".join(describe(c) for c in codes)
        await self._reply(
            interaction,
            f"Removed {names} from **{found.name}**: channel and role deleted. What was said there stays in "
            "the transcripts until it expires or `/meeting purge` deletes it.",
        )

    # --- running it ----------------------------------------------------------------------------

    @meeting.command(name="start", description="Start (or resume) the meeting: relaying begins, every channel is told")
    @app_commands.describe(meeting=MEETING_OPTION)
    @facilitates
    async def start(self, interaction: discord.Interaction, meeting: str | None = None) -> None:
        found = await self._meeting(interaction, meeting)
        self._bot_needs(interaction, RELAY_NEEDS, "run a meeting")
        await interaction.response.defer(ephemeral=True, thinking=True)
        step = await meetings.move(self.bot.store, found, "start")
        problems = await announce(self.bot, found, step.notice)
        verb = "resumed" if step.notice == "resumed" else "live"
        await self._reply(
            interaction,
            f"▶️ **{found.name}** is {verb}: messages are relayed from now on. `/meeting pause` pauses it, "
            f"`/meeting end` ends it and gives you the transcripts." + problems,
        )

    @meeting.command(name="pause", description="Pause the meeting: nothing is relayed until /meeting start")
    @app_commands.describe(meeting=MEETING_OPTION)
    @facilitates
    async def pause(self, interaction: discord.Interaction, meeting: str | None = None) -> None:
        found = await self._meeting(interaction, meeting)
        await interaction.response.defer(ephemeral=True, thinking=True)
        step = await meetings.move(self.bot.store, found, "pause")
        problems = await announce(self.bot, found, step.notice)
        await self._reply(interaction, f"⏸️ **{found.name}** is paused. `/meeting start` resumes it." + problems)

    @meeting.command(name="end", description="End the meeting: closing notice, attendance and transcripts")
    @app_commands.describe(meeting=MEETING_OPTION)
    @facilitates
    async def end(self, interaction: discord.Interaction, meeting: str | None = None) -> None:
        found = await self._meeting(interaction, meeting)
        await interaction.response.defer(ephemeral=True, thinking=True)
        step = await meetings.move(self.bot.store, found, "end")
        await self._finish(interaction, found, step)

    @meeting.command(name="transcript", description="Get the transcripts of the meeting so far, in every language")
    @app_commands.describe(meeting=MEETING_OPTION)
    @facilitates
    async def transcript(self, interaction: discord.Interaction, meeting: str | None = None) -> None:
        found = await self._meeting(interaction, meeting)
        await interaction.response.defer(ephemeral=True, thinking=True)
        await self._send_transcripts(interaction, found, to_channels=False)

    @meeting.command(name="archive", description="End the meeting for good: channels become read-only, kept")
    @app_commands.describe(meeting=MEETING_OPTION)
    @facilitates
    async def archive(self, interaction: discord.Interaction, meeting: str | None = None) -> None:
        found = await self._meeting(interaction, meeting)
        if found.managed:
            self._bot_needs(interaction, {"Manage Roles": MEETING_NEEDS["Manage Roles"]}, "archive the meeting")
        await interaction.response.defer(ephemeral=True, thinking=True)
        step = await meetings.move(self.bot.store, found, "archive")
        problems = await make_read_only(interaction.guild, self.bot.store, found) if found.managed else ""
        await self._reply(
            interaction,
            f"🗄️ **{found.name}** is archived: nothing is relayed any more, its channels are read-only and kept; "
            "`/meeting transcript` still gives its last transcripts until they expire." + problems,
        )
        if step.ended:
            await self._finish(interaction, found, step, archived=True)

    @meeting.command(name="purge", description="Delete everything Concord keeps of a meeting's messages, now")
    @app_commands.describe(meeting="The meeting's name (typed out, to be sure)")
    @facilitates
    async def purge(self, interaction: discord.Interaction, meeting: str) -> None:
        found = await self._meeting(interaction, meeting)
        forgotten = await self.bot.store.purge_meeting(found.id)
        self.bot.translator.forget_cached()
        await self._reply(
            interaction,
            f"🧹 Deleted what Concord kept of **{found.name}**: {forgotten} message(s) with their translations "
            "and corrections. Transcripts of it can no longer be made. Messages in the Discord channels are not "
            "touched (delete the channels, or `/meeting archive`, for that).",
        )

    @create.autocomplete("languages")
    @languages_add.autocomplete("languages")
    @languages_remove.autocomplete("languages")
    async def _languages(self, interaction: discord.Interaction, current: str) -> list[app_commands.Choice[str]]:
        return language_list_choices(current)

    @languages_add.autocomplete("meeting")
    @languages_remove.autocomplete("meeting")
    @start.autocomplete("meeting")
    @pause.autocomplete("meeting")
    @end.autocomplete("meeting")
    @transcript.autocomplete("meeting")
    @archive.autocomplete("meeting")
    @purge.autocomplete("meeting")
    async def _meetings(self, interaction: discord.Interaction, current: str) -> list[app_commands.Choice[str]]:
        return await meeting_choices(self.bot, interaction, current)

    # --- "Show original" -----------------------------------------------------------------------

    async def show_original(self, interaction: discord.Interaction, message: discord.Message) -> None:
        """The source of a relayed copy (and of messages combined into it): text, language and a link."""
        store = self.bot.store
        copy = await store.relayed(message.id)
        if copy is None:
            source = await store.source(message.id)
            text = (
                f"This is the original message ({describe(source.language)})."
                if source is not None
                else "Concord has no original for this message: it is not a relayed copy, or its original is no "
                "longer kept (purged, or older than the retention period)."
            )
            await self._reply(interaction, text)
            return
        delivery = await store.delivery(copy.source_id, copy.channel_id)
        ids = [copy.source_id, *(delivery.guests if delivery and copy.part == 0 else [])]
        found = [s for s in [await store.source(i) for i in ids] if s is not None and not s.deleted]
        if not found:
            await self._reply(interaction, "The original is no longer kept (it was deleted, purged or expired).")
            return
        word = labels(copy.language).original
        blocks = []
        for source in found:
            lang = languages.get(source.language)
            link = message_link(interaction.guild_id or 0, source.channel_id, source.message_id)
            name = lang.native if lang.native == lang.english else f"{lang.native} ({lang.english})"
            body = "\n".join(f"> {line}" for line in for_discord(source.content or "…", lang).split("\n"))
            blocks.append(f"**{word}** · {name} · [↗]({link})\n{body}")
        text = "\n\n".join(blocks)
        if len(text) <= 2000:
            await self._reply(interaction, text)
        else:  # too long for a message: the texts as a file
            plain = "\n\n".join(f"[{s.language}] {message_link(interaction.guild_id or 0, s.channel_id, s.message_id)}"
                                 f"\n{s.content}" for s in found)  # fmt: skip
            file = discord.File(io.BytesIO(plain.encode()), filename="original.txt")
            await self._reply(interaction, fit(text, 1900), file=file)

    # --- interpreters --------------------------------------------------------------------------

    def _delivered(self, source_id: int, channel_id: int, translation: object) -> None:
        if self._chained is not None:
            self._chained(source_id, channel_id, translation)
        if getattr(translation, "unsupported", False) and self.bursts.starts(channel_id):
            task = asyncio.ensure_future(call_interpreters(self.bot, channel_id))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    # --- helpers -------------------------------------------------------------------------------

    def _lock(self, guild_id: int | None, name: str) -> asyncio.Lock:
        return self._locks.setdefault((guild_id or 0, name.casefold()), asyncio.Lock())

    @staticmethod
    def _bot_needs(interaction: discord.Interaction, needs: dict[str, discord.Permissions], action: str) -> None:
        """Refuse, before changing anything, when Concord lacks server permissions the command needs."""
        guild = interaction.guild
        if guild is None:
            raise app_commands.NoPrivateMessage()
        missing = lacking(guild.me.guild_permissions, needs)
        if missing:
            raise BotLacks(missing, action)

    async def _meeting(self, interaction: discord.Interaction, name: str | None) -> Meeting:
        store = self.bot.store
        if name:
            found = await store.meeting_by_name(interaction.guild_id, " ".join(name.split()))
            if found is None:
                raise MeetingError(f"there is no meeting called **{discord.utils.escape_markdown(name)}** here")
            return found
        found = await store.meeting_of_channel(interaction.channel_id)
        if found is None:
            raise MeetingError(
                "this channel is not part of a meeting: run the command in one of its channels, or name it"
            )
        return found

    async def _managed(self, interaction: discord.Interaction, name: str | None) -> Meeting:
        found = await self._meeting(interaction, name)
        if not found.managed:
            raise MeetingError(f"**{found.name}** was linked by hand: use `/concord link` and `/concord unlink`")
        if found.state == "archived":
            raise MeetingError(f"**{found.name}** is archived")
        return found

    async def _finish(
        self, interaction: discord.Interaction, meeting: Meeting, step: meetings.Step, *, archived: bool = False
    ) -> None:
        """The end of a session: messages on their way delivered, the closing notice, attendance, transcripts."""
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self.bot.engine.drain(), DRAIN_BEFORE_END)
        problems = await announce(self.bot, meeting, step.notice)
        ended = await self.bot.store.meeting(meeting.id)
        if not archived:
            still = " It is always on, so messages are still relayed." if ended.always_on else ""
            await self._reply(interaction, f"⏹️ **{meeting.name}** has ended.{still}" + problems)
        await self._send_transcripts(interaction, ended, to_channels=ended.share_transcripts)

    async def _send_transcripts(self, interaction: discord.Interaction, meeting: Meeting, *, to_channels: bool) -> None:
        """Attendance and the transcripts to the facilitator, in messages of at most 10 files (and, when the
        meeting allows it, each language's pair to its channel)."""
        head, files = await transcript_files(self.bot, interaction.guild, meeting)
        for start in range(0, len(files), FILES_PER_MESSAGE):
            batch = [as_file(f) for f in files[start : start + FILES_PER_MESSAGE]]
            await interaction.followup.send(fit(head) if start == 0 else "…", files=batch, ephemeral=True)
        if to_channels and (problems := await post_transcripts(self.bot, meeting, files)):
            await self._reply(interaction, "⚠️ The transcript could not be posted in: " + problems)

    async def _reply(self, interaction: discord.Interaction, text: str, **kwargs: object) -> None:
        if interaction.response.is_done():
            await interaction.followup.send(fit(text), ephemeral=True, **kwargs)
        else:
            await interaction.response.send_message(fit(text), ephemeral=True, **kwargs)

    @staticmethod
    def _built_text(meeting: Meeting, built: Built, *, made_now: bool) -> str:
        verb = "is ready" if made_now else "is set up"
        lines = [f"✅ **{meeting.name}** {verb}. Main channel: <#{built.main}> — parents pick their language there."]
        lines.append(" · ".join(f"<#{cid}> {languages.get(code).native}" for code, cid in built.channels.items()))
        if built.made and not made_now:
            lines.append("Made: " + ", ".join(built.made) + ".")
        if built.mended:
            lines.append("Repaired: " + ", ".join(built.mended) + ".")
        if not made_now and not built.made and not built.mended:
            lines.append("Nothing was missing.")
        if meeting.state in ("ready", "ended"):
            relay = (
                "Messages are relayed at all times (always on)."
                if meeting.always_on
                else ("Nothing is relayed until `/meeting start`.")
            )
            lines.append(relay)
        return "\n".join(lines)


async def setup(bot: ConcordBot) -> None:
    await bot.add_cog(Meetings(bot))
    await bot.add_cog(MeetingCommands(bot))
