"""`/meeting`, the language picker and "Show original", end to end: the real discord.py client against the
loopback Discord (bot/testing/discord_server.py), the real relay engine, a real SQLite store and the fake
LibreTranslate ("[es] ..." shows what was translated)."""

from __future__ import annotations

import asyncio
import re
from dataclasses import dataclass

import pytest

from bot import languages
from bot.bidi import FSI, LINE_START, PDI, mark_rtl
from bot.discord.views import picker_view
from bot.testing.browser import Browser, missing_reason
from bot.testing.discord_server import EPHEMERAL, MANAGE_ROLES, FakeDiscord, InteractionCall
from tests.conftest import running_bot

SIX = "es,vi,zh-TW,ar,fa,mix"  # Spanish, Vietnamese, Chinese, Arabic, Persian (no written welcome), Mixteco


@pytest.fixture
async def server():
    fake = await FakeDiscord().start()
    fake.lobby = fake.add_channel("general")
    yield fake
    await fake.close()


@pytest.fixture
def quiet(settings):
    return settings.model_copy(update={"retry_untranslated_every": 0.0, "timezone": "America/Los_Angeles"})


@pytest.fixture
async def bot(server, quiet, store, translator, monkeypatch):
    async with running_bot(server, quiet, store, translator, monkeypatch) as concord:
        yield concord


async def run(server: FakeDiscord, channel: int, subcommand: str, **options) -> str:
    """A facilitator (Manage Server) runs `/meeting <subcommand>`; the reply's text once it is complete."""
    call = await server.slash(channel, "meeting", subcommand, **options)
    return (await answer(call))["content"]


async def answer(call: InteractionCall, seconds: float = 10.0) -> dict:
    """The message a command finally answered with (after a "thinking..." defer, the first follow-up)."""
    first = await call.wait_for(1, seconds)
    if first.get("type") == 5:
        first = await call.wait_for(2, seconds)
    assert first["data"]["flags"] & EPHEMERAL
    return first["data"]


@dataclass
class Room:
    channel: int
    role: int | None


def rooms(server: FakeDiscord, meeting: str = "ELAC") -> dict[str, Room]:
    """The meeting's channels on the server, by language, found by the names people see."""
    (category,) = server.named(meeting, kind=4)
    found = {}
    for cid, channel in server.channels.items():
        if channel["parent_id"] != str(category):
            continue
        code = (
            "en"
            if channel["name"] == "main"
            else next(lang.code for lang in languages.LANGUAGES.values() if lang.channel == channel["name"])
        )
        role = server.role_named(f"{meeting} · {languages.get(code).native}") if code != "en" else []
        found[code] = Room(cid, role[0] if role else None)
    return found


def picker(server: FakeDiscord, main: int):
    (message,) = [m for m in server.pinned(main) if m.components]
    return message, message.components[0]["components"][0]


async def settle(bot) -> None:
    for _ in range(3):
        await asyncio.sleep(0.05)
        await bot.engine.drain()


# --- create ------------------------------------------------------------------------------------


