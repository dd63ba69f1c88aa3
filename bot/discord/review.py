"""`/glossary review`: one ephemeral message that walks a volunteer through a language's drafts.

Each draft shows with Approve, Edit (a form, saved as approved), Skip and Mark doubtful; every press is
checked for the volunteer role again (it may have been taken away meanwhile), is one audited glossary write
(bot.glossary.review), and replaces the message with the next draft. A draft someone else reviewed after it
was shown is not written over: the message says who did it, and shows the next one.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

import discord

from bot.discord.errors import require_volunteer
from bot.discord.helpers import changed_by, fit, language_name
from bot.glossary import MAX_TERM, Rendering, Stale
from bot.glossary.review import Item, Progress, ReviewQueue

if TYPE_CHECKING:
    from bot.discord.bot import ConcordBot

# Seconds a draft waits for a press: under the 15 minutes an interaction token lasts, so the message can still
# be changed to say it expired.
REVIEW_TIMEOUT = 840.0
NOTES_LIMIT = 4000  # Discord's longest text input


class ReviewSession:
    """One volunteer's pass through one language: what they skipped, how many they reviewed."""

    def __init__(self, bot: ConcordBot, queue: ReviewQueue, language: str, guild_id: int | None) -> None:
        self.bot, self.queue, self.language, self.guild_id = bot, queue, language, guild_id
        self.passed: set[str] = set()  # concepts skipped or marked doubtful in this pass: not shown again
        self.reviewed = 0  # approved or marked doubtful by this volunteer in this pass
        self.lock = asyncio.Lock()  # one press at a time (a double click must not review the next draft)

    async def page(self, note: str = "") -> tuple[str, ReviewView | None]:
        """The message for the next draft (and its buttons), or the end of the queue."""
        item = await self.queue.next(self.language, self.guild_id, self.passed)
        progress = await self.queue.progress(self.language, self.guild_id)
        lines = [note] if note else []
        lines.append(self._header(progress))
        if item is None:
            lines.append(self._finished(progress))
            return fit("\n".join(lines)), None
        lines.append(format_item(item))
        return fit("\n".join(lines)), ReviewView(self, item)

    def _header(self, p: Progress) -> str:
        line = f"**{language_name(self.language)}: {p.reviewed} of {p.total} reviewed**"
        line += f" · {p.drafts} draft{'s' if p.drafts != 1 else ''}"
        if p.doubtful:
            line += f" · {p.doubtful} doubtful"
        if self.reviewed:
            line += f" · you: {self.reviewed}"
        return line + "\n-# Reviewed: approved or marked doubtful, in this server. Skipping changes nothing."

    def _finished(self, p: Progress) -> str:
        if p.total == 0:
            return (
                f"There are no {language_name(self.language)} renderings to review yet: "
                "a volunteer can add one with `/glossary add`."
            )
        if p.waiting == 0:
            return "🎉 Nothing left to review in this language. Thank you!"
        return (
            f"That was the last one you have not skipped or marked doubtful in this pass; {p.waiting} still "
            f"wait{'s' if p.waiting == 1 else ''}. Run `/glossary review language:{self.language}` again to see them."
        )


def _value(values: tuple[str, ...] | str) -> str:
    text = ", ".join(values) if isinstance(values, tuple) else values
    return text or "—"


def format_item(item: Item) -> str:
    c, r = item.concept, item.rendering
    head = f"## {c.term}" + (f" — {c.expansion}" if c.expansion else "")
    example = item.example
    lines = [
        head,
        f"-# {c.type}, {c.policy}",
        f"**Definition:** {_value(c.definition)}",
        f"**English example:** {example} (from the definition)"
        if example
        else "**English example:** none in the glossary data",
        f"**Rendering:** {r.preferred}",
        f"**Variants:** {_value(r.variants)}",
        f"**Forbidden:** {_value(r.forbidden)}",
        f"**Notes:** {_value(r.notes)}",
        f"**Status:** {r.status} · **Source:** {_value(r.source)} · "
        + ("shared by every server" if r.guild_id == 0 else "this server's own"),
    ]
    return "\n".join(lines)


def _what(r: Rendering | None) -> str:
    return "removed it" if r is None else f"{r.status}: {r.preferred}"


