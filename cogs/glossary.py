"""`/glossary ...` and the "Correct translation" message command: volunteers keep the school's vocabulary.

Everyone may look (`show`, `search`, `history`, `export`); changing terms and correcting translations needs
the volunteer role (`CONCORD_VOLUNTEER_ROLE`: an ID, or a name resolved once per server) or Manage Server. Replies are
ephemeral. Every change is scoped to this server (`guild_id`): its own rows override the shared glossary,
which stays as the deployer loaded it. Errors (`GlossaryError`, `CorrectionError`, `NotVolunteer`) become
polite replies in `bot.discord.errors.ConcordTree.on_error`; whenever one is raised, nothing was changed.

`/glossary review` walks a language's drafts one at a time (the views are in bot/discord/review.py).

An import that would change approved entries is not applied: the reply lists what would change, with an
"Import anyway" button (for the volunteer who ran it, for 5 minutes) and a "Cancel" one.
"""

from __future__ import annotations

import io
from typing import TYPE_CHECKING, Any, Literal

import discord
from discord import app_commands
from discord.ext import commands

from bot import languages
from bot.discord import review as review_ui
from bot.discord.errors import require_volunteer
from bot.discord.helpers import changed_by, fit, language_choices, language_name, undecorate
from bot.glossary import (
    MAX_TERM,
    AuditEntry,
    BadFile,
    BadTerm,
    Concept,
    DuplicateTerm,
    GlossaryError,
    ImportSummary,
    Rendering,
    TermView,
    UnknownAudit,
    WouldOverwrite,
    clean_term,
    target_language,
)
from bot.glossary.review import ReviewQueue
from bot.relay import CORRECTION_LIMIT, without_markers

if TYPE_CHECKING:
    from bot.discord.bot import ConcordBot

CONFIRM_TIMEOUT = 300.0  # seconds the "Import anyway" button stays usable
CORRECTION_TIMEOUT = 900.0  # seconds to fill in the correction form
Status = Literal["draft", "approved", "forbidden", "doubtful"]
Case = Literal["auto", "exact"]


# --- who may change things -----------------------------------------------------------------------


async def _volunteer_check(interaction: discord.Interaction) -> bool:
    require_volunteer(interaction)
    return True


volunteers_only = app_commands.check(_volunteer_check)


# --- formatting ----------------------------------------------------------------------------------


def _rendering_line(r: Rendering) -> str:
    line = f"{language_name(r.language)}: **{r.preferred}** · {r.status}"
    if r.guild_id == 0:
        line += " · shared"
    extra = []
    if r.variants:
        extra.append("also: " + ", ".join(r.variants))
    if r.forbidden:
        extra.append("never: " + ", ".join(r.forbidden))
    if r.case == "exact":
        extra.append("case: exactly as written")
    if r.notes:
        extra.append(f"notes: {r.notes}")
    if r.status == "doubtful":
        extra.append("doubtful: a reviewer was unsure; still used until someone approves or corrects it")
    return "\n".join([line, *(f"-# {e}" for e in extra)])


def format_concept(c: Concept) -> str:
    head = f"**{c.term}** ({c.type}, {c.policy})"
    if c.expansion:
        head += f" — {c.expansion}"
    head += f"\n-# {c.definition}" if c.definition else ""
    return head + (f"\n-# not the term in: {', '.join(c.exceptions)}" if c.exceptions else "")


def format_view(view: TermView, language: str) -> str:
    body = format_concept(view.concept)
    if view.rendering is None:
        return f"{body}\nNo {language_name(language)} rendering yet: a volunteer can add one with `/glossary add`."
    return f"{body}\n{_rendering_line(view.rendering)}"


def _state(row: Concept | Rendering | None) -> str:
    if row is None:
        return "(none)"
    if isinstance(row, Rendering):
        return f"{row.preferred!r} ({row.status})"
    return repr(row.term)


def format_entry(entry: AuditEntry) -> str:
    what = language_name(entry.language) if entry.language else "concept"
    change = f"{_state(entry.before)} → {_state(entry.after)}"
    who = entry.by.split(" (")[0]
    return f"`#{entry.id}` <t:{int(entry.at)}:d> **{entry.action}** {what}: {change} — {who}"


def format_summary(summary: ImportSummary, limit: int = 1500) -> str:
    return "```\n" + fit(summary.render(), limit) + "\n```"