async def test_create_makes_channels_in_their_own_script_roles_overwrites_webhooks_and_pins(bot, server, store):
    reply = await run(server, server.lobby, "create", name="ELAC", languages=SIX)

    made = rooms(server)
    assert set(made) == {"en", "es", "vi", "zh-TW", "ar", "fa", "mix"}
    names = {code: server.channels[r.channel]["name"] for code, r in made.items()}
    assert names == {"en": "main", "es": "español", "vi": "tiếng-việt", "zh-TW": "繁體中文", "ar": "العربية",
                     "fa": "فارسی", "mix": "mixteco"}  # fmt: skip
    assert f"<#{made['en'].channel}>" in reply and "/meeting start" in reply
    # Who sees what: everyone the main channel; a language channel only with its role; Concord everything.
    parent, bot_id = server.user("María"), int(server.bot_user["id"])
    pid = int(parent["id"])
    (interpreters,) = server.role_named("ELAC · interpreters")
    assert server.can_view(made["en"].channel, pid) and server.can_send(made["en"].channel, pid)
    for code, room in made.items():
        assert server.can_view(room.channel, bot_id)
        if code == "en":
            continue
        assert not server.can_view(room.channel, pid), code
        assert server.can_send(room.channel, pid, [room.role]), code
        assert not server.can_view(made["es" if code != "es" else "vi"].channel, pid, [room.role])
        assert server.can_view(room.channel, pid, [interpreters]) == (code == "mix")
    # A webhook in every channel, so relayed messages show the speaker's name.
    hooks = {int(h["channel_id"]) for h in server.webhooks.values() if h["name"] == "Concord"}
    assert hooks == {r.channel for r in made.values()}
    # The welcome, pinned, in each language; machine-translated and marked draft where nothing is written.
    welcome = {code: [m.content for m in server.pinned(r.channel)] for code, r in made.items() if code != "en"}
    assert welcome["es"][0].startswith("👋 ¡Bienvenidos a **ELAC**!")
    assert welcome["ar"][0].startswith(LINE_START + "👋 أهلًا بكم في **ELAC**!")
    assert welcome["fa"][0].startswith(LINE_START + "[ف] 👋 Welcome to **ELAC**!")
    assert welcome["fa"][0].endswith("-# ✏️ " + LINE_START + "[ف] Draft: not yet reviewed by a person.")
    assert welcome["mix"][0].startswith("👋 Welcome to **ELAC**!") and "interpreter" in welcome["mix"][0]
    assert all(len(texts) == 1 for texts in welcome.values())
    # The picker, pinned in the main channel: each language in its own script, with its English name.
    _, select = picker(server, made["en"].channel)
    labels = {o["value"]: o["label"] for o in select["options"]}
    assert labels["vi"] == "Tiếng Việt — Vietnamese" and labels["ar"] == "العربية — Arabic"
    assert labels["en"] == "English" and len(labels) == 7
    meeting = await store.meeting_by_name(server.guild_id, "ELAC")
    assert (meeting.state, meeting.managed, meeting.active) == ("ready", True, False)


async def test_create_again_repairs_only_what_is_missing(bot, server, store):
    await run(server, server.lobby, "create", name="ELAC", languages="es,vi,zh-TW")
    before = rooms(server)
    await server.delete_channel(before["es"].channel)  # an admin deletes a channel,
    await server.delete_role(before["vi"].role)  # a role,
    next(m for m in server.pinned(before["zh-TW"].channel)).pinned = False  # and unpins a welcome
    await asyncio.sleep(0.05)
    server.audit.clear()

    reply = await run(server, server.lobby, "create", name="ELAC", languages="es,vi,zh-TW")

    after = rooms(server)
    assert len(server.named("ELAC", kind=4)) == 1 and len(server.named("main")) == 1
    assert after["es"].channel != before["es"].channel and server.pinned(after["es"].channel)
    assert after["vi"].channel == before["vi"].channel and after["vi"].role not in (None, before["vi"].role)
    assert server.can_view(after["vi"].channel, 1, [after["vi"].role])
    assert len(server.pinned(before["zh-TW"].channel)) == 1
    made = [a.split(" ")[0] + " " + re.sub(r"\d+", "N", a.split(" ")[1]) for a in server.audit]
    assert sorted(made) == sorted([
        "POST /guilds/N/roles",  # the Vietnamese role again
        "POST /guilds/N/channels",  # #español again
        "PUT /channels/N/messages/pins/N",  # its welcome
        "PATCH /channels/N",  # #tiếng-việt shown to the new role
        "PUT /channels/N/messages/pins/N",  # the Chinese welcome pinned again
    ])  # fmt: skip
    assert "Repaired" in reply and "#español" in reply
    assert {r.channel_id for r in await store.rooms((await store.meeting_by_name(server.guild_id, "ELAC")).id)} == {
        r.channel for r in after.values()
    }


