"""`/glossary review`: volunteers walk a language's drafts one at a time, end to end.

The real discord.py client against the loopback Discord, a real SQLite store, the fake LibreTranslate. The
drafts are shared rows (as the seed loads them); a review writes this server's own row.
"""

from __future__ import annotations

import asyncio

import pytest
import test_glossary_cog as cog

from bot.glossary import Glossary, Stale
from bot.glossary.review import ReviewQueue
from bot.glossary.stats import as_table, compute
from bot.testing.discord_server import EPHEMERAL

server, meeting, bot_settings, bot = cog.server, cog.meeting, cog.bot_settings, cog.bot
volunteer, parent, Person, answer = cog.volunteer, cog.parent, cog.Person, cog.answer

APPROVE, EDIT, SKIP, DOUBTFUL = (f"glossary-review-{b}" for b in ("approve", "edit", "skip", "doubtful"))


async def seed(glossary: Glossary) -> None:
    """Four Vietnamese rows: three drafts (IEP and 504 plan come first: special education) and one approved."""
    await glossary.add_term(
        "vi", "field trip", "chuyến đi thực tế", by="seed", definition="A school outing away from campus."
    )
    await glossary.add_term("vi", "principal", "hiệu trưởng", by="seed", status="approved", source="OSPI-vi")
    await glossary.add_term(
        "vi", "IEP", "Chương trình Giáo dục Cá nhân hóa", by="seed", expansion="Individualized Education Program",
        definition="The written plan of special education services.", variants=["Kế hoạch IEP"],
        forbidden=["Chương trình Giáo dục Cá nhân"], notes="suggested rendering, needs volunteer review",
    )  # fmt: skip
    await glossary.add_term("vi", "504 plan", "Kế hoạch 504", by="seed")


async def review(server, channel: int, who: Person, language: str = "vi"):
    return await server.slash(
        channel, "glossary", "review", user=who.user, roles=who.roles, permissions=who.permissions, language=language
    )


async def shown(call, count: int = 1) -> tuple[str, list[str]]:
    """The review message's text and its enabled buttons, after the `count`-th response."""
    response = await call.wait_for(count)
    data = response["data"]
    buttons = [
        c["custom_id"] for row in data.get("components") or [] for c in row["components"] if not c.get("disabled")
    ]
    return data["content"], buttons


async def press(server, call, button: str):
    """Press a button of the message as `call` left it, once that answer has arrived (as a person would)."""
    click = await server.click(call, button)
    await click.reply()
    return click


async def status(bot, term: str) -> tuple[str, str, int]:
    view = await bot.glossary.show(term, "vi", guild_id=bot.guilds[0].id)
    return view.rendering.preferred, view.rendering.status, view.rendering.guild_id


async def test_review_shows_the_most_important_draft_and_approve_brings_the_next(bot, server, meeting, volunteer):
    await seed(bot.glossary)
    call = await review(server, meeting.main, volunteer)
    assert (await call.reply())["data"]["flags"] & EPHEMERAL
    text, buttons = await shown(call)
    assert "1 of 4 reviewed" in text and "3 drafts" in text
    for part in (
        "## IEP — Individualized Education Program", "**Definition:** The written plan of special education services.",
        "**English example:** none in the glossary data", "**Rendering:** Chương trình Giáo dục Cá nhân hóa",
        "**Variants:** Kế hoạch IEP", "**Forbidden:** Chương trình Giáo dục Cá nhân",
        "**Notes:** suggested rendering, needs volunteer review", "**Status:** draft · **Source:** —",
    ):  # fmt: skip
        assert part in text
    assert buttons == [APPROVE, EDIT, SKIP, DOUBTFUL]

    click = await server.click(call, APPROVE)
    assert (await click.reply())["type"] == 7  # the same message, updated
    text, _ = await shown(click)
    assert "✅ Approved: **IEP**" in text and "## 504 plan" in text
    assert "2 of 4 reviewed" in text and "you: 1" in text
    assert await status(bot, "IEP") == ("Chương trình Giáo dục Cá nhân hóa", "approved", server.guild_id)
    assert (await bot.glossary.show("IEP", "vi")).rendering.status == "draft"  # other servers: still a draft
    (entry, *_) = await bot.glossary.history("IEP", "vi", guild_id=server.guild_id)
    assert entry.action == "review" and entry.by.startswith("ana_(volunteer) (")

    click = await server.click(click, APPROVE)
    assert "## field trip" in (await shown(click))[0]  # then the rest, by English term
    text, buttons = await shown(await server.click(click, APPROVE))
    assert "4 of 4 reviewed" in text and "Nothing left to review" in text and buttons == []


