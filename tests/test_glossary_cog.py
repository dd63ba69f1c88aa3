"""Volunteers keep the glossary from Discord: `/glossary ...` and "Correct translation", end to end.

The real discord.py client against the loopback Discord (`bot/testing/discord_server.py`), the real RelayEngine,
a real SQLite store and the fake LibreTranslate (which answers "[es] " + the text). Fixtures `server`,
`meeting`, `bot_settings` and `bot` are the adapter tests' own.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pytest
import test_discord_adapter as adapter

from bot.relay import CORRECTED_LINE
from bot.testing.discord_server import EPHEMERAL, FakeDiscord, InteractionCall

server = adapter.server
meeting = adapter.meeting
bot_settings = adapter.bot_settings
bot = adapter.bot
settle = adapter.settle


@dataclass
class Person:
    user: dict[str, Any]
    roles: list[int] = field(default_factory=list)
    permissions: int = 0  # no Manage Server


@pytest.fixture
async def volunteer(bot, server) -> Person:
    role = await server.add_role("Volunteer")
    return Person(server.user("Ana (volunteer)"), [role])


@pytest.fixture
def parent(server) -> Person:
    return Person(server.user("Rosa"))


async def glossary(server: FakeDiscord, channel: int, who: Person, sub: str, **options: Any) -> InteractionCall:
    return await server.slash(
        channel, "glossary", sub, user=who.user, roles=who.roles, permissions=who.permissions, **options
    )


async def answer(call: InteractionCall, count: int = 1) -> str:
    """The text of the `count`-th response (2: the follow-up after a defer); every reply is ephemeral."""
    response = await call.wait_for(count)
    data = response["data"]
    if response["type"] != "edit":
        assert data["flags"] & EPHEMERAL, response
    return data["content"]


async def ask(server: FakeDiscord, channel: int, who: Person, sub: str, **options: Any) -> str:
    return await answer(await glossary(server, channel, who, sub, **options))


async def rendering(bot, term: str, language: str = "es") -> str | None:
    view = await bot.glossary.show(term, language, guild_id=bot.guilds[0].id)
    return view.rendering.preferred if view.rendering else None


async def relay_one(server: FakeDiscord, meeting, text: str) -> Any:
    """Carmen says `text` in #main; the copy in #español once it is there."""
    before = len(server.by_bot(meeting.es))
    await server.post(meeting.main, text, author=server.user("Carmen"))
    await server.wait_until(lambda: len(server.by_bot(meeting.es)) == before + 1)
    return server.by_bot(meeting.es)[-1]


# --- changing and looking up terms ---------------------------------------------------------------


async def test_volunteer_adds_a_term_and_the_next_relayed_message_uses_it(bot, server, meeting, volunteer):
    text = await ask(
        server, meeting.main, volunteer, "add", term="field trip", language="es", rendering="excursión escolar"
    )
    assert "Added" in text and "excursión escolar" in text

    copy = await relay_one(server, meeting, "The field trip is on Friday.")
    assert copy.content == "[es] The excursión escolar is on Friday."
    changes = await bot.glossary.history("field trip", "es", guild_id=server.guild_id)
    assert changes[0].by.startswith("ana_(volunteer) (")


async def test_member_with_manage_server_may_change_terms_without_the_role(bot, server, meeting):
    owner = Person(server.owner, permissions=1 << 5)
    assert "Added" in await ask(server, meeting.main, owner, "add", term="IEP", language="vi", rendering="IEP")


async def test_member_without_the_role_is_refused_politely_and_nothing_changes(bot, server, meeting, parent):
    version = await bot.store.glossary_version()
    text = await ask(server, meeting.es, parent, "add", term="principal", language="es", rendering="principal")
    assert "**Volunteer** role" in text and "Manage Server" in text
    assert "Traceback" not in text
    assert await bot.store.glossary_version() == version
    assert bot.glossary.find_concept("principal", server.guild_id) is None


async def test_anyone_can_show_and_search(bot, server, meeting, volunteer, parent):
    await ask(server, meeting.main, volunteer, "add", term="IEP", language="es", rendering="PEI")

    shown = await ask(server, meeting.es, parent, "show", term="iep", language="es")
    assert "**IEP**" in shown and "**PEI**" in shown and "draft" in shown
    found = await ask(server, meeting.es, parent, "search", query="PE", language="es")
    assert "**IEP** → PEI" in found
    assert "No term matches" in await ask(server, meeting.es, parent, "search", query="zzz")