class ReviewView(discord.ui.View):
    """The buttons under one draft. Pressing one handles this draft; the next gets a new view."""

    def __init__(self, session: ReviewSession, item: Item) -> None:
        super().__init__(timeout=REVIEW_TIMEOUT)
        self.session, self.item = session, item
        self.handled = False
        self.typed: dict[str, str] | None = None  # the form's last values, kept when they were refused
        self.last: discord.Interaction | None = None
        if item.rendering.status == "doubtful":
            self.doubtful.disabled = True

    async def interaction_check(self, interaction: discord.Interaction) -> bool:
        require_volunteer(interaction)  # raises NotVolunteer: answered by on_error
        return True

    async def act(
        self, interaction: discord.Interaction, write: Callable[[], Awaitable[Any]] | None, done: str
    ) -> None:
        """Do one review action (None: skip), then show the next draft in the same message."""
        term = f"**{self.item.concept.term}**"
        async with self.session.lock:
            if self.handled:
                await interaction.response.send_message(
                    f"{term} was already handled; see the next one.", ephemeral=True
                )
                return
            try:
                if write is not None:
                    await write()
                note = done
            except Stale as exc:
                who = exc.entry.by.split(" (")[0]
                after = exc.entry.after if isinstance(exc.entry.after, Rendering) else None
                done_by = "reviewed" if exc.entry.action == "review" else "changed"
                note = f"⚠️ {term} was already {done_by} by {who} ({_what(after)}); nothing was changed. The next one:"
            self.handled = True
            self.stop()
            content, view = await self.session.page(note)
            await interaction.response.edit_message(content=content, view=view)
            if view is not None:
                view.last = interaction

    @discord.ui.button(label="Approve", style=discord.ButtonStyle.success, custom_id="glossary-review-approve")
    async def approve(self, interaction: discord.Interaction, button: discord.ui.Button) -> None:
        s, item = self.session, self.item

        async def write() -> None:
            await s.queue.approve(item, by=changed_by(interaction.user), guild_id=s.guild_id)
            s.reviewed += 1

        await self.act(interaction, write, f"✅ Approved: **{item.concept.term}** → {item.rendering.preferred}")

    @discord.ui.button(label="Edit", style=discord.ButtonStyle.primary, custom_id="glossary-review-edit")
    async def edit(self, interaction: discord.Interaction, button: discord.ui.Button) -> None:
        await interaction.response.send_modal(ReviewEdit(self))

    @discord.ui.button(label="Skip", style=discord.ButtonStyle.secondary, custom_id="glossary-review-skip")
    async def skip(self, interaction: discord.Interaction, button: discord.ui.Button) -> None:
        self.session.passed.add(self.item.concept.key)
        await self.act(interaction, None, f"⏭️ Skipped **{self.item.concept.term}** (it stays a draft).")

    @discord.ui.button(label="Mark doubtful", style=discord.ButtonStyle.danger, custom_id="glossary-review-doubtful")
    async def doubtful(self, interaction: discord.Interaction, button: discord.ui.Button) -> None:
        s, item = self.session, self.item

        async def write() -> None:
            await s.queue.doubt(item, by=changed_by(interaction.user), guild_id=s.guild_id)
            s.passed.add(item.concept.key)
            s.reviewed += 1

        await self.act(
            interaction,
            write,
            f"🤔 Marked doubtful: **{item.concept.term}** → {item.rendering.preferred}. It is still used, and waits "
            "behind the drafts for someone to approve or correct it.",
        )

    async def on_timeout(self) -> None:
        if self.last is not None and not self.handled:
            with contextlib.suppress(discord.HTTPException):
                await self.last.edit_original_response(
                    content=f"This review paused after {int(REVIEW_TIMEOUT // 60)} minutes without a press. Run "
                    f"`/glossary review language:{self.session.language}` to go on.",
                    view=None,
                )

    async def on_error(self, interaction: discord.Interaction, error: Exception, item: Any) -> None:
        await self.session.bot.tree.on_error(interaction, error)  # type: ignore[arg-type]


class ReviewEdit(discord.ui.Modal):
    """The draft's rendering, variants, forbidden forms and notes, editable; saved as approved."""

    def __init__(self, view: ReviewView) -> None:
        item = view.item
        super().__init__(title=f"Edit and approve: {item.concept.term}"[:45], timeout=REVIEW_TIMEOUT)
        self.review = view
        r = item.rendering
        typed = view.typed or {
            "rendering": r.preferred,
            "variants": " | ".join(r.variants),
            "forbidden": " | ".join(r.forbidden),
            "notes": r.notes,
        }
        name = language_name(item.language).split(" · ")[0]
        self.rendering = discord.ui.TextInput(
            label=f"Rendering in {name}"[:45], default=typed["rendering"], max_length=MAX_TERM, custom_id="rendering"
        )
        self.variants = discord.ui.TextInput(
            label="Also accepted (separated by |)", default=typed["variants"], required=False, max_length=1000,
            custom_id="variants",
        )  # fmt: skip
        self.forbidden = discord.ui.TextInput(
            label="Never use (separated by |)", default=typed["forbidden"], required=False, max_length=1000,
            custom_id="forbidden",
        )  # fmt: skip
        self.notes = discord.ui.TextInput(
            label="Notes (why, or where it comes from)", style=discord.TextStyle.paragraph,
            default=typed["notes"][:NOTES_LIMIT], required=False, max_length=NOTES_LIMIT, custom_id="notes",
        )  # fmt: skip
        for field in (self.rendering, self.variants, self.forbidden, self.notes):
            self.add_item(field)

    async def on_submit(self, interaction: discord.Interaction) -> None:
        require_volunteer(interaction)
        view, s, item = self.review, self.review.session, self.review.item
        values = {f.custom_id: f.value for f in (self.rendering, self.variants, self.forbidden, self.notes)}
        view.typed = values  # a refused value comes back in the form, not lost

        async def write() -> None:
            await s.queue.correct(
                item, by=changed_by(interaction.user), guild_id=s.guild_id, preferred=values["rendering"],
                variants=values["variants"], forbidden=values["forbidden"], notes=values["notes"],
            )  # fmt: skip
            s.reviewed += 1

        await view.act(interaction, write, f"✅ Saved and approved: **{item.concept.term}** → {values['rendering']}")

    async def on_error(self, interaction: discord.Interaction, error: Exception) -> None:
        await self.review.session.bot.tree.on_error(interaction, error)  # type: ignore[arg-type]


async def start(bot: ConcordBot, queue: ReviewQueue, interaction: discord.Interaction, language: str) -> None:
    """Answer `/glossary review` with the first draft."""
    session = ReviewSession(bot, queue, language, interaction.guild_id)
    content, view = await session.page()
    if view is None:
        await interaction.response.send_message(content, ephemeral=True)
        return
    await interaction.response.send_message(content, view=view, ephemeral=True)
    view.last = interaction