def _term_choices(views: list[TermView]) -> list[app_commands.Choice[str]]:
    choices = []
    for view in views[:25]:
        label = view.concept.term + (f" — {view.concept.expansion}" if view.concept.expansion else "")
        choices.append(app_commands.Choice(name=label[:100], value=view.concept.term[:100]))
    return choices


# --- the commands --------------------------------------------------------------------------------


class GlossaryCog(commands.Cog, name="Glossary"):
    group = app_commands.Group(
        name="glossary",
        description="The school's glossary: how each language says IEP, LCAP, principal...",
        guild_only=True,
    )

    def __init__(self, bot: ConcordBot) -> None:
        self.bot = bot
        self.queue = ReviewQueue(bot.glossary)
        self.correct_menu = app_commands.ContextMenu(name="Correct translation", callback=self.correct_translation)
        self.correct_menu.guild_only = True

    async def cog_load(self) -> None:
        self.bot.tree.add_command(self.correct_menu)

    async def cog_unload(self) -> None:
        self.bot.tree.remove_command(self.correct_menu.name, type=self.correct_menu.type)

    async def _reply(self, interaction: discord.Interaction, text: str, **kwargs: Any) -> None:
        if interaction.response.is_done():
            await interaction.followup.send(fit(text), ephemeral=True, **kwargs)
        else:
            await interaction.response.send_message(fit(text), ephemeral=True, **kwargs)

    # changing terms

    @group.command(name="add", description="Add how a language says a term (volunteers)")
    @app_commands.describe(
        term="The English term, e.g. IEP or field trip",
        language="Language code, e.g. es",
        rendering="How this language community says it",
        notes="Optional: why, or where this rendering comes from",
    )
    @volunteers_only
    async def add(
        self, interaction: discord.Interaction, term: str, language: str, rendering: str, notes: str = ""
    ) -> None:
        code = languages.get(language).code
        added = await self.bot.glossary.add_term(
            code, term, rendering, by=changed_by(interaction.user), guild_id=interaction.guild_id, notes=notes
        )
        await self._reply(
            interaction,
            f"Added: **{term.strip()}** → {_rendering_line(added)}\n"
            "It is used from the next message on. A volunteer can `/glossary approve` it.",
        )

    @group.command(name="edit", description="Change how a language says a term (volunteers)")
    @app_commands.describe(
        term="The English term",
        language="Language code, e.g. es",
        rendering="The new preferred rendering",
        variants="Other accepted renderings, separated by |",
        forbidden="Renderings never to use, separated by |",
        notes="Notes",
        status="draft, approved, forbidden, or doubtful (a reviewer was unsure; still used)",
        case="auto: capitalised at a sentence start; exact: always as written (names such as iPad)",
    )
    @volunteers_only
    async def edit(
        self,
        interaction: discord.Interaction,
        term: str,
        language: str,
        rendering: str | None = None,
        variants: str | None = None,
        forbidden: str | None = None,
        notes: str | None = None,
        status: Status | None = None,
        case: Case | None = None,
    ) -> None:
        if all(v is None for v in (rendering, variants, forbidden, notes, status, case)):
            raise GlossaryError(
                "say what to change: a rendering, variants, forbidden renderings, notes, a status or the case"
            )
        edited = await self.bot.glossary.edit(
            term,
            languages.get(language).code,
            by=changed_by(interaction.user),
            guild_id=interaction.guild_id,
            preferred=rendering,
            variants=variants,
            forbidden=forbidden,
            notes=notes,
            status=status,
            case=case,
        )
        await self._reply(interaction, f"Saved: **{term.strip()}** → {_rendering_line(edited)}")

    @group.command(name="exception", description="Say where a term's English word means something else (volunteers)")
    @app_commands.describe(
        term="The English term, e.g. principal",
        add="Words around it, e.g. 'principal reason' or 'camp counselor'; ~hotel/lodging: any of these words nearby",
        remove="An exception to take away",
    )
    @volunteers_only
    async def exception(
        self, interaction: discord.Interaction, term: str, add: str | None = None, remove: str | None = None
    ) -> None:
        if (add is None) == (remove is None):
            raise GlossaryError("give one exception to add, or one to remove")
        by, guild = changed_by(interaction.user), interaction.guild_id
        if add is not None:
            concept = await self.bot.glossary.add_exception(term, add, by=by, guild_id=guild)
        else:
            concept = await self.bot.glossary.remove_exception(term, remove or "", by=by, guild_id=guild)
        await self._reply(
            interaction,
            f"Saved. {format_concept(concept)}\nIt applies from the next message on, for this server.",
        )

    @group.command(name="approve", description="Approve a term's rendering (volunteers)")
    @app_commands.describe(term="The English term", language="Language code, e.g. es")
    @volunteers_only
    async def approve(self, interaction: discord.Interaction, term: str, language: str) -> None:
        approved = await self.bot.glossary.approve(
            term, languages.get(language).code, by=changed_by(interaction.user), guild_id=interaction.guild_id
        )
        await self._reply(interaction, f"Approved: **{term.strip()}** → {_rendering_line(approved)}")

    @group.command(name="review", description="Review draft renderings one at a time (volunteers)")
    @app_commands.describe(language="The language to review, e.g. vi (languages with drafts are suggested)")
    @volunteers_only
    async def review(self, interaction: discord.Interaction, language: str) -> None:
        await review_ui.start(self.bot, self.queue, interaction, target_language(languages.get(language).code))

    @group.command(name="revert", description="Undo one change from /glossary history (volunteers)")
    @app_commands.describe(change="The change number shown by /glossary history, e.g. 12")
    @volunteers_only
    async def revert(self, interaction: discord.Interaction, change: int) -> None:
        entry = await self.bot.store.glossary_audit_entry(change)
        if entry is None or entry.guild_id != interaction.guild_id:
            shared = entry is not None and entry.guild_id == 0
            raise UnknownAudit(
                f"change #{change} is to the glossary every server shares; it can be reverted from the command line"
                if shared
                else f"there is no change #{change} in this server's glossary"
            )
        done = await self.bot.glossary.revert(change, by=changed_by(interaction.user))
        await self._reply(interaction, f"Reverted change #{change}:\n{format_entry(done)}")

    @group.command(name="import", description="Import terms from a CSV/TSV file (volunteers)")
    @app_commands.describe(
        file="Our full format (es.csv), two columns (English term, rendering) or a header of language codes",
        language="Language of a two-column file not named like es.csv",
        status="Status of rows from two-column files (default: draft)",
    )
    @volunteers_only
    async def import_file(
        self,
        interaction: discord.Interaction,
        file: discord.Attachment,
        language: str | None = None,
        status: Status = "draft",
    ) -> None:
        limit = self.bot.settings.glossary_import_max_kb * 1024
        if file.size > limit:  # before downloading it
            raise BadFile(f"{file.filename} is {file.size // 1024} KB; the limit is {limit // 1024} KB")
        code = languages.get(language).code if language else None
        await interaction.response.defer(ephemeral=True, thinking=True)
        request = ImportRequest(
            data=await file.read(),
            name=file.filename,
            by=changed_by(interaction.user),
            guild_id=interaction.guild_id,
            language=code,
            status=status,
        )
        try:
            summary = await request.run(self.bot, force=False)
        except BadFile as exc:  # worded for the command line
            raise BadFile(str(exc).replace("pass --language", "choose the language option")) from None
        except WouldOverwrite as exc:
            view = ConfirmImport(self.bot, request, owner_id=interaction.user.id)
            count = len(exc.summary.overwrites)
            await interaction.followup.send(
                f"⚠️ This import would change {count} approved entr{'y' if count == 1 else 'ies'}. "
                f"Nothing has been changed yet.\n{format_summary(exc.summary)}\n"
                "Press **Import anyway** to apply it, or **Cancel**.",
                view=view,
                ephemeral=True,
            )
            return
        await self._reply(interaction, f"Imported.\n{format_summary(summary)}")

    # looking

    @group.command(name="show", description="How a language says a term")
    @app_commands.describe(term="The English term", language="Language code, e.g. es")
    async def show(self, interaction: discord.Interaction, term: str, language: str) -> None:
        code = languages.get(language).code
        view = await self.bot.glossary.show(term, code, guild_id=interaction.guild_id)
        await self._reply(interaction, format_view(view, code))

    @group.command(name="search", description="Find terms (English or the rendering)")
    @app_commands.describe(query="Part of a term, e.g. IEP or educación", language="Also search this language")
    async def search(self, interaction: discord.Interaction, query: str, language: str | None = None) -> None:
        code = languages.get(language).code if language else None
        found = await self.bot.glossary.search(query, code, guild_id=interaction.guild_id)
        if not found:
            await self._reply(interaction, f"No term matches {query.strip()!r}.")
            return
        lines = [f"{len(found)} term(s) match {query.strip()!r}:"]
        for view in found:
            line = f"• **{view.concept.term}**" + (f" — {view.concept.expansion}" if view.concept.expansion else "")
            if view.rendering is not None:
                line += f" → {view.rendering.preferred} ({view.rendering.status})"
            lines.append(line)
        await self._reply(interaction, "\n".join(lines))

    @group.command(name="history", description="Every change to a term, newest first")
    @app_commands.describe(term="The English term", language="Only this language's changes")
    async def history(self, interaction: discord.Interaction, term: str, language: str | None = None) -> None:
        code = languages.get(language).code if language else None
        entries = await self.bot.glossary.history(term, code, guild_id=interaction.guild_id)
        if not entries:
            await self._reply(interaction, f"No changes to {term.strip()!r} yet.")
            return
        lines = [f"Changes to **{term.strip()}** (newest first; `/glossary revert change:N` undoes one):"]
        lines += [format_entry(entry) for entry in entries]
        await self._reply(interaction, "\n".join(lines))

    @group.command(name="export", description="Download a language's glossary as a file")
    @app_commands.describe(
        language="Language code, e.g. es",
        format="full: ours, re-importable; csv/tsv: two columns for DeepL or Google Cloud",
    )
    async def export(
        self, interaction: discord.Interaction, language: str, format: Literal["full", "csv", "tsv"] = "full"
    ) -> None:
        lang = languages.for_translation(languages.get(language))
        text = await self.bot.glossary.export(lang.code, format, guild_id=interaction.guild_id)
        name = f"{lang.code}.csv" if format == "full" else f"{lang.code}.pairs.{format}"
        file = discord.File(io.BytesIO(text.encode("utf-8")), filename=name)
        await self._reply(interaction, f"The {language_name(lang.code)} glossary ({format}).", file=file)

    # autocomplete

    @add.autocomplete("language")
    @edit.autocomplete("language")
    @approve.autocomplete("language")
    @import_file.autocomplete("language")
    @show.autocomplete("language")
    @search.autocomplete("language")
    @history.autocomplete("language")
    @export.autocomplete("language")
    async def _language_choices(self, interaction: discord.Interaction, current: str) -> list[app_commands.Choice[str]]:
        return language_choices(current, include_english=False)

    @review.autocomplete("language")
    async def _review_languages(self, interaction: discord.Interaction, current: str) -> list[app_commands.Choice[str]]:
        """Only languages with something to review here, with how many wait."""
        waiting = await self.queue.languages(interaction.guild_id)
        return [
            app_commands.Choice(
                name=f"{lang.english} — {lang.native} ({lang.code}) · {waiting[lang.code]} to review"[:100],
                value=lang.code,
            )
            for lang in languages.search(current, include_english=False)
            if lang.code in waiting
        ][:25]

    @edit.autocomplete("term")
    @exception.autocomplete("term")
    @approve.autocomplete("term")
    @show.autocomplete("term")
    @history.autocomplete("term")
    async def _term_choices(self, interaction: discord.Interaction, current: str) -> list[app_commands.Choice[str]]:
        if not current.strip():
            return []
        try:
            return _term_choices(await self.bot.glossary.search(current, guild_id=interaction.guild_id))
        except GlossaryError:
            return []

    # correcting a relayed message

    async def correct_translation(self, interaction: discord.Interaction, message: discord.Message) -> None:
        copy = await self.bot.store.relayed(message.id)
        if copy is None:
            await self._reply(
                interaction,
                "This is not a Concord translation: only messages Concord relayed into a language channel can be "
                "corrected.",
            )
            return
        require_volunteer(interaction)
        current = without_markers(undecorate(message.content, plain=message.webhook_id is None))
        await interaction.response.send_modal(CorrectionModal(self.bot, message.id, copy.language, current))