@pytest.mark.parametrize(
    ("options", "says"),
    [
        ({"term": "IEP", "language": "klingon", "rendering": "x"}, "`klingon`"),
        ({"term": "   ", "language": "es", "rendering": "PEI"}, "The term is empty"),
        ({"term": "x" * 1000, "language": "es", "rendering": "PEI"}, "1000 characters long; the limit is 200"),
        ({"term": "IEP", "language": "en", "rendering": "IEP"}, "English is the glossary's source language"),
        ({"term": "IEP", "language": "es", "rendering": "otro"}, "'IEP' already has a Spanish rendering ('PEI')"),
    ],
    ids=["unknown-language", "empty-term", "1000-characters", "english", "duplicate"],
)
async def test_bad_input_gets_a_clear_error_and_changes_nothing(bot, server, meeting, volunteer, options, says):
    await ask(server, meeting.main, volunteer, "add", term="IEP", language="es", rendering="PEI")
    version = await bot.store.glossary_version()

    text = await ask(server, meeting.main, volunteer, "add", **options)
    assert says in text
    assert text.startswith("Sorry") and "Traceback" not in text
    assert await bot.store.glossary_version() == version
    assert await rendering(bot, "IEP") == "PEI"


async def test_edit_and_approve_change_the_rendering(bot, server, meeting, volunteer):
    await ask(server, meeting.main, volunteer, "add", term="principal", language="es", rendering="director")
    text = await ask(
        server, meeting.main, volunteer, "edit", term="principal", language="es", rendering="director/a",
        forbidden="principal",
    )  # fmt: skip
    assert "director/a" in text and "never: principal" in text
    assert "approved" in await ask(server, meeting.main, volunteer, "approve", term="principal", language="es")
    view = await bot.glossary.show("principal", "es", guild_id=server.guild_id)
    assert (view.rendering.preferred, view.rendering.status) == ("director/a", "approved")


async def test_volunteer_says_where_a_term_word_means_something_else(bot, server, meeting, volunteer, parent):
    await ask(server, meeting.main, volunteer, "add", term="principal", language="es", rendering="director/a")
    text = await ask(server, meeting.main, volunteer, "exception", term="principal", add="principal reason/concern")
    assert "not the term in: principal reason/concern" in text
    assert (await relay_one(server, meeting, "The principal concern is the bus.")).content == (
        "[es] The principal concern is the bus."  # the engine's words, untouched
    )
    assert (await relay_one(server, meeting, "The principal is here.")).content == "[es] The director/a is here."
    refused = await ask(server, meeting.main, volunteer, "exception", term="principal", add="reason")
    assert "does not contain the term 'principal'" in refused
    assert "**Volunteer** role" in await ask(server, meeting.main, parent, "exception", term="principal", add="x y")
    text = await ask(server, meeting.main, volunteer, "exception", term="principal", remove="principal reason/concern")
    assert "not the term in" not in text
    assert (await relay_one(server, meeting, "The principal concern.")).content == "[es] The director/a concern."


async def test_a_rendering_can_keep_its_exact_case(bot, server, meeting, volunteer):
    await ask(server, meeting.main, volunteer, "add", term="tablet", language="es", rendering="iPad escolar")
    text = await ask(server, meeting.main, volunteer, "edit", term="tablet", language="es", case="exact")
    assert "case: exactly as written" in text
    view = await bot.glossary.show("tablet", "es", guild_id=server.guild_id)
    assert view.rendering.case == "exact"


async def test_history_lists_the_change_and_revert_restores_the_previous_rendering(bot, server, meeting, volunteer):
    await ask(server, meeting.main, volunteer, "add", term="IEP", language="es", rendering="PEI")
    await ask(server, meeting.main, volunteer, "edit", term="IEP", language="es", rendering="Plan IEP")

    history = await ask(server, meeting.main, volunteer, "history", term="IEP", language="es")
    (edit,) = [e for e in await bot.glossary.history("IEP", "es", guild_id=server.guild_id) if e.action == "edit"]
    assert f"`#{edit.id}`" in history and "'PEI' (draft) → 'Plan IEP' (draft)" in history
    assert "ana_(volunteer)" in history

    text = await ask(server, meeting.main, volunteer, "revert", change=edit.id)
    assert f"Reverted change #{edit.id}" in text
    assert await rendering(bot, "IEP") == "PEI"
    copy = await relay_one(server, meeting, "Your IEP meeting")
    assert "PEI" in copy.content