async def test_a_run_stopped_halfway_leaves_nothing_the_next_run_makes_twice(bot, server, store):
    # What a `/meeting create` killed right after Discord made them leaves: not yet recorded in the database.
    await store.create_managed_meeting(server.guild_id, "ELAC", always_on=False)
    category = server.add_channel("ELAC", kind=4)
    spanish = server.add_channel("español", parent_id=category)
    role = await server.add_role("ELAC · Español")
    for channel in (category, spanish):
        await server.dispatch("CHANNEL_CREATE", server.channels[channel])
    await asyncio.sleep(0.05)

    await run(server, server.lobby, "create", name="ELAC", languages="es,vi")

    made = rooms(server)
    assert server.named("ELAC", kind=4) == [category] and server.named("español") == [spanish]
    assert made["es"] == Room(spanish, role) and server.role_named("ELAC · Español") == [role]
    assert server.can_view(spanish, 1, [role]) and not server.can_view(spanish, 1)


async def test_missing_manage_roles_is_one_clear_error_and_nothing_is_created(server, quiet, store, translator,
                                                                               monkeypatch):  # fmt: skip
    server.everyone_permissions &= ~MANAGE_ROLES
    async with running_bot(server, quiet, store, translator, monkeypatch):
        call = await server.slash(server.lobby, "meeting", "create", name="ELAC", languages=SIX)
        reply = await call.reply()
    assert reply["type"] == 4 and reply["data"]["flags"] & EPHEMERAL
    assert reply["data"]["content"] == (
        "Sorry, Concord cannot set up a meeting: it lacks the **Manage Roles** permission in this server. A server "
        "admin can give them in Server Settings → Roles → Concord (or invite Concord again with the link in the "
        "README). Nothing was changed."
    )
    assert server.audit == [] and list(server.channels) == [server.lobby]
    assert await store.meetings(server.guild_id) == []


async def test_discord_refusing_halfway_undoes_everything_made(bot, server, store):
    server.fail(403, "create role", times=1)  # e.g. Concord's role was moved below where roles can be made

    reply = await run(server, server.lobby, "create", name="ELAC", languages="es,vi")

    assert reply == (
        "Sorry, Concord could not create the role ELAC · Español: Discord refused (403 Missing Permissions). "
        "Concord needs the **Manage Roles** permission there. Nothing was created."
    )
    assert list(server.channels) == [server.lobby] and server.roles == []
    assert any(a.startswith("DELETE /channels/") for a in server.audit)  # the category and #main made first
    assert await store.meetings(server.guild_id) == []
    await run(server, server.lobby, "create", name="ELAC", languages="es,vi")  # and it works once allowed
    assert set(rooms(server)) == {"en", "es", "vi"}


# --- the language picker -----------------------------------------------------------------------


async def test_picking_a_language_shows_its_channel_switching_swaps_roles_and_it_works_after_a_restart(
    bot, server, store, quiet, translator, monkeypatch
):
    await run(server, server.lobby, "create", name="ELAC", languages="es,vi,ar")
    made = rooms(server)
    message, select = picker(server, made["en"].channel)
    parent = server.user("Lan")
    pid = int(parent["id"])

    call = await server.select(message.id, select["custom_id"], ["es"], user=parent)
    assert (await answer(call))["content"] == f"✅ **Español** → <#{made['es'].channel}>"
    assert server.can_view(made["es"].channel, pid) and not server.can_view(made["vi"].channel, pid)

    call = await server.select(message.id, select["custom_id"], ["vi"], user=parent)
    await answer(call)
    assert server.member_roles[pid] == {made["vi"].role}
    assert server.can_view(made["vi"].channel, pid) and not server.can_view(made["es"].channel, pid)

    await bot.close()
    async with running_bot(server, quiet, store, translator, monkeypatch):  # a new process, the same message
        call = await server.select(message.id, select["custom_id"], ["ar"], user=parent)
        assert (await answer(call))["content"] == f"✅ **العربية** → <#{made['ar'].channel}>"
    assert server.member_roles[pid] == {made["ar"].role}
    meeting = await store.meeting_by_name(server.guild_id, "ELAC")
    assert await store.picks(meeting.id) == {"ar": 1}
    assert await store.member_language(server.guild_id, pid) == "ar"  # what "Translate to my language" uses