class ImportRequest:
    """One upload, kept so the volunteer can confirm it without uploading again."""

    def __init__(
        self, *, data: bytes, name: str, by: str, guild_id: int | None, language: str | None, status: str
    ) -> None:
        self.data, self.name, self.by = data, name, by
        self.guild_id, self.language, self.status = guild_id, language, status

    async def run(self, bot: ConcordBot, *, force: bool) -> ImportSummary:
        return await bot.glossary.import_file(
            self.data,
            name=self.name,
            by=self.by,
            force=force,
            guild_id=self.guild_id,
            language=self.language,
            status=self.status,
            max_bytes=bot.settings.glossary_import_max_kb * 1024,
        )


class ConfirmImport(discord.ui.View):
    def __init__(self, bot: ConcordBot, request: ImportRequest, *, owner_id: int) -> None:
        super().__init__(timeout=CONFIRM_TIMEOUT)
        self.bot, self.request, self.owner_id = bot, request, owner_id

    async def interaction_check(self, interaction: discord.Interaction) -> bool:
        if interaction.user.id != self.owner_id:
            await interaction.response.send_message(
                "Only the volunteer who ran this import can confirm it.", ephemeral=True
            )
            return False
        return True

    @discord.ui.button(label="Import anyway", style=discord.ButtonStyle.danger, custom_id="glossary-import-force")
    async def confirm(self, interaction: discord.Interaction, button: discord.ui.Button) -> None:
        require_volunteer(interaction)  # the role may have been taken away since the upload
        await interaction.response.defer()
        summary = await self.request.run(self.bot, force=True)
        self.stop()
        await interaction.edit_original_response(content=f"Imported.\n{format_summary(summary)}", view=None)

    @discord.ui.button(label="Cancel", style=discord.ButtonStyle.secondary, custom_id="glossary-import-cancel")
    async def cancel(self, interaction: discord.Interaction, button: discord.ui.Button) -> None:
        self.stop()
        await interaction.response.edit_message(content="Import cancelled; nothing was changed.", view=None)

    async def on_error(self, interaction: discord.Interaction, error: Exception, item: Any) -> None:
        await self.bot.tree.on_error(interaction, error)  # type: ignore[arg-type]