async def test_revert_of_a_change_from_elsewhere_is_refused(bot, server, meeting, volunteer):
    shared = await bot.glossary.add_term("es", "LCAP", "LCAP", by="seed")  # every server's glossary
    (entry, *_) = await bot.glossary.history("LCAP", "es")
    text = await ask(server, meeting.main, volunteer, "revert", change=entry.id)
    assert "every server shares" in text
    assert await rendering(bot, "LCAP") == shared.preferred
    assert "no change #999999" in await ask(server, meeting.main, volunteer, "revert", change=999999)


async def test_term_autocomplete_suggests_glossary_terms(bot, server, meeting, volunteer):
    await ask(server, meeting.main, volunteer, "add", term="field trip", language="es", rendering="excursión")
    call = await server.autocomplete(meeting.main, "glossary", "show", "term", "fiel", language="es")
    assert [c["value"] for c in (await call.reply())["data"]["choices"]] == ["field trip"]
    call = await server.autocomplete(meeting.main, "glossary", "show", "language", "viet", term="x")
    assert [c["value"] for c in (await call.reply())["data"]["choices"]] == ["vi"]


# --- export and import ---------------------------------------------------------------------------


async def test_export_returns_a_file_whose_content_round_trips_through_import(bot, server, meeting, volunteer):
    await ask(server, meeting.main, volunteer, "add", term="IEP", language="es", rendering="PEI")
    await ask(server, meeting.main, volunteer, "add", term="field trip", language="es", rendering="excursión")
    reply = await (await glossary(server, meeting.main, volunteer, "export", language="es")).reply()
    assert reply["data"]["flags"] & EPHEMERAL
    ((name, data),) = reply["files"]
    assert name == "es.csv"
    assert data.decode().splitlines()[0].startswith("concept,preferred")
    await ask(server, meeting.main, volunteer, "edit", term="IEP", language="es", rendering="Plan educativo")

    call = await glossary(server, meeting.main, volunteer, "import", file=server.upload(name, data))
    assert (await call.reply())["type"] == 5  # deferred: an import may take a moment
    text = await answer(call, 2)
    assert "0 added, 1 updated, 1 unchanged (es.csv)" in text
    assert await rendering(bot, "IEP") == "PEI"


async def test_two_column_export_is_what_deepl_and_google_take(bot, server, meeting, volunteer):
    await ask(server, meeting.main, volunteer, "add", term="field trip", language="es", rendering="excursión")
    reply = await (await glossary(server, meeting.main, volunteer, "export", language="es", format="tsv")).reply()
    assert reply["files"] == [("es.pairs.tsv", "field trip\texcursión\n".encode())]


@pytest.mark.parametrize(
    ("name", "data", "says"),
    [
        ("es.csv", b"concept,rendering\niep,PEI\n", "wrong columns"),
        ("es.csv", b"a,b,c\nIEP,PEI,x\n", "unrecognized columns"),
        ("es.csv", "IEP,Programa de Educación\n".encode("utf-16"), "not UTF-8 text"),
        ("es.csv", "IEP,Programa de Educación\n".encode("latin-1"), "not UTF-8 text"),
        ("glossary.csv", b"IEP,PEI\n", "language of glossary.csv: name it like es.csv or choose the language option"),
    ],
    ids=["wrong-columns", "three-columns", "utf-16", "latin-1", "no-language"],
)
async def test_import_of_a_bad_file_is_refused_with_a_clear_message(bot, server, meeting, volunteer, name, data, says):
    await ask(server, meeting.main, volunteer, "add", term="IEP", language="es", rendering="PEI")
    version = await bot.store.glossary_version()
    call = await glossary(server, meeting.main, volunteer, "import", file=server.upload(name, data))
    text = await answer(call, 2)
    assert says in text and "Nothing was changed" in text
    assert await bot.store.glossary_version() == version
    assert await rendering(bot, "IEP") == "PEI"