# --- a whole meeting ---------------------------------------------------------------------------


async def test_a_whole_meeting_for_six_languages_from_slash_commands(bot, server, store, libre):
    await run(server, server.lobby, "create", name="ELAC", languages=SIX, transcripts_to_channels=True)
    made = rooms(server)
    main, es, ar, mix = (made[c].channel for c in ("en", "es", "ar", "mix"))
    carmen, maria = server.user("Carmen"), server.user("María")
    message, select = picker(server, main)
    await answer(await server.select(message.id, select["custom_id"], ["es"], user=maria))

    await server.post(main, "Not started yet.", author=carmen)
    await settle(bot)
    assert [m for m in server.by_bot(es) if not m.pinned] == []  # nothing is relayed before the start

    assert "is live" in await run(server, main, "start")
    started = {code: server.by_bot(r.channel)[-1].content for code, r in made.items()}
    assert started["es"].startswith("▶️ La reunión **ELAC** ha comenzado.")
    assert started["ar"].startswith(LINE_START + "▶️ بدأ اجتماع **ELAC**.")
    assert started["fa"].startswith(LINE_START + "[ف] ▶️ **ELAC** has started.") and "✏️" in started["fa"]
    assert started["en"] == "▶️ **ELAC** has started. Messages are translated from now on."

    await server.post(main, f"IEP meeting at 6:00 PM, <@{maria['id']}>.", author=carmen)
    await server.wait_until(
        lambda: len(server.by_bot(es)) == 3 and len(server.by_bot(ar)) == 3 and len(server.by_bot(mix)) == 4, seconds=5
    )
    assert server.by_bot(es)[-1].content == f"[es] IEP meeting at 6:00 PM, <@{maria['id']}>."
    copy = server.by_bot(ar)[-1].content
    assert copy == mark_rtl(f"[ع] IEP meeting at 6:00 PM, <@{maria['id']}>.")
    assert copy.startswith(LINE_START) and f"{FSI}<@{maria['id']}>{PDI}" in copy
    relayed, call = server.by_bot(mix)[-2:]  # the original, marked, then the interpreters are called once
    assert relayed.content.startswith("IEP meeting at 6:00 PM") and "🗣️" in relayed.content
    (interpreters,) = server.role_named("ELAC · interpreters")
    assert call.pings == {f"role:{interpreters}"} and call.content.startswith(f"🗣️ <@&{interpreters}>")
    await server.post(es, "¿A qué hora es el IEP?", author=maria)
    await server.wait_until(lambda: any(m.content == "[en] ¿A qué hora es el IEP?" for m in server.by_bot(main)))
    await settle(bot)
    assert sum(m.content.startswith("🗣️ <@&") for m in server.by_bot(mix)) == 1  # one call per burst

    assert "paused" in await run(server, main, "pause")
    await server.post(main, "Off the record.", author=carmen)
    await settle(bot)
    assert not any("Off the record" in m.content for m in server.by_bot(es))
    assert "resumed" in await run(server, main, "start")
    assert server.by_bot(es)[-1].content.startswith("▶️ La reunión **ELAC** continúa.")

    end = await server.slash(main, "meeting", "end")
    assert (await answer(end))["content"].startswith("⏹️ **ELAC** has ended.")
    files_reply = await end.wait_for(3, seconds=10)
    more = await end.wait_for(4, seconds=10)
    files = dict(files_reply["files"] + more["files"])
    assert len(files) == 14  # Markdown and HTML for English and each of the six languages
    assert files_reply["data"]["flags"] & EPHEMERAL
    summary = files_reply["data"]["content"]
    assert "- Spanish: 1 · 1 · 1" in summary and "- Arabic: 0 · 0 · 0" in summary and "Total: 1 · 2 · 2" in summary
    es_md = next(v.decode() for k, v in files.items() if k.endswith("-es.md"))
    assert "IEP meeting at 6:00 PM, @María." in es_md and "\\[es\\] IEP meeting" in es_md
    assert "¿A qué hora es el IEP?" in es_md and "Off the record" not in es_md and "Not started" not in es_md
    ar_html = next(v.decode() for k, v in files.items() if k.endswith("-ar.html"))
    assert '<html lang="ar" dir="rtl">' in ar_html
    await server.wait_until(lambda: bool(server.by_bot(es)[-1].files), seconds=5)  # each channel gets its own
    ended = server.by_bot(es)
    assert ended[-2].content.startswith("⏹️ La reunión **ELAC** ha terminado.")
    assert sorted(name.rsplit("-", 1)[1] for name, _ in ended[-1].files) == ["es.html", "es.md"]
    await server.post(main, "After the end.", author=carmen)
    await settle(bot)
    assert not any("After the end" in m.content for m in server.by_bot(es))