async def test_edit_opens_a_prefilled_form_and_saves_the_rendering_as_approved(bot, server, meeting, volunteer):
    await seed(bot.glossary)
    call = await review(server, meeting.main, volunteer)
    await call.reply()
    opened = await server.click(call, EDIT)
    form = cog.modal_inputs(await opened.reply())
    assert {k: v["value"] for k, v in form.items()} == {
        "rendering": "Chương trình Giáo dục Cá nhân hóa", "variants": "Kế hoạch IEP",
        "forbidden": "Chương trình Giáo dục Cá nhân", "notes": "suggested rendering, needs volunteer review",
    }  # fmt: skip
    version = await bot.store.glossary_version()

    refused = await server.submit_modal(opened, {"rendering": "Chương trình | IEP"})
    assert "contains a line break, tab or '|'" in await answer(refused)
    assert await bot.store.glossary_version() == version
    again = await server.click(call, EDIT)  # what was typed comes back, not lost
    assert cog.modal_inputs(await again.reply())["rendering"]["value"] == "Chương trình | IEP"

    saved = await server.submit_modal(again, {"rendering": "Chương trình Giáo dục Cá nhân (IEP)", "notes": "OSPI"})
    text, _ = await shown(saved)
    assert "✅ Saved and approved: **IEP** → Chương trình Giáo dục Cá nhân (IEP)" in text and "## 504 plan" in text
    view = await bot.glossary.show("IEP", "vi", guild_id=server.guild_id)
    assert (view.rendering.preferred, view.rendering.status, view.rendering.notes) == (
        "Chương trình Giáo dục Cá nhân (IEP)", "approved", "OSPI",
    )  # fmt: skip


async def test_skip_changes_nothing_counts_nothing_and_the_end_says_what_is_left(bot, server, meeting, volunteer):
    await seed(bot.glossary)
    version = await bot.store.glossary_version()
    call = await review(server, meeting.main, volunteer)
    await call.reply()
    click = await server.click(call, SKIP)
    text, _ = await shown(click)
    assert "Skipped **IEP** (it stays a draft)" in text and "1 of 4 reviewed" in text and "you:" not in text
    for _ in range(2):
        click = await press(server, click, SKIP)
    text, buttons = await shown(click)
    assert "That was the last one you have not skipped" in text and "3 still wait" in text and buttons == []
    assert await bot.store.glossary_version() == version

    again = await review(server, meeting.main, volunteer)  # a new pass shows the skipped ones again
    assert "## IEP" in (await shown(again))[0]


async def test_doubtful_stays_enforced_behind_the_drafts_and_shows_in_show_stats_and_export(
    bot, server, meeting, volunteer
):
    await seed(bot.glossary)
    call = await review(server, meeting.main, volunteer)
    await call.reply()
    click = await press(server, await press(server, call, SKIP), SKIP)  # IEP, 504 plan
    text, _ = await shown(await press(server, click, DOUBTFUL))  # field trip
    assert "🤔 Marked doubtful: **field trip**" in text and "2 of 4 reviewed" in text and "1 doubtful" in text
    assert await status(bot, "field trip") == ("chuyến đi thực tế", "doubtful", server.guild_id)

    await server.post(meeting.main, "The field trip is on Friday.", author=server.user("Carmen"))
    await server.wait_until(lambda: len(server.by_bot(meeting.vi)) == 1)
    assert server.by_bot(meeting.vi)[0].content == "[vi] The chuyến đi thực tế is on Friday."  # still enforced
    assert "doubtful" in await cog.ask(server, meeting.main, volunteer, "show", term="field trip", language="vi")

    other = await review(server, meeting.main, Person(server.user("Lan"), volunteer.roles))
    assert "## IEP" in (await shown(other))[0]  # the drafts come first
    text, buttons = await shown(await press(server, await press(server, other, APPROVE), APPROVE))
    assert "## field trip" in text and "**Status:** doubtful" in text and DOUBTFUL not in buttons

    table = as_table(await compute(bot.store, server.guild_id)).splitlines()
    (vi,) = [line for line in table if line.startswith("vi ")]
    assert vi.split()[2:6] == ["3", "1", "1", "0"]  # approved, draft (of which doubtful), missing
    exported = await bot.glossary.export("vi", guild_id=server.guild_id)
    assert ",doubtful," in exported
    summary = await bot.glossary.import_file(exported.encode(), name="vi.csv", by="x", guild_id=server.guild_id)
    assert summary.updated == 0  # round trip: the doubtful row reads back as it was (a shared row gets a copy)
    assert await bot.glossary.export("vi", guild_id=server.guild_id) == exported


