"""What families expect from a conversation, end to end: files, reactions, threads, the right source language and
`/translate`. The real discord.py client against the loopback Discord (`bot/testing/discord_server.py`, files,
reactions and threads in `discord_conversation.py`), the real engine and store, the fake LibreTranslate ("[es] ").
Fixtures `server`, `meeting`, `bot_settings` and `bot` are the adapter tests' own.
"""

from __future__ import annotations

import test_discord_adapter as adapter

from bot.testing.discord_server import EPHEMERAL

server = adapter.server
meeting = adapter.meeting
bot_settings = adapter.bot_settings
bot = adapter.bot
relayed = adapter.relayed
settle = adapter.settle

PDF = b"%PDF-1.4\n" + bytes(range(256)) * 40 + b"\n%%EOF\n"
PNG = b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 20


def files_of(message) -> list[tuple[str, str | None]]:
    return [(a["filename"], a.get("description")) for a in message.attachments]


# --- files ---------------------------------------------------------------------------------------


async def test_a_pdf_and_an_image_reach_every_channel_as_files_and_follow_the_original(bot, server, meeting):
    files = [("agenda.pdf", PDF, None), ("slip.png", PNG, "Permission slip for the field trip")]
    original = await server.post(meeting.main, "Agenda and slip", author=server.user("Carmen"), files=files)
    both = (meeting.es, meeting.vi)
    await server.wait_until(lambda: all(len(relayed(server, c)) == 1 for c in both))

    for channel, code in ((meeting.es, "es"), (meeting.vi, "vi")):
        (copy,) = relayed(server, channel)
        assert copy.content == f"[{code}] Agenda and slip"
        assert files_of(copy) == [("agenda.pdf", None), ("slip.png", f"[{code}] Permission slip for the field trip")]
        assert [server.file_data(a) for a in copy.attachments] == [PDF, PNG]

    await server.edit(original, "Agenda and slip", keep_files=["slip.png"])  # the author removes the PDF
    await server.wait_until(lambda: all(len(relayed(server, c)[0].attachments) == 1 for c in both))
    assert [files_of(relayed(server, c)[0])[0][0] for c in both] == ["slip.png", "slip.png"]

    await server.delete(original)
    await server.wait_until(lambda: all(relayed(server, c) == [] for c in both))


async def test_files_more_than_a_channel_takes_are_linked_to_the_original(bot, server, meeting):
    server.upload_limit = 300 * 1024  # the webhook takes less than the server's limit says
    big = bytes(400 * 1024)
    original = await server.post(
        meeting.main, "", author=server.user("Carmen"), files=[("photo.png", PNG, None), ("scan.pdf", big, None)]
    )
    await server.wait_until(lambda: len(relayed(server, meeting.es)) == 1)
    (copy,) = relayed(server, meeting.es)
    assert files_of(copy) == [("photo.png", None)]
    assert copy.content == f"📎 [scan.pdf](<{server.link(meeting.main, original)}>)"
    assert server.too_large >= 1  # it was tried with both files first


# --- the language a message is written in --------------------------------------------------------


async def test_english_in_the_spanish_channel_reaches_main_as_written_and_vietnamese_from_english(
    bot, server, meeting, libre
):
    text = "Thank you, I will be at the meeting tomorrow evening."
    await server.post(meeting.es, text, author=server.user("Rosa"))
    await server.wait_until(lambda: len(relayed(server, meeting.main)) == 1 and len(relayed(server, meeting.vi)) == 1)

    (in_main,) = relayed(server, meeting.main)
    assert in_main.content == text
    assert in_main.username == "Rosa · Español"  # where she reads: the facilitator answers in her channel
    (in_vi,) = relayed(server, meeting.vi)
    assert in_vi.content == f"[vi] {text}"
    assert [(c.source, c.target) for c in libre.fake.calls] == [("en", "vi")]


# --- reactions -----------------------------------------------------------------------------------


async def test_a_reaction_on_the_vietnamese_copy_shows_on_the_original_and_the_other_copy_once(bot, server, meeting):
    original = await server.post(meeting.main, "Raise your hand to speak", author=server.user("Carmen"))
    await server.wait_until(lambda: len(relayed(server, meeting.es)) == 1 and len(relayed(server, meeting.vi)) == 1)
    in_es, in_vi = relayed(server, meeting.es)[0].id, relayed(server, meeting.vi)[0].id
    lan, rosa = server.user("Lan"), server.user("Rosa")
    me = int(server.bot_user["id"])

    await server.react(in_vi, "✋", lan)
    await server.wait_until(lambda: server.bot_reactions(original) == ["✋"] and server.bot_reactions(in_es) == ["✋"])
    await server.react(in_es, "✋", rosa)  # a second hand: nothing more to mirror
    await settle(bot)
    assert server.reactions(original) == {"✋": [me]}
    assert server.reactions(in_es) == {"✋": [me, int(rosa["id"])]}
    assert server.reactions(in_vi) == {"✋": [int(lan["id"])]}  # never mirrored back where it was made

    count = await server.message_command("Count reactions across languages", original)
    reply = await count.reply()
    assert reply["data"]["flags"] & EPHEMERAL
    assert reply["data"]["content"] == "✋ **2** across 2 languages (Español 1, Tiếng Việt 1)"

    await server.unreact(in_vi, "✋", lan)
    await settle(bot)
    assert server.bot_reactions(original) == ["✋"]  # Rosa still holds it
    await server.unreact(in_es, "✋", rosa)
    await server.wait_until(lambda: not server.bot_reactions(original) and not server.bot_reactions(in_es))