class CorrectionModal(discord.ui.Modal):
    """The current translation, editable, and optionally a term pair to save to the glossary."""

    def __init__(self, bot: ConcordBot, relayed_id: int, language: str, current: str) -> None:
        name = languages.get(language).english
        super().__init__(title=f"Correct translation ({name})"[:45], timeout=CORRECTION_TIMEOUT)
        self.bot, self.relayed_id, self.language, self.current = bot, relayed_id, language, current
        self.text = discord.ui.TextInput(
            label="Translation",
            style=discord.TextStyle.paragraph,
            default=current[:CORRECTION_LIMIT],
            max_length=CORRECTION_LIMIT,
            custom_id="text",
        )
        self.add_item(self.text)
        self.term_en: discord.ui.TextInput | None = None
        self.term_here: discord.ui.TextInput | None = None
        if language != "en":  # the glossary maps English terms to other languages
            self.term_en = discord.ui.TextInput(
                label="Term in English (optional)", required=False, max_length=MAX_TERM, custom_id="term_en"
            )
            self.term_here = discord.ui.TextInput(
                label=f"The term in {name} (optional)"[:45], required=False, max_length=MAX_TERM, custom_id="term_here"
            )
            self.add_item(self.term_en)
            self.add_item(self.term_here)

    def _pair(self) -> tuple[str, str] | None:
        english = self.term_en.value.strip() if self.term_en else ""
        here = self.term_here.value.strip() if self.term_here else ""
        if not english and not here:
            return None
        if not english or not here:
            raise BadTerm("to save a term, give both the English term and how this language says it (or neither)")
        return clean_term(english), clean_term(here, "rendering")

    async def on_submit(self, interaction: discord.Interaction) -> None:
        require_volunteer(interaction)
        pair = self._pair()  # checked before anything changes
        await interaction.response.defer(ephemeral=True, thinking=True)
        by = changed_by(interaction.user)
        await self.bot.engine.correct(self.relayed_id, self.text.value, by=by, original=self.current)
        lines = ["✅ Corrected: the message now shows your text, marked as corrected by a volunteer."]
        if pair is not None:
            lines.append(await self._save_pair(*pair, by=by, guild_id=interaction.guild_id))
        await interaction.followup.send("\n".join(lines), ephemeral=True)

    async def _save_pair(self, english: str, here: str, *, by: str, guild_id: int | None) -> str:
        glossary = self.bot.glossary
        try:
            try:
                saved = await glossary.add_term(self.language, english, here, by=by, guild_id=guild_id)
                verb = "Added to the glossary"
            except DuplicateTerm:
                saved = await glossary.edit(english, self.language, preferred=here, by=by, guild_id=guild_id)
                verb = "Updated in the glossary"
        except GlossaryError as exc:
            return f"The term was not saved: {exc}."
        return f"{verb}: **{english}** → {_rendering_line(saved)}"

    async def on_error(self, interaction: discord.Interaction, error: Exception) -> None:
        await self.bot.tree.on_error(interaction, error)  # type: ignore[arg-type]


async def setup(bot: ConcordBot) -> None:
    await bot.add_cog(GlossaryCog(bot))