@pytest.mark.skipif(missing_reason() is not None, reason=str(missing_reason()))
async def test_arabic_transcript_from_the_bot_reads_right_to_left_and_fits_a_phone(bot, server, tmp_path):
    await run(server, server.lobby, "create", name="ELAC", languages="ar")
    main = rooms(server)["en"].channel
    await run(server, main, "start")
    await server.post(main, "Welcome. The agenda: https://school.example.org/" + "elac-minutes-" * 20)
    await server.wait_until(lambda: len(server.by_bot(rooms(server)["ar"].channel)) == 3, seconds=5)
    end = await server.slash(main, "meeting", "end")
    files = dict((await end.wait_for(3, seconds=10))["files"])
    page = tmp_path / "ar.html"
    page.write_bytes(next(v for k, v in files.items() if k.endswith("-ar.html")))
    async with Browser() as browser:
        await browser.open(page, width=390)
        assert await browser.evaluate("getComputedStyle(document.body).direction") == "rtl"
        assert await browser.evaluate("document.documentElement.lang") == "ar"
        assert await browser.evaluate("document.documentElement.scrollWidth") <= 390


async def test_a_long_arabic_reply_keeps_its_reply_line_and_direction_marks_within_2000_characters(bot, server, libre):
    await run(server, server.lobby, "create", name="ELAC", languages="ar")
    made = rooms(server)
    main, ar = made["en"].channel, made["ar"].channel
    await run(server, main, "start")
    libre.fake.dictionary["ar"] = {"Room 12 at 6:00 PM.": "الغرفة 12 الساعة 6:00 PM."}
    first = await server.post(main, "Agenda.")
    await server.wait_until(lambda: len(server.by_bot(ar)) == 3)
    text = "\n".join(["Room 12 at 6:00 PM."] * 90)  # 1,799 characters; every line gets marks in Arabic

    await server.post(main, text, reply_to=first)
    await server.wait_until(lambda: len(server.by_bot(ar)) == 4, seconds=5)

    (copy,) = server.by_bot(ar)[-1:]
    assert len(copy.content) <= 2000
    reply_line, first_line, *rest = copy.content.split("\n")
    assert reply_line.startswith("> ↪ https://discord.com/channels/")
    assert first_line == mark_rtl("[ع] الغرفة 12 الساعة 6:00 PM.")  # marked: it sets how the message reads
    assert rest[-1] == "الغرفة 12 الساعة 6:00 PM."  # the last lines go unmarked rather than over the limit


# --- the rest of the commands ------------------------------------------------------------------