async def test_import_with_a_language_option_reads_a_two_column_file(bot, server, meeting, volunteer):
    upload = server.upload("glossary.csv", "IEP,PEI\nfield trip,excursión\n".encode())
    text = await answer(await glossary(server, meeting.main, volunteer, "import", file=upload, language="es"), 2)
    assert "4 added" in text  # two concepts, two renderings
    assert await rendering(bot, "field trip") == "excursión"


async def test_import_larger_than_one_megabyte_is_refused_politely(bot, server, meeting, volunteer):
    upload = server.upload("es.csv", b"IEP,PEI\n" * 140_000)
    text = await ask(server, meeting.main, volunteer, "import", file=upload)
    assert "the limit is 1024 KB" in text


async def test_import_needs_the_volunteer_role(bot, server, meeting, parent):
    text = await ask(server, meeting.main, parent, "import", file=server.upload("es.csv", b"IEP,PEI\n"))
    assert "**Volunteer** role" in text
    assert bot.glossary.find_concept("IEP", server.guild_id) is None


async def test_import_over_approved_terms_asks_first_and_applies_only_when_confirmed(bot, server, meeting, volunteer):
    await ask(server, meeting.main, volunteer, "add", term="IEP", language="es", rendering="PEI")
    await ask(server, meeting.main, volunteer, "approve", term="IEP", language="es")
    upload = server.upload("es.csv", b"IEP,Programa IEP\nfield trip,excursion\n")

    call = await glossary(server, meeting.main, volunteer, "import", file=upload)
    warning = await answer(call, 2)
    assert "would change 1 approved entry" in warning and "Nothing has been changed yet" in warning
    assert "'PEI' -> 'Programa IEP'" in warning
    assert await rendering(bot, "IEP") == "PEI"
    assert bot.glossary.find_concept("field trip", server.guild_id) is None

    stranger = await server.click(call, "glossary-import-force", user=server.user("Someone"))
    assert "Only the volunteer who ran this import" in await answer(stranger)
    assert await rendering(bot, "IEP") == "PEI"

    confirm = await server.click(call, "glossary-import-force")
    assert (await confirm.reply())["type"] == 6  # deferred update of the warning
    assert "Imported." in await answer(confirm, 2)
    assert await rendering(bot, "IEP") == "Programa IEP"
    assert await rendering(bot, "field trip") == "excursion"


async def test_import_over_approved_terms_can_be_cancelled(bot, server, meeting, volunteer):
    await ask(server, meeting.main, volunteer, "add", term="IEP", language="es", rendering="PEI")
    await ask(server, meeting.main, volunteer, "approve", term="IEP", language="es")
    call = await glossary(server, meeting.main, volunteer, "import", file=server.upload("es.csv", b"IEP,Otro\n"))
    await answer(call, 2)
    cancel = await server.click(call, "glossary-import-cancel")
    reply = await cancel.reply()
    assert reply["type"] == 7 and "cancelled" in reply["data"]["content"]
    assert await rendering(bot, "IEP") == "PEI"


# --- "Correct translation" ------------------------------------------------------------------------


def modal_inputs(call_reply: dict) -> dict[str, dict]:
    return {i["custom_id"]: i for row in call_reply["data"]["components"] for i in row["components"]}


