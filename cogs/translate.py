"""`/translate text to` and the "Translate to my language" message menu: a translation only the asker sees.

The menu works on any message of the server. "My language" is the one the member chose (stored per member and
server; the meeting's language picker records it too); a member who has not chosen yet is asked once, with a
menu of every language, and the answer is remembered. Every answer is ephemeral; the glossary applies.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import discord
from discord import app_commands
from discord.ext import commands

from bot import languages
from bot.discord.helpers import NO_PINGS, fit, language_choices
from bot.personal import translate_for

if TYPE_CHECKING:
    from bot.discord.bot import ConcordBot

ASK = "🌐 Which language do you read? · ¿Qué idioma lee? · Bạn đọc ngôn ngữ nào? · 您閱讀哪種語言?"
NO_TEXT = "This message has no text to translate."
PICK_TIMEOUT = 600.0  # seconds the language menu stays usable


class Request:
    """What to translate once the member's language is known: a message (by id) or a text."""

    def __init__(self, text: str, channel_id: int | None, message_id: int | None = None) -> None:
        self.text = text
        self.channel_id = channel_id
        self.message_id = message_id


class LanguagePicker(discord.ui.View):
    """Every language Concord knows, in two menus (Discord shows at most 25 options in one)."""

    def __init__(self, cog: Translate, request: Request) -> None:
        super().__init__(timeout=PICK_TIMEOUT)
        self.cog, self.request = cog, request
        codes = list(languages.LANGUAGES)
        for row, (chunk, placeholder) in enumerate(
            ((codes[:25], "Choose your language"), (codes[25:], "More languages"))
        ):
            menu: discord.ui.Select = discord.ui.Select(
                custom_id=f"concord:language:{row}",
                placeholder=placeholder,
                options=[_option(code) for code in chunk],
                row=row,
            )
            menu.callback = lambda interaction, menu=menu: self.picked(interaction, menu.values[0])
            self.add_item(menu)

    async def picked(self, interaction: discord.Interaction, code: str) -> None:
        await self.cog.bot.store.set_member_language(interaction.guild_id or 0, interaction.user.id, code)
        await interaction.response.defer()
        text = await self.cog.render(interaction, self.request, code)
        await interaction.edit_original_response(content=text, view=ChangeLanguage(self.cog, self.request))


class ChangeLanguage(discord.ui.View):
    """Under a translation: pick another language (remembered from then on)."""

    def __init__(self, cog: Translate, request: Request) -> None:
        super().__init__(timeout=PICK_TIMEOUT)
        self.cog, self.request = cog, request

    @discord.ui.button(
        label="Change my language", emoji="🌐", style=discord.ButtonStyle.secondary, custom_id="concord:change-language"
    )
    async def change(self, interaction: discord.Interaction, button: discord.ui.Button) -> None:
        picker = LanguagePicker(self.cog, self.request)
        await interaction.response.edit_message(content=ASK, view=picker)


class Translate(commands.Cog):
    def __init__(self, bot: ConcordBot) -> None:
        self.bot = bot
        self.menu = app_commands.ContextMenu(name="Translate to my language", callback=self.translate_message)
        self.menu.guild_only = True

    async def cog_load(self) -> None:
        self.bot.tree.add_command(self.menu)

    async def cog_unload(self) -> None:
        self.bot.tree.remove_command(self.menu.name, type=self.menu.type)

    @app_commands.command(name="translate", description="Translate a text; only you see the answer")
    @app_commands.describe(text="The text to translate", to="The language to translate into (default: yours)")
    @app_commands.guild_only()
    async def translate(
        self, interaction: discord.Interaction, text: app_commands.Range[str, 1, 2000], to: str | None = None
    ) -> None:
        request = Request(text, interaction.channel_id)
        code = languages.get(to).code if to else await self._language_of(interaction)  # unknown: polite error
        await self._answer(interaction, request, code)

    @translate.autocomplete("to")
    async def _to_choices(self, interaction: discord.Interaction, current: str) -> list[app_commands.Choice[str]]:
        return language_choices(current, include_english=True)

    async def translate_message(self, interaction: discord.Interaction, message: discord.Message) -> None:
        request = Request(message.content, message.channel.id, message.id)
        await self._answer(interaction, request, await self._language_of(interaction))

    async def _language_of(self, interaction: discord.Interaction) -> str | None:
        return await self.bot.store.member_language(interaction.guild_id or 0, interaction.user.id)

    async def _answer(self, interaction: discord.Interaction, request: Request, code: str | None) -> None:
        if code is None:
            picker = LanguagePicker(self, request)
            await interaction.response.send_message(ASK, view=picker, ephemeral=True)
            return
        await interaction.response.defer(ephemeral=True, thinking=True)  # a translation may take seconds
        text = await self.render(interaction, request, code)
        await interaction.followup.send(
            text, ephemeral=True, allowed_mentions=NO_PINGS, view=ChangeLanguage(self, request)
        )

    async def render(self, interaction: discord.Interaction, request: Request, code: str) -> str:
        """The translation as the member sees it, with a small line saying from which language."""
        result = await translate_for(
            self.bot.store,
            self.bot.translator,
            request.text,
            code,
            guild_id=interaction.guild_id,
            channel_id=request.channel_id,
            message_id=request.message_id,
        )
        if result is None:
            return NO_TEXT
        source, target = languages.get(result.source), languages.get(result.target)
        if result.same_language:
            note = f"-# 🌐 already in {target.native}"
        else:
            note = f"-# 🌐 {source.native} → {target.native}"
        return fit(f"{result.text}\n{note}", 2000)


def _option(code: str) -> discord.SelectOption:
    lang = languages.get(code)
    label = lang.native if lang.native == lang.english else f"{lang.native} · {lang.english}"
    return discord.SelectOption(label=label[:100], value=code)


async def setup(bot: ConcordBot) -> None:
    await bot.add_cog(Translate(bot))