async def test_show_original_gives_the_source_its_language_and_a_link(bot, server):
    await run(server, server.lobby, "create", name="ELAC", languages="es,ar")
    made = rooms(server)
    await run(server, made["en"].channel, "start")
    source = await server.post(made["es"].channel, "¿Dónde es la reunión?", author=server.user("María"))
    await server.wait_until(lambda: len(server.by_bot(made["ar"].channel)) == 3)
    await settle(bot)
    copy = server.by_bot(made["ar"].channel)[-1]

    call = await server.message_command("Show original", copy.id, user=server.user("Omar"), permissions=0)
    reply = (await call.reply())["data"]

    assert reply["flags"] & EPHEMERAL
    link = server.link(made["es"].channel, source)
    assert reply["content"] == f"**النص الأصلي** · Español (Spanish) · [↗]({link})\n> ¿Dónde es la reunión?"
    call = await server.message_command("Show original", source, permissions=0)
    assert (await call.reply())["data"]["content"] == "This is the original message (Spanish · Español)."


async def test_languages_add_and_remove_change_channels_roles_and_the_picker(bot, server, store):
    await run(server, server.lobby, "create", name="ELAC", languages="es,vi")
    main = rooms(server)["en"].channel
    await run(server, main, "start")
    await run(server, main, "languages add", languages="km,so")
    made = rooms(server)
    assert {"km", "so"} <= set(made) and server.pinned(made["km"].channel)
    assert server.by_bot(made["km"].channel)[-1].content.startswith("▶️ **ELAC**")  # told it is live
    vi = made["vi"]
    await run(server, main, "languages remove", languages="vi")
    assert vi.channel not in server.channels and not server.role_named("ELAC · Tiếng Việt")
    _, select = picker(server, main)
    assert [o["value"] for o in select["options"]] == ["es", "km", "so", "en"]
    assert await store.channel(vi.channel) is None


async def test_archive_makes_the_channels_read_only_and_stops_relaying(bot, server, store):
    await run(server, server.lobby, "create", name="ELAC", languages="es")
    made = rooms(server)
    parent = int(server.user("María")["id"])
    await run(server, made["en"].channel, "start")

    reply = await run(server, made["en"].channel, "archive")

    assert "archived" in reply
    assert server.can_view(made["es"].channel, parent, [made["es"].role])
    assert not server.can_send(made["es"].channel, parent, [made["es"].role])
    assert not server.can_send(made["en"].channel, parent)
    assert await store.channel(made["es"].channel) is None  # no longer relayed; still linked for transcripts
    assert (await store.meeting_of_channel(made["es"].channel)).state == "archived"


async def test_purge_deletes_what_concord_kept_of_the_meeting(bot, server, store):
    await run(server, server.lobby, "create", name="ELAC", languages="es")
    made = rooms(server)
    await run(server, made["en"].channel, "start")
    await server.post(made["en"].channel, "A private matter.")
    await server.wait_until(lambda: len(server.by_bot(made["es"].channel)) == 3)
    meeting = await store.meeting_by_name(server.guild_id, "ELAC")
    assert len(await store.meeting_sources(meeting.id)) == 1

    reply = await run(server, made["en"].channel, "purge", meeting="ELAC")

    assert "1 message(s)" in reply
    assert await store.meeting_sources(meeting.id) == []
    end = await server.slash(made["en"].channel, "meeting", "transcript")
    assert "(0 messages)" in (await answer(end))["content"]


def test_a_meeting_in_every_language_gets_a_second_menu_past_discords_25_options():
    codes = list(languages.LANGUAGES)
    menus = [row["components"][0] for row in picker_view(7, codes).to_components()]
    assert [m["custom_id"] for m in menus] == ["concord:lang:7:0", "concord:lang:7:1"]
    values = [o["value"] for m in menus for o in m["options"]]
    assert len(menus[0]["options"]) == 25 and sorted(values) == sorted(codes)
    assert all(len(o["label"]) <= 100 for m in menus for o in m["options"]) and len(menus[0]["placeholder"]) <= 150
