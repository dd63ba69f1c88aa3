"""Who may change the glossary and the meeting channels, and slash-command sync that Discord refuses: through
the loopback Discord with the real discord.py client (fixtures from the adapter and glossary-cog tests).

Role settings take an ID, or a name resolved once per server: a role that merely shares the name (another
case, a second role made later, a self-assignable copy) must grant nothing.
"""

from __future__ import annotations

import logging

import pytest
import test_discord_adapter as adapter
import test_glossary_cog as cog_tests
from test_glossary_cog import Person, ask

from bot.testing.discord_server import EPHEMERAL

server = adapter.server
meeting = adapter.meeting
bot = adapter.bot
relayed = adapter.relayed


@pytest.fixture
async def roles(server) -> dict[str, list[int]]:
    """Roles that exist before the bot starts: `request.param` of `bot_settings` says which."""
    return {}


@pytest.fixture
async def bot_settings(request, settings, server, roles):
    """`indirect` parametrize with (role names to create before start, settings updates); a value "{Name}"
    is replaced by the ID of the first role of that name, "{guild}" by the server's ID ("{guild id}": as text)."""
    names, updates = getattr(request, "param", ((), {}))
    for name in names:
        roles.setdefault(name, []).append(await server.add_role(name))
    placeholders = {"{guild}": server.guild_id, "{guild id}": str(server.guild_id)}
    placeholders |= {f"{{{name}}}": str(ids[0]) for name, ids in roles.items()}
    resolved = {
        key: placeholders.get(value, value) if isinstance(value, str) else value for key, value in updates.items()
    }
    return settings.model_copy(update={"retry_untranslated_every": 0.0, **resolved})


def member(server, name: str, *role_ids: int) -> Person:
    return Person(server.user(name), list(role_ids))


async def add_term(server, meeting, who: Person, rendering: str = "PEI") -> str:
    return await ask(server, meeting.main, who, "add", term="IEP", language="es", rendering=rendering)


# --- the volunteer role ---------------------------------------------------------------------------------


async def test_a_role_named_volunteer_in_another_case_grants_nothing(bot, server, meeting):
    lowercase = await server.add_role("volunteer")  # a self-assignable role, say
    version = await bot.store.glossary_version()
    text = await add_term(server, meeting, member(server, "Mallory", lowercase))
    assert text.startswith("Sorry, only members with the **Volunteer** role")
    assert await bot.store.glossary_version() == version


async def test_two_roles_named_volunteer_grant_nothing_and_say_how_to_fix_it(bot, server, meeting, caplog):
    first, second = await server.add_role("Volunteer"), await server.add_role("Volunteer")
    version = await bot.store.glossary_version()

    for role in (first, second):
        text = await add_term(server, meeting, member(server, "Ana", role))
        assert text.startswith("Sorry, only members with the **Volunteer** role")
        assert f"2 roles are named Volunteer in {server.guild_name} (IDs {first}, {second})" in text
        assert "set CONCORD_VOLUNTEER_ROLE to the right role's ID" in text
    assert await bot.store.glossary_version() == version
    warnings = [
        r.getMessage() for r in caplog.records if r.levelno == logging.WARNING and "roles are named" in r.message
    ]
    assert len(warnings) == 1  # once per server, not once per command


async def test_a_copy_of_the_volunteer_role_made_after_it_was_resolved_grants_nothing(bot, server, meeting):
    real = await server.add_role("Volunteer")
    assert "Added" in await add_term(server, meeting, member(server, "Ana", real))  # resolves the name to `real`

    copy = await server.add_role("Volunteer")
    refused = await add_term(server, meeting, member(server, "Mallory", copy), rendering="Plan")
    assert refused.startswith("Sorry, only members with the **Volunteer** role")
    assert await cog_tests.rendering(bot, "IEP") == "PEI"
    edited = await ask(server, meeting.main, member(server, "Ana", real), "edit", term="IEP", language="es",
                       rendering="PEI (Programa)")  # fmt: skip
    assert edited.startswith("Saved")


@pytest.mark.parametrize("bot_settings", [(("Volunteer", "Volunteer"), {"volunteer_role": "{Volunteer}"})],
                         indirect=True)  # fmt: skip
async def test_the_volunteer_role_by_id_picks_one_of_two_roles_with_the_same_name(bot, server, meeting, roles):
    chosen, other = roles["Volunteer"]
    assert "Added" in await add_term(server, meeting, member(server, "Ana", chosen))
    refused = await add_term(server, meeting, member(server, "Mallory", other), rendering="Plan")
    assert refused.startswith("Sorry, only members with the **Volunteer** role")
    assert "For the bot's administrator" not in refused  # nothing is misconfigured


@pytest.mark.parametrize("bot_settings", [((), {"volunteer_role": None})], indirect=True)
async def test_without_a_volunteer_role_only_manage_server_may_change_terms(bot, server, meeting):
    role = await server.add_role("Volunteer")
    text = await add_term(server, meeting, member(server, "Ana", role))
    assert text.startswith("Sorry, only members with the **Manage Server** permission can change the glossary")
    owner = Person(server.owner, permissions=1 << 5)
    assert "Added" in await add_term(server, meeting, owner)