async def test_only_volunteers_review_and_a_removed_role_is_refused_on_the_next_press(
    bot, server, meeting, volunteer, parent
):
    await seed(bot.glossary)
    assert "**Volunteer** role" in await answer(await review(server, meeting.vi, parent))
    call = await review(server, meeting.main, volunteer)
    await call.reply()
    version = await bot.store.glossary_version()

    for button in (APPROVE, DOUBTFUL, EDIT):  # the role was taken away while the message was open
        refused = await server.click(call, button, user=volunteer.user, roles=[], permissions=0)
        assert "**Volunteer** role" in await answer(refused)
    assert await bot.store.glossary_version() == version
    assert (await status(bot, "IEP"))[1] == "draft"


async def test_two_volunteers_on_one_draft_the_second_learns_who_was_first(bot, server, meeting, volunteer):
    await seed(bot.glossary)
    lan = Person(server.user("Lan"), volunteer.roles)
    mine, theirs = await review(server, meeting.main, volunteer), await review(server, meeting.main, lan)
    assert "## IEP" in (await shown(mine))[0] and "## IEP" in (await shown(theirs))[0]

    clicks = await asyncio.gather(server.click(mine, APPROVE), server.click(theirs, DOUBTFUL))
    texts = [(await shown(c))[0] for c in clicks]
    late = [t for t in texts if "was already reviewed by" in t]
    assert len(late) == 1 and "nothing was changed" in late[0] and "## 504 plan" in late[0]
    reviews = [e for e in await bot.glossary.history("IEP", "vi", guild_id=server.guild_id) if e.action == "review"]
    assert len(reviews) == 1  # one write; the other press changed nothing
    winner = "ana_(volunteer)" if reviews[0].after.status == "approved" else "lan"
    assert f"already reviewed by {winner}" in late[0]


async def test_language_option_suggests_languages_with_drafts(bot, server, meeting, volunteer):
    await seed(bot.glossary)
    await bot.glossary.add_term("es", "IEP", "PEI", by="seed", status="approved")
    await bot.glossary.add_term("ko", "IEP", "개별화 교육 프로그램", by="seed")
    call = await server.autocomplete(meeting.main, "glossary", "review", "language", "")
    choices = (await call.reply())["data"]["choices"]
    assert sorted(c["value"] for c in choices) == ["ko", "vi"]  # es: nothing left to review
    assert any(c["name"].endswith("· 3 to review") and c["value"] == "vi" for c in choices)


async def test_a_review_refuses_a_draft_changed_by_another_process_after_it_was_shown(store, tmp_path):
    glossary = Glossary(store, refresh_every=3600)  # would not notice the other process's write by itself
    await seed(glossary)
    queue = ReviewQueue(glossary)
    item = await queue.next("vi", 42)
    assert item.concept.term == "IEP"
    other = await type(store).open(tmp_path / "concord.db")  # the command line, say
    try:
        await Glossary(other).approve("IEP", "vi", by="cli", guild_id=42)
    finally:
        await other.close()
    with pytest.raises(Stale, match="changed by cli"):
        await queue.doubt(item, by="ana", guild_id=42)
    assert (await glossary.show("IEP", "vi", guild_id=42)).rendering.status == "approved"
    assert (await queue.next("vi", 42)).concept.term == "504 plan"