# --- threads -------------------------------------------------------------------------------------


async def test_a_thread_on_a_main_message_exists_under_each_copy_and_its_messages_relay(bot, server, meeting):
    carmen, lan = server.user("Carmen"), server.user("Lan")
    original = await server.post(meeting.main, "Questions about the field trip?", author=carmen)
    await server.wait_until(lambda: len(relayed(server, meeting.es)) == 1 and len(relayed(server, meeting.vi)) == 1)
    copies = {meeting.es: relayed(server, meeting.es)[0].id, meeting.vi: relayed(server, meeting.vi)[0].id}

    thread = await server.start_thread(meeting.main, "Field trip", message_id=original, user=carmen)
    first = await server.post(thread, "The bus leaves at 8.", author=carmen)  # right away: it waits for the threads
    await server.wait_until(lambda: all(server.threads_of(c) for c in copies))
    threads = {}
    for channel, code in ((meeting.es, "es"), (meeting.vi, "vi")):
        (made,) = server.threads_of(channel)
        assert int(made["id"]) == copies[channel]  # started from the copy
        assert made["name"] == f"[{code}] Field trip"
        threads[channel] = int(made["id"])

    await server.wait_until(lambda: all(len(relayed(server, t)) == 1 for t in threads.values()))
    assert relayed(server, threads[meeting.es])[0].content == "[es] The bus leaves at 8."
    await server.post(threads[meeting.vi], "Con tôi có cần mang cơm trưa không?", author=lan)
    await server.wait_until(
        lambda: len(relayed(server, thread)) == 1 and len(relayed(server, threads[meeting.es])) == 2
    )
    assert relayed(server, thread)[0].content == "[en] Con tôi có cần mang cơm trưa không?"
    assert relayed(server, thread)[0].username == "Lan · Tiếng Việt"

    await server.edit(first, "The bus leaves at 9.")
    await server.wait_until(lambda: relayed(server, threads[meeting.vi])[0].content == "[vi] The bus leaves at 9.")
    await server.delete(first)
    await server.wait_until(lambda: len(relayed(server, threads[meeting.es])) == 1)
    assert relayed(server, meeting.main) == []  # nothing of the thread leaks into the channels


# --- /translate ----------------------------------------------------------------------------------


async def test_translate_answers_only_the_asker_with_the_glossary_applied(bot, server, meeting):
    await bot.glossary.add_term("es", "field trip", "excursión escolar", by="test", guild_id=server.guild_id)
    call = await server.slash(meeting.vi, "translate", text="The field trip is on Friday.", to="es")

    deferred = await call.reply()
    assert deferred["type"] == 5 and deferred["data"]["flags"] & EPHEMERAL
    answer = (await call.wait_for(2))["data"]
    assert answer["flags"] & EPHEMERAL
    assert answer["content"] == "[es] The excursión escolar is on Friday.\n-# 🌐 English → Español"
    assert relayed(server, meeting.vi) == [] and relayed(server, meeting.es) == []  # nothing posted


async def test_translate_to_my_language_asks_once_then_remembers(bot, server, meeting, store):
    carmen, lan = server.user("Carmen"), server.user("Lan")
    first = await server.post(meeting.main, "Lunch is free for every student.", author=carmen)
    second = await server.post(meeting.main, "The library opens at 7.", author=carmen)

    call = await server.message_command("Translate to my language", first, user=lan)
    ask = await call.reply()
    assert ask["data"]["flags"] & EPHEMERAL and "Which language" in ask["data"]["content"]
    picked = await server.choose(call, "concord:language:0", ["vi"])
    shown = await picked.wait_for(2)
    assert shown["data"]["content"] == "[vi] Lunch is free for every student.\n-# 🌐 English → Tiếng Việt"
    assert await store.member_language(server.guild_id, int(lan["id"])) == "vi"

    again = await server.message_command("Translate to my language", second, user=lan)
    assert (await again.wait_for(2))["data"]["content"].startswith("[vi] The library opens at 7.")


async def test_translate_says_plainly_when_it_cannot(bot, server, meeting, libre):
    unknown = await server.slash(meeting.main, "translate", text="Hello", to="xx")
    assert "don't know the language code `xx`" in (await unknown.reply())["data"]["content"]

    libre.fake.down = True  # every backend fails: the original, marked in the reader's language
    call = await server.slash(meeting.main, "translate", text="The meeting is at 6.", to="es")
    answer = (await call.wait_for(2))["data"]
    assert answer["flags"] & EPHEMERAL
    assert answer["content"].startswith("The meeting is at 6.\n-# ⏳ aún sin traducir")