async def test_confirming_an_import_rechecks_the_role(bot, server, meeting):
    """The button is pressed minutes after the upload: a volunteer whose role was taken away is refused."""
    role = await server.add_role("Volunteer")
    ana = member(server, "Ana", role)
    await ask(server, meeting.main, ana, "add", term="IEP", language="es", rendering="PEI")
    await ask(server, meeting.main, ana, "approve", term="IEP", language="es")
    upload = server.upload("es.csv", b"IEP,Plan\n")
    call = await cog_tests.glossary(server, meeting.main, ana, "import", file=upload)
    await call.wait_for(2)

    press = await server.click(call, "glossary-import-force", user=ana.user, permissions=0)  # her role is gone
    reply = await press.wait_for(1)
    assert "only members with the **Volunteer** role" in reply["data"]["content"]
    assert await cog_tests.rendering(bot, "IEP") == "PEI"


EVERYONE = [((), {"volunteer_role": "@everyone"}), ((), {"volunteer_role": "{guild id}"})]


@pytest.mark.parametrize("bot_settings", EVERYONE, indirect=True)
async def test_at_everyone_as_the_volunteer_role_grants_nothing(bot, server, meeting):
    text = await add_term(server, meeting, member(server, "Mallory"))
    assert text.startswith("Sorry, only members with the ")
    assert "is @everyone, which every member holds; set it to a role's ID" in text


# --- the facilitator role ------------------------------------------------------------------------------


async def link(server, channel: int, who: Person) -> str:
    call = await server.slash(channel, "concord", "link", user=who.user, roles=who.roles, permissions=who.permissions,
                              meeting="DELAC", language="en")  # fmt: skip
    response = await call.wait_for(1)
    assert response["data"]["flags"] & EPHEMERAL
    return response["data"]["content"]


@pytest.mark.parametrize("bot_settings", [(("Facilitators",), {"facilitator_role": "Facilitators"})], indirect=True)
async def test_a_facilitator_without_manage_server_may_link_channels(bot, server, meeting, roles):
    carmen = member(server, "Carmen", roles["Facilitators"][0])
    assert (await link(server, meeting.spare, carmen)).startswith(f"Linked <#{meeting.spare}> to meeting **DELAC**")
    parent = member(server, "Rosa")
    assert (await link(server, meeting.spare, parent)).startswith(
        "Sorry, only members with the **Facilitators** role (or the **Manage Server** permission) can change "
        "meeting channels."
    )
    assert bot.tree.get_command("concord").default_permissions is None  # facilitators can see it


async def test_without_a_facilitator_role_linking_needs_manage_server(bot, server, meeting):
    role = await server.add_role("Facilitator")
    text = await link(server, meeting.spare, member(server, "Carmen", role))
    assert text == "Sorry, only members with the **Manage Server** permission can change meeting channels."
    assert await bot.store.channel(meeting.spare) is None
    assert bot.tree.get_command("concord").default_permissions.manage_guild


# --- slash-command sync that Discord refuses ---------------------------------------------------------------


async def relays_still(server, meeting) -> None:
    await server.post(meeting.main, "The meeting starts now", author=server.user("Carmen"))
    await server.wait_until(lambda: len(relayed(server, meeting.es)) == 1)


def sync_errors(caplog) -> list[str]:
    """ERROR lines of the adapter, from the bot's start (fixture setup) and the test itself."""
    records = caplog.get_records("setup") + caplog.get_records("call")
    return [r.getMessage() for r in records if r.name == "bot.app" and r.levelno >= logging.ERROR]


@pytest.fixture
def refusing(server):
    server.deny_commands = True  # as for a bot invited without the applications.commands scope


@pytest.mark.parametrize("bot_settings", [((), {"test_guild_id": "{guild}"})], indirect=True)
async def test_sync_refused_for_the_scope_is_one_line_with_the_invite_link_and_relaying_goes_on(
    refusing, bot, server, meeting, caplog
):
    (line,) = sync_errors(caplog)
    assert line.startswith(
        "slash commands not published: Discord refused (403 Missing Access): invite the bot again with the "
        "applications.commands scope: https://discord.com/oauth2/authorize?"
    )
    assert line.endswith("; relaying goes on without them")
    await relays_still(server, meeting)


@pytest.mark.parametrize("bot_settings", [((), {"test_guild_id": 4242})], indirect=True)
async def test_a_test_guild_the_bot_is_not_in_is_one_line_naming_the_setting_and_relaying_goes_on(
    bot, server, meeting, caplog
):
    (line,) = sync_errors(caplog)
    assert "CONCORD_TEST_GUILD_ID=4242 is not a server this bot is in " in line
    assert f"(it is in: {server.guild_name} ({server.guild_id}))" in line
    await relays_still(server, meeting)


async def test_a_refused_global_sync_is_one_line_and_relaying_goes_on(bot, server, meeting, caplog):
    server.deny_commands = True
    bot.sync_commands = True  # `run --sync`
    await bot.publish_commands()
    (line,) = sync_errors(caplog)
    assert "applications.commands" in line
    await relays_still(server, meeting)