async def test_correct_translation_edits_the_message_in_place_and_a_retry_does_not_overwrite_it(
    bot, server, meeting, volunteer, libre
):
    libre.fake.down = True  # delivered untranslated, marked, waiting for a retry
    copy = await relay_one(server, meeting, "The meeting starts now")
    assert copy.content.startswith("The meeting starts now\n-# ⏳")
    await bot.engine.drain()

    call = await server.message_command("Correct translation", copy.id, user=volunteer.user, roles=volunteer.roles)
    modal = await call.reply()
    assert modal["type"] == 9
    assert modal_inputs(modal)["text"]["value"] == "The meeting starts now"  # without the marker line

    submit = await server.submit_modal(call, {"text": "La reunión empieza ahora"})
    assert "Corrected" in await answer(submit, 2)
    edited = server.messages[copy.id]
    assert edited.content == f"La reunión empieza ahora\n{CORRECTED_LINE}"
    assert [c.content for c in server.by_bot(meeting.es)] == [edited.content]  # in place, nothing new

    (correction,) = await bot.store.corrections(relayed_id=copy.id)
    assert (correction.channel_id, correction.language) == (meeting.es, "es")
    assert correction.original == "The meeting starts now"
    assert correction.corrected == "La reunión empieza ahora"
    assert correction.by.startswith("ana_(volunteer) (")
    assert {r.state for r in await bot.store.outbox(correction.source_id) if r.channel_id == meeting.es} == {
        "corrected"
    }

    libre.fake.down = False
    await bot.engine.retry_now()
    await settle(bot)
    assert server.messages[copy.id].content == f"La reunión empieza ahora\n{CORRECTED_LINE}"
    assert server.by_bot(meeting.vi)[0].content == "[vi] The meeting starts now"  # the others still got retried


async def test_an_edit_of_the_original_after_a_correction_translates_again(bot, server, meeting, volunteer):
    copy = await relay_one(server, meeting, "Meeting at 6 pm")
    original = next(m for m in server.channel_messages(meeting.main) if m.content == "Meeting at 6 pm")
    await bot.engine.drain()
    call = await server.message_command("Correct translation", copy.id, user=volunteer.user, roles=volunteer.roles)
    await call.reply()
    await answer(await server.submit_modal(call, {"text": "Reunión a las 6 pm"}), 2)

    await server.edit(original.id, "Meeting at 7 pm")
    await server.wait_until(lambda: server.messages[copy.id].content == "[es] Meeting at 7 pm")


async def test_correct_translation_on_a_message_that_is_not_relayed_is_refused_politely(
    bot, server, meeting, volunteer
):
    own = await server.post(meeting.es, "Hola a todos", author=server.user("Rosa"))  # an original, relayed elsewhere
    await server.wait_until(lambda: len(server.by_bot(meeting.main)) == 1)
    await settle(bot)
    call = await server.message_command("Correct translation", own, user=volunteer.user, roles=volunteer.roles)
    text = await answer(call)
    assert "not a Concord translation" in text
    assert server.messages[own].edits == []


async def test_correct_translation_needs_the_volunteer_role(bot, server, meeting, parent):
    copy = await relay_one(server, meeting, "Welcome")
    await bot.engine.drain()
    call = await server.message_command("Correct translation", copy.id, user=parent.user, permissions=0)
    assert "**Volunteer** role" in await answer(call)
    assert server.messages[copy.id].content == "[es] Welcome"
    assert await bot.store.corrections(relayed_id=copy.id) == []


async def test_saving_a_term_pair_from_the_correction_adds_it_to_the_glossary(bot, server, meeting, volunteer):
    copy = await relay_one(server, meeting, "Bring the permission slip")
    await bot.engine.drain()
    call = await server.message_command("Correct translation", copy.id, user=volunteer.user, roles=volunteer.roles)
    assert set(modal_inputs(await call.reply())) == {"text", "term_en", "term_here"}

    submit = await server.submit_modal(
        call,
        {"text": "Traiga el permiso firmado", "term_en": "permission slip", "term_here": "permiso firmado"},
    )
    text = await answer(submit, 2)
    assert "Added to the glossary" in text and "permiso firmado" in text
    assert await rendering(bot, "permission slip") == "permiso firmado"
    later = await relay_one(server, meeting, "Where is my permission slip?")
    assert later.content == "[es] Where is my permiso firmado?"


async def test_a_half_filled_term_pair_is_refused_before_anything_changes(bot, server, meeting, volunteer):
    copy = await relay_one(server, meeting, "Bring the permission slip")
    await bot.engine.drain()
    call = await server.message_command("Correct translation", copy.id, user=volunteer.user, roles=volunteer.roles)
    await call.reply()
    submit = await server.submit_modal(call, {"text": "Traiga el permiso", "term_en": "permission slip"})
    text = await answer(submit)
    assert "give both the English term" in text and "Nothing was changed" in text
    assert server.messages[copy.id].content == "[es] Bring the permission slip"
    assert await bot.store.corrections(relayed_id=copy.id) == []
