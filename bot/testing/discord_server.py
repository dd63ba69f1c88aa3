"""A loopback Discord for tests: enough REST + gateway for the real discord.py client, on 127.0.0.1.

It serves one guild with text channels, speaks plain JSON text frames on the gateway (no zlib), and
keeps a record of every message posted in each channel so tests can assert on what people would see.

What it does like Discord:
- login (`GET /users/@me`, `GET /oauth2/applications/@me`), `GET /gateway[/bot]`, gateway HELLO →
  IDENTIFY → READY (one unavailable guild) → GUILD_CREATE, heartbeat ACKs;
- channel messages (create, fetch, edit, delete), channel webhooks (list, create, execute with `wait`,
  edit and delete webhook messages), interaction callbacks and follow-ups;
- every message the bot posts — plain or through a webhook — comes back as MESSAGE_CREATE (webhook ones
  with `webhook_id` and `author.bot = true`), edits as MESSAGE_UPDATE, deletes as MESSAGE_DELETE,
  so loop prevention is tested against real echoes. Echoes are sent *before* the REST reply, the
  hardest order for the bot.

Helpers inject what people do (`post`, `edit`, `delete`, `bulk_delete`, `slash`, `autocomplete`,
`message_command` for a message context menu, `submit_modal`, `click` on a button, `upload` for an attachment
option, `add_role` for a guild role members can hold); `deny_webhooks = True` answers 403 on every webhook
endpoint (no Manage Webhooks permission). For `check` and command sync: `token` (others are refused with 401),
`app_flags` (Message Content intent on by default), `deny_commands = True` (403 Missing Access on command
sync and listing, as for an invite without applications.commands; a guild sync to another server gets it
too), `everyone_permissions`. Interaction replies keep their files (`response["files"]`), and
follow-ups and edits of the original response are recorded in order (`InteractionCall.wait_for`).

Channel history (`GET /channels/{id}/messages` with before / after / around / limit, newest first, as
Discord answers). Faults, as Discord shows them: `disconnect()` drops the gateway and refuses the RESUME,
so the bot must start a new session (Discord replays nothing from the gap; `gateway_open` can keep it out
meanwhile); `delete_webhook` and `delete_channel` do what an admin would; `fail(status, action, ...)`
answers 403 Missing Permissions, 404, 5xx, or 429 with `retry_after` and the rate-limit headers discord.py
reads, once, N times or until `clear_faults()`; `webhook_rate_limit = (5, 2.0)` enforces Discord's
per-webhook allowance with real headers and 429s.

Files (multipart posts, a CDN-like URL serving them, the guild's upload limit), reactions and threads are in
`bot/testing/discord_conversation.py`: `post(..., files=[...])`, `edit(..., keep_files=[...])`, `react`,
`unreact`, `start_thread`, `choose` (a select menu).

REST replies carry exactly `Content-Type: application/json`: discord.py refuses aiohttp's
`json_response`, which appends a charset.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from aiohttp import web

from bot.testing.discord_conversation import THREAD, Conversation, Upload

DISCORD_EPOCH = 1420070400000
API = "/api/v10"
ALL_PERMISSIONS = (1 << 50) - 1
ADMINISTRATOR = 1 << 3
MANAGE_CHANNELS = 1 << 4
MANAGE_GUILD = 1 << 5
VIEW_CHANNEL = 1 << 10
SEND_MESSAGES = 1 << 11
MANAGE_MESSAGES = 1 << 13
MANAGE_ROLES = 1 << 28
MANAGE_WEBHOOKS = 1 << 29
PIN_MESSAGES = 1 << 51
EPHEMERAL = 1 << 6


def _json(body: Any, status: int = 200) -> web.Response:
    # `text=` or `json_response` would append "; charset=utf-8", which discord.py does not parse as JSON
    return web.Response(body=json.dumps(body).encode(), status=status, headers={"Content-Type": "application/json"})


def _error(status: int, message: str, code: int = 0) -> web.Response:
    return _json({"message": message, "code": code}, status)


def _now() -> str:
    return datetime.now(UTC).isoformat()


def _rate_headers(limit: int, remaining: int, reset_after: float, *, limited: bool = False) -> dict[str, str]:
    """The headers discord.py reads: it waits out a 429 only when `Via` is present (else it assumes a
    Cloudflare ban), and delays its next call when `X-RateLimit-Remaining` is 0."""
    headers = {
        "Via": "1.1 google",
        "X-RateLimit-Limit": str(limit),
        "X-RateLimit-Remaining": str(remaining),
        "X-RateLimit-Reset": f"{time.time() + reset_after:.3f}",
        "X-RateLimit-Reset-After": f"{reset_after:.3f}",
        "X-RateLimit-Bucket": "loopback-webhook",
    }
    if limited:
        headers |= {"Retry-After": str(max(1, round(reset_after))), "X-RateLimit-Scope": "user"}
    return headers


@dataclass
class Fault:
    """An injected failure: `status` for `action` calls (in `channel_id`, or any), `times` more (None: always)."""

    status: int
    action: str
    channel_id: int | None
    times: int | None
    retry_after: float
    hits: int = 0


def would_ping(content: str, allowed_mentions: dict[str, Any] | None) -> set[str]:
    """Who Discord would notify for `content` under `allowed_mentions` ('user:ID', 'role:ID', 'everyone').

    Without `allowed_mentions`, Discord parses everything in the content.
    """
    rules = allowed_mentions if allowed_mentions is not None else {"parse": ["users", "roles", "everyone"]}
    parse = set(rules.get("parse", []))
    users = {str(u) for u in rules.get("users", [])}
    roles = {str(r) for r in rules.get("roles", [])}
    pinged: set[str] = set()
    for uid in re.findall(r"<@!?(\d+)>", content):
        if "users" in parse or uid in users:
            pinged.add(f"user:{uid}")
    for rid in re.findall(r"<@&(\d+)>", content):
        if "roles" in parse or rid in roles:
            pinged.add(f"role:{rid}")
    if "everyone" in parse and re.search(r"@(everyone|here)\b", content):
        pinged.add("everyone")
    return pinged


@dataclass
class Recorded:
    """One message as the fake server saw it."""

    id: int
    channel_id: int
    content: str
    author: dict[str, Any]
    webhook_id: int | None = None
    username: str | None = None  # the webhook's per-message name
    avatar_url: str | None = None
    allowed_mentions: dict[str, Any] | None = None
    message_reference: dict[str, Any] | None = None
    attachments: list[dict[str, Any]] = field(default_factory=list)
    reactions: dict[str, list[str]] = field(default_factory=dict)  # emoji -> user ids holding it
    deleted: bool = False
    edits: list[dict[str, Any]] = field(default_factory=list)  # request bodies of every edit
    timestamp: str = field(default_factory=_now)
    edited_timestamp: str | None = None
    components: list[dict[str, Any]] = field(default_factory=list)  # select menus, buttons
    files: list[tuple[str, bytes]] = field(default_factory=list)  # (filename, content) of its attachments
    pinned: bool = False

    @property
    def name(self) -> str:
        """The name a reader sees above the message."""
        return self.username or self.author.get("global_name") or self.author["username"]

    @property
    def by_webhook(self) -> bool:
        return self.webhook_id is not None

    @property
    def pings(self) -> set[str]:
        return would_ping(self.content, self.allowed_mentions)


@dataclass
class InteractionCall:
    id: int
    token: str
    channel_id: int
    member: dict[str, Any] = field(default_factory=dict)  # who acted (clicks and modal submits reuse it)
    message: dict[str, Any] | None = None  # the message a click (or a modal opened by one) came from
    # Callback bodies ({"type": 4, "data": ...}), follow-ups ({"type": "followup", "data": ...}) and edits of
    # the original response ({"type": "edit", "data": ...}), in order; each with "files": [(name, bytes)] and,
    # when it made a message, "message_id".
    responses: list[dict[str, Any]] = field(default_factory=list)
    answered: asyncio.Event = field(default_factory=asyncio.Event)
    _change: asyncio.Event = field(default_factory=asyncio.Event)

    def record(self, response: dict[str, Any]) -> None:
        self.responses.append(response)
        self.answered.set()
        self._change.set()
        self._change = asyncio.Event()

    async def reply(self) -> dict[str, Any]:
        """The first callback body, e.g. {"type": 4, "data": {"content": ..., "flags": 64}}."""
        return await self.wait_for(1)

    async def wait_for(self, count: int, seconds: float = 3.0) -> dict[str, Any]:
        """The `count`-th response (1 = the callback), once it has arrived: e.g. the follow-up after a defer."""
        async with asyncio.timeout(seconds):
            while len(self.responses) < count:
                await self._change.wait()
        return self.responses[count - 1]


class FakeDiscord(Conversation):
    def __init__(self, *, guild_name: str = "Lincoln Elementary") -> None:
        self._counter = itertools.count(1)
        self.users: dict[int, dict[str, Any]] = {}
        self.bot_user = self._user("Concord", bot=True)
        self.owner = self._user("Principal Skinner")
        self.application_id = int(self.bot_user["id"])
        self.guild_id = self.snowflake()
        self.guild_name = guild_name
        self.channels: dict[int, dict[str, Any]] = {}
        self.messages: dict[int, Recorded] = {}
        self.webhooks: dict[int, dict[str, Any]] = {}
        self.interactions: dict[str, InteractionCall] = {}
        self.synced: list[tuple[int | None, list[str]]] = []  # (guild id or None for global, command names)
        self.unhandled: list[str] = []  # "METHOD path" of requests no route matched
        self.deny_webhooks = False
        self.token: str | None = None  # when set, REST logins with another token get 401
        self.app_flags = 1 << 19  # GATEWAY_MESSAGE_CONTENT_LIMITED: the intent is on
        self.deny_commands = False
        self.everyone_permissions = ALL_PERMISSIONS & ~ADMINISTRATOR  # so channel overwrites count
        self.roles: list[dict[str, Any]] = []  # besides @everyone
        self.member_roles: dict[int, set[int]] = {}  # user id -> role ids given through the API
        self.audit: list[str] = []  # "METHOD path" of every structural change the bot made, in order
        self.uploads: dict[int, Upload] = {}
        # Seconds between echoing a posted message on the gateway and answering the REST call: the bot
        # then sees its own post before it knows the new message's id (only its webhook ids can tell).
        self.echo_lead = 0.0
        self.identified = asyncio.Event()
        self.sessions = 0  # gateway sessions started (IDENTIFY); a RESUME does not start one
        self.resumes = 0
        self.refuse_resume = False
        self.gateway_open = asyncio.Event()  # cleared: new gateway connections wait (the bot stays offline)
        self.gateway_open.set()
        self.webhook_rate_limit: tuple[int, float] | None = None  # (posts, seconds) per webhook
        self.rate_limited = 0  # 429s answered
        self._buckets: dict[int, tuple[float, int]] = {}  # webhook id -> (window start, requests in it)
        self._sockets: set[web.WebSocketResponse] = set()
        self._seq = 0
        self._faults: list[Fault] = []
        self._change = asyncio.Event()  # set (and replaced) whenever the bot changes a message
        self._runner: web.AppRunner | None = None
        self.port = 0
        self._init_conversation()

    # --- lifecycle -------------------------------------------------------------------------------

    async def start(self) -> FakeDiscord:
        self._runner = web.AppRunner(self._app(), access_log=None, shutdown_timeout=0.1)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.port = site._server.sockets[0].getsockname()[1]
        return self

    async def close(self) -> None:
        for ws in list(self._sockets):
            await ws.close()
        if self._runner:
            await self._runner.cleanup()

    @property
    def api_url(self) -> str:
        """What `discord.http.Route.BASE` should be."""
        return f"http://127.0.0.1:{self.port}{API}"

    @property
    def gateway_url(self) -> str:
        return f"ws://127.0.0.1:{self.port}/"

    # --- ids and payloads ------------------------------------------------------------------------

    def snowflake(self) -> int:
        return ((int(time.time() * 1000) - DISCORD_EPOCH) << 22) | (next(self._counter) & 0x3FFFFF)

    def _user(self, name: str, *, bot: bool = False) -> dict[str, Any]:
        user = {
            "id": str(self.snowflake()),
            "username": name.lower().replace(" ", "_"),
            "global_name": name,
            "discriminator": "0",
            "avatar": None,
            "bot": bot,
            "public_flags": 0,
        }
        self.users[int(user["id"])] = user
        return user

    def user(self, name: str) -> dict[str, Any]:
        """A new human member of the guild (for `post(..., author=...)`)."""
        return self._user(name)

    def _member(
        self, user: dict[str, Any], permissions: int | None = None, roles: tuple[int, ...] | list[int] = ()
    ) -> dict[str, Any]:
        member = {
            "user": user,
            "roles": [str(r) for r in roles],
            "joined_at": _now(),
            "deaf": False,
            "mute": False,
            "flags": 0,
            "nick": None,
            "pending": False,
        }
        if permissions is not None:
            member["permissions"] = str(permissions)
        return member

    def add_channel(
        self, name: str, *, kind: int = 0, parent_id: int | None = None, overwrites: list[dict[str, Any]] = ()
    ) -> int:
        """A text channel (`kind` 4: a category) in the guild, as an admin makes it."""
        channel_id = self.snowflake()
        self.channels[channel_id] = {
            "id": str(channel_id),
            "type": kind,
            "guild_id": str(self.guild_id),
            "name": name,
            "position": len(self.channels),
            "permission_overwrites": self._overwrites(list(overwrites)),
            "parent_id": str(parent_id) if parent_id else None,
            "topic": None,
            "nsfw": False,
            "last_message_id": None,
            "rate_limit_per_user": 0,
        }
        return channel_id

    def _guild(self) -> dict[str, Any]:
        return {
            "id": str(self.guild_id),
            "name": self.guild_name,
            "owner_id": self.owner["id"],
            "icon": None,
            "features": [],
            "roles": [
                {
                    "id": str(self.guild_id),
                    "name": "@everyone",
                    "permissions": str(self.everyone_permissions),
                    "position": 0,
                    "color": 0,
                    "hoist": False,
                    "managed": False,
                    "mentionable": False,
                    "flags": 0,
                },
                *self.roles,
            ],
            "members": [self._member(self.bot_user), self._member(self.owner)],
            "channels": [c for c in self.channels.values() if c["type"] != THREAD],
            "threads": [c for c in self.channels.values() if c["type"] == THREAD],
            "premium_tier": self.premium_tier,
            "emojis": [],
            "stickers": [],
            "voice_states": [],
            "presences": [],
            "member_count": 2,
            "large": False,
            "unavailable": False,
            "joined_at": _now(),
            "preferred_locale": "en-US",
        }

    def _message_payload(self, msg: Recorded) -> dict[str, Any]:
        payload: dict[str, Any] = {
            "id": str(msg.id),
            "type": 19 if msg.message_reference else 0,
            "channel_id": str(msg.channel_id),
            "guild_id": str(self.guild_id),
            "content": msg.content,
            "author": msg.author,
            "timestamp": msg.timestamp,
            "edited_timestamp": msg.edited_timestamp,
            "tts": False,
            "mention_everyone": False,
            "mentions": [],
            "mention_roles": [],
            "attachments": msg.attachments,
            "embeds": [],
            "pinned": msg.pinned,
            "flags": 0,
            "components": msg.components,
        }
        if msg.reactions:
            payload["reactions"] = self._reaction_payload(msg)
        if msg.webhook_id is not None:
            payload["webhook_id"] = str(msg.webhook_id)
        else:
            payload["member"] = {k: v for k, v in self._member(msg.author).items() if k != "user"}
        if msg.message_reference:
            payload["message_reference"] = msg.message_reference
            ref = self.messages.get(int(msg.message_reference["message_id"]))
            payload["referenced_message"] = self._message_payload(ref) if ref is not None and not ref.deleted else None
        return payload

    # --- what the tests look at ------------------------------------------------------------------

    def channel_messages(self, channel_id: int, *, include_deleted: bool = False) -> list[Recorded]:
        """Messages of a channel, oldest first."""
        return [
            m
            for m in sorted(self.messages.values(), key=lambda m: m.id)
            if m.channel_id == channel_id and (include_deleted or not m.deleted)
        ]

    def by_bot(self, channel_id: int) -> list[Recorded]:
        """Visible messages the bot posted in a channel (through its webhooks or as itself)."""
        return [m for m in self.channel_messages(channel_id) if m.author.get("bot")]

    async def wait_until(self, condition: Callable[[], bool], seconds: float = 10.0) -> None:
        """Wait until `condition()` holds; it is checked again each time the bot changes a message (or a call
        of its meets an injected fault)."""
        try:
            async with asyncio.timeout(seconds):
                while not condition():
                    await self._change.wait()
        except TimeoutError:
            raise AssertionError("condition not met in time") from None

    def _touch(self) -> None:
        self._change.set()
        self._change = asyncio.Event()

    def link(self, channel_id: int, message_id: int) -> str:
        return f"https://discord.com/channels/{self.guild_id}/{channel_id}/{message_id}"

    # --- gateway ---------------------------------------------------------------------------------

    async def dispatch(self, event: str, data: dict[str, Any]) -> None:
        for ws in list(self._sockets):
            self._seq += 1
            await ws.send_str(json.dumps({"op": 0, "t": event, "s": self._seq, "d": data}))

    async def _gateway(self, request: web.Request) -> web.WebSocketResponse:
        await self.gateway_open.wait()
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        await ws.send_str(json.dumps({"op": 10, "d": {"heartbeat_interval": 41250}}))
        try:
            async for frame in ws:
                if frame.type != web.WSMsgType.TEXT:
                    continue
                op = json.loads(frame.data).get("op")
                if op == 1:  # heartbeat
                    await ws.send_str(json.dumps({"op": 11}))
                elif op == 2:  # identify: a new session
                    self.sessions += 1
                    self._sockets.add(ws)
                    await self.dispatch("READY", self._ready())
                    await self.dispatch("GUILD_CREATE", self._guild())
                    self.identified.set()
                elif op == 6 and self.refuse_resume:  # the session is gone: identify again
                    self.refuse_resume = False
                    await ws.send_str(json.dumps({"op": 9, "d": False}))
                elif op == 6:  # resume
                    self.resumes += 1
                    self._sockets.add(ws)
                    await self.dispatch("RESUMED", {})
        finally:
            self._sockets.discard(ws)
        return ws

    async def _echo(self, payload: dict[str, Any]) -> None:
        self._touch()
        await self.dispatch("MESSAGE_CREATE", payload)
        if self.echo_lead:
            await asyncio.sleep(self.echo_lead)

    def _ready(self) -> dict[str, Any]:
        return {
            "v": 10,
            "user": self.bot_user,
            "guilds": [{"id": str(self.guild_id), "unavailable": True}],
            "session_id": f"loopback-session-{self.sessions}",
            "resume_gateway_url": self.gateway_url,
            "shard": [0, 1],
            "application": {"id": str(self.application_id), "flags": 0},
            "private_channels": [],
            "relationships": [],
        }

    def add_webhook(self, channel_id: int, name: str, owner: dict[str, Any] | None = None) -> dict[str, Any]:
        """A webhook in a channel, created by `owner` (the bot unless told otherwise)."""
        wid = self.snowflake()
        owner = owner or self.bot_user
        self.webhooks[wid] = {
            "id": str(wid),
            "type": 1,
            "guild_id": str(self.guild_id),
            "channel_id": str(channel_id),
            "name": name,
            "avatar": None,
            "token": f"wtoken{wid}",
            "application_id": str(self.application_id) if owner is self.bot_user else None,
            "user": owner,
        }
        return self.webhooks[wid]

    async def add_role(self, name: str) -> int:
        """A new guild role (no permissions of its own); the bot learns of it by GUILD_ROLE_CREATE."""
        role = {
            "id": str(self.snowflake()),
            "name": name,
            "permissions": "0",
            "position": len(self.roles) + 1,
            "color": 0,
            "hoist": False,
            "managed": False,
            "mentionable": False,
            "flags": 0,
        }
        self.roles.append(role)
        await self.dispatch("GUILD_ROLE_CREATE", {"guild_id": str(self.guild_id), "role": role})
        return int(role["id"])

    def upload(self, filename: str, data: bytes) -> Upload:
        """A file to pass as an attachment option of `slash`; the bot downloads it from this server."""
        upload_id = self.snowflake()
        url = f"http://127.0.0.1:{self.port}/attachments/{upload_id}/{filename}"
        self.uploads[upload_id] = Upload(upload_id, filename, data, url)
        return self.uploads[upload_id]

    def fail_next_post(self, status: int, times: int = 1) -> None:
        """Answer the next `times` message posts (webhook or plain) with `status` (e.g. 429, 400)."""
        self.fail(status, "post", times=times)

    def fail(
        self,
        status: int,
        action: str = "post",
        *,
        channel_id: int | None = None,
        times: int | None = 1,
        retry_after: float = 0.05,
    ) -> Fault:
        """Answer `action` ("post", "edit", "delete", "history", "webhooks" or "*") in one channel (or any) with
        `status` for the next `times` calls (None: until `clear_faults`). 403 is Missing Permissions, 404 an
        unknown channel, 429 a rate limit with `retry_after` and Discord's headers."""
        fault = Fault(status, action, channel_id, times, retry_after)
        self._faults.append(fault)
        return fault

    def clear_faults(self) -> None:
        self._faults.clear()

    def _failure(self, action: str = "post", channel_id: int | None = None) -> web.Response | None:
        for fault in self._faults:
            if fault.action in (action, "*") and fault.channel_id in (None, channel_id):
                if fault.times is not None:
                    fault.times -= 1
                    if fault.times <= 0:
                        self._faults.remove(fault)
                fault.hits += 1
                self._touch()  # `wait_until` conditions may count failed calls
                return self._fault_response(fault.status, fault.retry_after)
        return None

    def _fault_response(self, status: int, retry_after: float) -> web.Response:
        if status == 429:
            self.rate_limited += 1
            body = {"message": "You are being rate limited.", "retry_after": retry_after, "global": False}
            answer = _json(body, 429)
            answer.headers.update(_rate_headers(5, 0, retry_after, limited=True))
            return answer
        if status == 403:
            return _error(403, "Missing Permissions", 50013)
        if status == 404:
            return _error(404, "Unknown Channel", 10003)
        if status >= 500:
            return _error(status, f"{status}: Internal Server Error")
        return _error(status, f"injected failure {status}", 50035)

    def _rate(self, webhook_id: int) -> tuple[dict[str, str], web.Response | None]:
        """Discord's per-webhook allowance: headers for the answer, or the 429 when it is spent."""
        if self.webhook_rate_limit is None:
            return {}, None
        limit, per = self.webhook_rate_limit
        now = time.monotonic()
        start, used = self._buckets.get(webhook_id, (now, 0))
        if now - start >= per:
            start, used = now, 0
        reset_after = per - (now - start)
        if used >= limit:
            return {}, self._fault_response(429, round(reset_after, 3))
        self._buckets[webhook_id] = (start, used + 1)
        return _rate_headers(limit, limit - used - 1, reset_after), None

    # --- what admins do --------------------------------------------------------------------------

    def delete_webhook(self, webhook_id: int) -> None:
        """An admin deletes a webhook in the channel settings; the messages it posted stay."""
        self.webhooks.pop(webhook_id, None)

    async def delete_channel(self, channel_id: int) -> None:
        """An admin deletes a channel (its webhooks go with it); the bot sees CHANNEL_DELETE."""
        channel = self.channels.pop(channel_id)
        for wid in [w for w, hook in self.webhooks.items() if hook["channel_id"] == str(channel_id)]:
            del self.webhooks[wid]
        await self.dispatch("CHANNEL_DELETE", channel)

    async def delete_role(self, role_id: int) -> None:
        """An admin deletes a role; members lose it and the bot sees GUILD_ROLE_DELETE."""
        self.roles = [r for r in self.roles if int(r["id"]) != role_id]
        for held in self.member_roles.values():
            held.discard(role_id)
        await self.dispatch("GUILD_ROLE_DELETE", {"guild_id": str(self.guild_id), "role_id": str(role_id)})

    async def disconnect(self, *, resume: bool = False) -> None:
        """Drop the gateway connection. Without `resume` the bot's RESUME is refused (INVALID_SESSION), so it
        starts a new session: what happened in between is not replayed. Clear `gateway_open` first to keep
        the bot out until it is set again."""
        self.refuse_resume = not resume
        for ws in list(self._sockets):
            self._sockets.discard(ws)
            await ws.close(code=4000, message=b"loopback: connection dropped")

    # --- server structure: what the bot makes (categories, channels, roles, overwrites, pins) -----

    def bot_can(self, permission: int) -> bool:
        """Whether the bot holds a permission server-wide (its permissions are @everyone's: `everyone_permissions`)."""
        granted = self.everyone_permissions
        return bool(granted & ADMINISTRATOR) or granted & permission == permission

    def permissions_in(self, channel_id: int, user_id: int, roles: tuple[int, ...] | list[int] = ()) -> int:
        """A member's permissions in a channel, as Discord computes them: @everyone's and their roles', then the
        channel's overwrites for @everyone, for their roles (combined) and for them."""
        held = {int(r) for r in roles} | self.member_roles.get(user_id, set())
        granted = self.everyone_permissions
        for role in self.roles:
            if int(role["id"]) in held:
                granted |= int(role["permissions"])
        if granted & ADMINISTRATOR:
            return ALL_PERMISSIONS
        overwrites = {int(o["id"]): o for o in self.channels[channel_id]["permission_overwrites"]}
        if (everyone := overwrites.get(self.guild_id)) is not None:
            granted = (granted & ~int(everyone["deny"])) | int(everyone["allow"])
        allow = deny = 0
        for role_id in held:
            if (o := overwrites.get(role_id)) is not None:
                allow, deny = allow | int(o["allow"]), deny | int(o["deny"])
        granted = (granted & ~deny) | allow
        if (mine := overwrites.get(user_id)) is not None:
            granted = (granted & ~int(mine["deny"])) | int(mine["allow"])
        return granted

    def can_view(self, channel_id: int, user_id: int, roles: tuple[int, ...] | list[int] = ()) -> bool:
        return bool(self.permissions_in(channel_id, user_id, roles) & VIEW_CHANNEL)

    def can_send(self, channel_id: int, user_id: int, roles: tuple[int, ...] | list[int] = ()) -> bool:
        granted = self.permissions_in(channel_id, user_id, roles)
        return bool(granted & VIEW_CHANNEL) and bool(granted & SEND_MESSAGES)

    def named(self, name: str, *, kind: int | None = None) -> list[int]:
        """Ids of the channels with this name (of this kind), oldest first."""
        return [cid for cid, c in self.channels.items() if c["name"] == name and (kind is None or c["type"] == kind)]

    def role_named(self, name: str) -> list[int]:
        return [int(r["id"]) for r in self.roles if r["name"] == name]

    def pinned(self, channel_id: int) -> list[Recorded]:
        return [m for m in self.channel_messages(channel_id) if m.pinned]

    def _needs(self, permission: int) -> web.Response | None:
        return None if self.bot_can(permission) else _error(403, "Missing Permissions", 50013)

    def _channel_needing(self, request: web.Request, *permissions: int) -> int | web.Response:
        """The channel a route names, or Discord's answer: 404 Unknown Channel, or 403 without any of
        `permissions` (one of them is enough)."""
        cid = self._channel_or_none(request)
        if cid is None:
            return _error(404, "Unknown Channel", 10003)
        if permissions and not any(self.bot_can(p) for p in permissions):
            return _error(403, "Missing Permissions", 50013)
        return cid

    def _structure(self, request: web.Request) -> None:
        self.audit.append(f"{request.method} {request.path.removeprefix(API)}")
        self._touch()

    @staticmethod
    def _overwrites(raw: list[dict[str, Any]] | None) -> list[dict[str, Any]]:
        return [
            {"id": str(o["id"]), "type": int(o.get("type", 0)), "allow": str(o.get("allow", 0)),
             "deny": str(o.get("deny", 0))}
            for o in raw or []
        ]  # fmt: skip

    async def _create_channel(self, request: web.Request) -> web.Response:
        if (refused := self._guild_or_error(request) or self._needs(MANAGE_CHANNELS)) is not None:
            return refused
        body = await self._body(request)
        if body.get("permission_overwrites") and (refused := self._needs(MANAGE_ROLES)) is not None:
            return refused
        if failure := self._failure("create channel"):
            return failure
        name = str(body.get("name", ""))
        if not 1 <= len(name) <= 100:
            return _error(400, "Invalid Form Body: name", 50035)
        parent = body.get("parent_id")
        cid = self.add_channel(
            name, kind=int(body.get("type", 0)), parent_id=int(parent) if parent else None,
            overwrites=body.get("permission_overwrites") or [],
        )  # fmt: skip
        self.channels[cid]["topic"] = body.get("topic")
        self._structure(request)
        await self.dispatch("CHANNEL_CREATE", self.channels[cid])
        return _json(self.channels[cid], 201)

    async def _edit_channel(self, request: web.Request) -> web.Response:
        cid = self._channel_needing(request, MANAGE_CHANNELS)
        if isinstance(cid, web.Response):
            return cid
        body = await self._body(request)
        if "permission_overwrites" in body and (refused := self._needs(MANAGE_ROLES)) is not None:
            return refused
        channel = self.channels[cid]
        for key in ("name", "topic", "position"):
            if key in body:
                channel[key] = body[key]
        if "parent_id" in body:
            channel["parent_id"] = str(body["parent_id"]) if body["parent_id"] else None
        if "permission_overwrites" in body:
            channel["permission_overwrites"] = self._overwrites(body["permission_overwrites"])
        self._structure(request)
        await self.dispatch("CHANNEL_UPDATE", channel)
        return _json(channel)

    async def _delete_channel(self, request: web.Request) -> web.Response:
        cid = self._channel_needing(request, MANAGE_CHANNELS)
        if isinstance(cid, web.Response):
            return cid
        channel = self.channels[cid]
        self._structure(request)
        await self.delete_channel(cid)
        return _json(channel)

    async def _put_overwrite(self, request: web.Request) -> web.Response:
        cid = self._channel_needing(request, MANAGE_ROLES)
        if isinstance(cid, web.Response):
            return cid
        body = await self._body(request)
        target = request.match_info["oid"]
        channel = self.channels[cid]
        kept = [o for o in channel["permission_overwrites"] if o["id"] != target]
        channel["permission_overwrites"] = [*kept, *self._overwrites([{**body, "id": target}])]
        self._structure(request)
        await self.dispatch("CHANNEL_UPDATE", channel)
        return web.Response(status=204)

    async def _pin(self, request: web.Request) -> web.Response:
        cid = self._channel_needing(request, PIN_MESSAGES, MANAGE_MESSAGES)
        if isinstance(cid, web.Response):
            return cid
        msg = self._message_or_none(request)
        if msg is None:
            return _error(404, "Unknown Message", 10008)
        msg.pinned = True
        self._structure(request)
        pins = {"guild_id": str(self.guild_id), "channel_id": str(cid), "last_pin_timestamp": _now()}
        await self.dispatch("CHANNEL_PINS_UPDATE", pins)
        return web.Response(status=204)

    async def _create_role(self, request: web.Request) -> web.Response:
        if (refused := self._guild_or_error(request) or self._needs(MANAGE_ROLES)) is not None:
            return refused
        if failure := self._failure("create role"):
            return failure
        body = await self._body(request)
        role_id = await self.add_role(str(body.get("name") or "new role"))
        self.roles[-1]["permissions"] = str(body.get("permissions") or 0)
        self.roles[-1]["mentionable"] = bool(body.get("mentionable", False))
        self._structure(request)
        return _json(next(r for r in self.roles if int(r["id"]) == role_id))

    async def _delete_role(self, request: web.Request) -> web.Response:
        if (refused := self._guild_or_error(request) or self._needs(MANAGE_ROLES)) is not None:
            return refused
        rid = request.match_info["rid"]
        if not any(r["id"] == rid for r in self.roles):
            return _error(404, "Unknown Role", 10011)
        self.roles = [r for r in self.roles if r["id"] != rid]
        for held in self.member_roles.values():
            held.discard(int(rid))
        self._structure(request)
        await self.dispatch("GUILD_ROLE_DELETE", {"guild_id": str(self.guild_id), "role_id": rid})
        return web.Response(status=204)

    async def _member_role(self, request: web.Request) -> web.Response:
        if (refused := self._guild_or_error(request) or self._needs(MANAGE_ROLES)) is not None:
            return refused
        if failure := self._failure("member role"):
            return failure
        rid, uid = int(request.match_info["rid"]), int(request.match_info["uid"])
        if not any(int(r["id"]) == rid for r in self.roles):
            return _error(404, "Unknown Role", 10011)
        held = self.member_roles.setdefault(uid, set())
        if request.method == "PUT":
            held.add(rid)
        else:
            held.discard(rid)
        self._structure(request)
        return web.Response(status=204)

    # --- people doing things ---------------------------------------------------------------------

    async def post(
        self,
        channel_id: int,
        content: str,
        *,
        author: dict[str, Any] | None = None,
        reply_to: int | None = None,
        attachments: list[tuple[str, str]] = (),  # (url, filename) of files elsewhere
        files: list[tuple[str, bytes, str | None]] = (),  # (filename, data, description), served by this server
    ) -> int:
        """A person posts a message; the bot sees MESSAGE_CREATE. Returns the message id."""
        msg = Recorded(
            id=self.snowflake(),
            channel_id=channel_id,
            content=content,
            author=author or self.owner,
            message_reference=self._reference(channel_id, reply_to),
            attachments=[
                {
                    "id": str(self.snowflake()),
                    "filename": filename,
                    "size": 1024,
                    "url": url,
                    "proxy_url": url,
                }
                for url, filename in attachments
            ]
            + [self.attach(name, data, description) for name, data, description in files],
        )
        self.messages[msg.id] = msg
        await self.dispatch("MESSAGE_CREATE", self._message_payload(msg))
        return msg.id

    async def edit(self, message_id: int, content: str, *, keep_files: list[str] | None = None) -> None:
        """A person edits their message (and removes the files not in `keep_files`, by name); the bot sees
        MESSAGE_UPDATE (a full message, as Discord sends)."""
        msg = self.messages[message_id]
        if keep_files is not None:
            msg.attachments = [a for a in msg.attachments if a["filename"] in keep_files]
        msg.content = content
        msg.edited_timestamp = _now()
        msg.edits.append({"content": content})
        await self.dispatch("MESSAGE_UPDATE", self._message_payload(msg))

    async def unfurl(self, message_id: int) -> None:
        """Discord adds an embed to a message: MESSAGE_UPDATE with unchanged content."""
        await self.dispatch("MESSAGE_UPDATE", self._message_payload(self.messages[message_id]))

    async def delete(self, message_id: int) -> None:
        msg = self.messages[message_id]
        msg.deleted = True
        await self.dispatch(
            "MESSAGE_DELETE",
            {"id": str(msg.id), "channel_id": str(msg.channel_id), "guild_id": str(self.guild_id)},
        )

    async def bulk_delete(self, channel_id: int, message_ids: list[int]) -> None:
        for message_id in message_ids:
            self.messages[message_id].deleted = True
        await self.dispatch(
            "MESSAGE_DELETE_BULK",
            {"ids": [str(i) for i in message_ids], "channel_id": str(channel_id), "guild_id": str(self.guild_id)},
        )

    def _interaction(
        self,
        kind: int,
        channel_id: int,
        data: dict[str, Any],
        user: dict[str, Any] | None,
        permissions: int,
        roles: tuple[int, ...] | list[int] = (),
        member: dict[str, Any] | None = None,
    ) -> tuple[InteractionCall, dict[str, Any]]:
        member = member or self._member(user or self.owner, permissions, roles)
        call = InteractionCall(
            id=self.snowflake(), token=f"itoken{self.snowflake()}", channel_id=channel_id, member=member
        )
        self.interactions[call.token] = call
        payload = {
            "id": str(call.id),
            "application_id": str(self.application_id),
            "type": kind,
            "token": call.token,
            "version": 1,
            "guild_id": str(self.guild_id),
            "guild": {"id": str(self.guild_id), "locale": "en-US", "features": []},
            "channel_id": str(channel_id),
            "channel": self.channels[channel_id],
            "member": member,
            "data": data,
            "locale": "en-US",
            "guild_locale": "en-US",
            "app_permissions": str(self.everyone_permissions),
            "entitlements": [],
            "authorizing_integration_owners": {"0": str(self.guild_id)},
            "context": 0,
            "attachment_size_limit": 8 * 1024 * 1024,
        }
        return call, payload

    async def slash(
        self,
        channel_id: int,
        command: str,
        subcommand: str | None = None,
        *,
        user: dict[str, Any] | None = None,
        permissions: int = ALL_PERMISSIONS,
        roles: tuple[int, ...] | list[int] = (),
        **options: str | int | bool | Upload,
    ) -> InteractionCall:
        """Someone runs `/command subcommand option:value ...` in a channel (INTERACTION_CREATE); `subcommand`
        may be "group subcommand".

        Option types follow the values: str, int, bool, or an `Upload` (an attachment option)."""
        opts: list[dict[str, Any]] = []
        attachments: dict[str, Any] = {}
        for name, value in options.items():
            if isinstance(value, Upload):
                opts.append({"name": name, "type": 11, "value": str(value.id)})
                attachments[str(value.id)] = value.payload()
            else:
                kind = 5 if isinstance(value, bool) else 4 if isinstance(value, int) else 3
                opts.append({"name": name, "type": kind, "value": value})
        if subcommand:  # "group sub" for a subcommand of a subcommand group
            *group, sub = subcommand.split()
            opts = [{"name": sub, "type": 1, "options": opts}]
            if group:
                opts = [{"name": group[0], "type": 2, "options": opts}]
        data: dict[str, Any] = {"id": str(self.snowflake()), "name": command, "type": 1, "options": opts}
        if attachments:
            data["resolved"] = {"attachments": attachments}
        roles = sorted({*map(int, roles), *self.member_roles.get(int((user or self.owner)["id"]), set())})
        call, payload = self._interaction(2, channel_id, data, user, permissions, roles)
        await self.dispatch("INTERACTION_CREATE", payload)
        return call

    async def message_command(
        self,
        name: str,
        message_id: int,
        *,
        user: dict[str, Any] | None = None,
        permissions: int = ALL_PERMISSIONS,
        roles: tuple[int, ...] | list[int] = (),
    ) -> InteractionCall:
        """Someone picks Apps → `name` on a message (a message context-menu command)."""
        msg = self.messages[message_id]
        data = {
            "id": str(self.snowflake()),
            "name": name,
            "type": 3,
            "target_id": str(message_id),
            "resolved": {"messages": {str(message_id): self._message_payload(msg)}},
        }
        call, payload = self._interaction(2, msg.channel_id, data, user, permissions, roles)
        await self.dispatch("INTERACTION_CREATE", payload)
        return call

    async def submit_modal(self, call: InteractionCall, values: dict[str, str]) -> InteractionCall:
        """The person who got a modal from `call` fills it in (text inputs by custom_id) and submits it."""
        modal = next(r["data"] for r in call.responses if r.get("type") == 9)
        rows = []
        for row in modal["components"]:
            inputs = row["components"] if row["type"] == 1 else [row["component"]]
            rows.append(
                {"type": 1, "components": [
                    {"type": 4, "custom_id": i["custom_id"], "value": values.get(i["custom_id"], i.get("value", ""))}
                    for i in inputs
                ]}
            )  # fmt: skip
        data = {"custom_id": modal["custom_id"], "components": rows}
        new, payload = self._interaction(5, call.channel_id, data, None, 0, member=call.member)
        if call.message is not None:  # a modal opened by a button: Discord sends that button's message along
            new.message = payload["message"] = call.message
        await self.dispatch("INTERACTION_CREATE", payload)
        return new

    async def click(
        self,
        call: InteractionCall,
        custom_id: str,
        *,
        user: dict[str, Any] | None = None,
        permissions: int = ALL_PERMISSIONS,
        roles: tuple[int, ...] | list[int] = (),
    ) -> InteractionCall:
        """Someone presses the button `custom_id` on a message `call` answered with (its author by default;
        `user` with `permissions` and `roles` otherwise)."""
        return await self._component(call, custom_id, {"component_type": 2}, user, permissions, roles)

    async def choose(self, call: InteractionCall, custom_id: str, values: list[str]) -> InteractionCall:
        """The person `call` answered picks `values` in the select menu `custom_id` of that answer."""
        return await self._component(call, custom_id, {"component_type": 3, "values": values}, None, 0, ())

    async def _component(
        self,
        call: InteractionCall,
        custom_id: str,
        extra: dict[str, Any],
        user: dict[str, Any] | None,
        permissions: int,
        roles: tuple[int, ...] | list[int],
    ) -> InteractionCall:
        def components(response: dict[str, Any]) -> list[str]:
            rows = (response.get("data") or {}).get("components") or []
            return [c.get("custom_id", "") for row in rows for c in row.get("components", [])]

        response = next(r for r in reversed(call.responses) if custom_id in components(r) and "message_id" in r)
        data = response["data"]
        message = Recorded(response["message_id"], call.channel_id, data.get("content") or "", self.bot_user)
        payload_message = {**self._message_payload(message), "flags": data.get("flags", 0)}
        payload_message["components"] = data["components"]
        data = {"custom_id": custom_id, **extra}
        member = self._member(user, permissions, roles) if user else call.member
        new, payload = self._interaction(3, call.channel_id, data, None, 0, member=member)
        new.message = payload["message"] = payload_message
        await self.dispatch("INTERACTION_CREATE", payload)
        return new

    async def select(
        self,
        message_id: int,
        custom_id: str,
        values: list[str],
        *,
        user: dict[str, Any] | None = None,
        permissions: int = 0,
        roles: tuple[int, ...] | list[int] = (),
    ) -> InteractionCall:
        """Someone picks `values` in the select menu `custom_id` of a channel message (e.g. a pinned picker).
        The member holds `roles` and the roles the bot gave them."""
        msg = self.messages[message_id]
        ids = [c.get("custom_id") for row in msg.components for c in row.get("components", [])]
        if custom_id not in ids:
            raise AssertionError(f"no select menu {custom_id!r} on message {message_id}: {ids}")
        who = user or self.owner
        held = sorted({*map(int, roles), *self.member_roles.get(int(who["id"]), set())})
        data = {"custom_id": custom_id, "component_type": 3, "values": values}
        new, payload = self._interaction(3, msg.channel_id, data, who, permissions, held)
        payload["message"] = self._message_payload(msg)
        await self.dispatch("INTERACTION_CREATE", payload)
        return new

    async def autocomplete(
        self, channel_id: int, command: str, subcommand: str, focused: str, typed: str, **options: str
    ) -> InteractionCall:
        opts = [{"name": k, "type": 3, "value": v} for k, v in options.items()]
        opts.append({"name": focused, "type": 3, "value": typed, "focused": True})
        data = {
            "id": str(self.snowflake()),
            "name": command,
            "type": 1,
            "options": [{"name": subcommand, "type": 1, "options": opts}],
        }
        call, payload = self._interaction(4, channel_id, data, None, ALL_PERMISSIONS)
        await self.dispatch("INTERACTION_CREATE", payload)
        return call

    def _reference(self, channel_id: int, reply_to: int | None) -> dict[str, Any] | None:
        if reply_to is None:
            return None
        return {
            "type": 0,
            "message_id": str(reply_to),
            "channel_id": str(channel_id),
            "guild_id": str(self.guild_id),
        }

    # --- REST ------------------------------------------------------------------------------------

    def _app(self) -> web.Application:
        app = web.Application(client_max_size=256 * 1024 * 1024)  # the upload limit is checked by the routes
        r = app.router
        r.add_get("/", self._gateway)
        r.add_get(API + "/gateway", self._get_gateway)
        r.add_get(API + "/gateway/bot", self._get_gateway)
        r.add_get(API + "/users/@me", self._me)
        r.add_get(API + "/users/{uid:\\d+}", self._get_user)
        r.add_get(API + "/oauth2/applications/@me", self._application)
        r.add_get(API + "/channels/{cid}", self._get_channel)
        r.add_post(API + "/channels/{cid}/messages", self._create_message)
        r.add_get(API + "/channels/{cid}/messages", self._history)
        r.add_get(API + "/channels/{cid}/messages/{mid}", self._get_message)
        r.add_patch(API + "/channels/{cid}/messages/{mid}", self._edit_message)
        r.add_delete(API + "/channels/{cid}/messages/{mid}", self._delete_message)
        r.add_get(API + "/channels/{cid}/webhooks", self._list_webhooks)
        r.add_post(API + "/channels/{cid}/webhooks", self._create_webhook)
        r.add_post(API + "/webhooks/{wid}/{token}", self._execute_webhook)
        r.add_patch(API + "/webhooks/{wid}/{token}/messages/@original", self._edit_original)
        r.add_get(API + "/webhooks/{wid}/{token}/messages/{mid}", self._get_webhook_message)
        r.add_patch(API + "/webhooks/{wid}/{token}/messages/{mid}", self._edit_webhook_message)
        r.add_delete(API + "/webhooks/{wid}/{token}/messages/{mid}", self._delete_webhook_message)
        r.add_post(API + "/interactions/{iid}/{token}/callback", self._interaction_callback)
        r.add_get("/attachments/{aid}/{name}", self._download)
        r.add_put(API + "/applications/{aid}/commands", self._sync_commands)
        r.add_put(API + "/applications/{aid}/guilds/{gid}/commands", self._sync_commands)
        r.add_get(API + "/applications/{aid}/guilds/{gid}/commands", self._list_commands)
        r.add_get(API + "/users/@me/guilds", self._my_guilds)
        r.add_get(API + "/guilds/{gid}/roles", self._roles)
        r.add_get(API + "/guilds/{gid}/members/{uid}", self._get_member)
        self._conversation_routes(r, API)
        r.add_post(API + "/guilds/{gid}/channels", self._create_channel)
        r.add_patch(API + "/channels/{cid}", self._edit_channel)
        r.add_delete(API + "/channels/{cid}", self._delete_channel)
        r.add_put(API + "/channels/{cid}/permissions/{oid}", self._put_overwrite)
        r.add_put(API + "/channels/{cid}/messages/pins/{mid}", self._pin)
        r.add_put(API + "/channels/{cid}/pins/{mid}", self._pin)
        r.add_post(API + "/guilds/{gid}/roles", self._create_role)
        r.add_delete(API + "/guilds/{gid}/roles/{rid}", self._delete_role)
        r.add_put(API + "/guilds/{gid}/members/{uid}/roles/{rid}", self._member_role)
        r.add_delete(API + "/guilds/{gid}/members/{uid}/roles/{rid}", self._member_role)
        r.add_route("*", "/{tail:.*}", self._unhandled)
        return app

    async def _me(self, request: web.Request) -> web.Response:
        if self.token is not None and request.headers.get("Authorization") != f"Bot {self.token}":
            return _error(401, "401: Unauthorized")
        return _json(self.bot_user)

    async def _get_user(self, request: web.Request) -> web.Response:
        user = self.users.get(int(request.match_info["uid"]))
        return _json(user) if user else _error(404, "Unknown User", 10013)

    async def _my_guilds(self, request: web.Request) -> web.Response:
        guild = {"id": str(self.guild_id), "name": self.guild_name, "icon": None, "owner": False, "features": []}
        return _json([guild | {"permissions": str(self.everyone_permissions)}])

    def _guild_or_error(self, request: web.Request) -> web.Response | None:
        if int(request.match_info["gid"]) != self.guild_id:
            return _error(403, "Missing Access", 50001)
        return None

    async def _roles(self, request: web.Request) -> web.Response:
        return self._guild_or_error(request) or _json(self._guild()["roles"])

    async def _get_member(self, request: web.Request) -> web.Response:
        if (refused := self._guild_or_error(request)) is not None:
            return refused
        if request.match_info["uid"] != self.bot_user["id"]:
            return _error(404, "Unknown Member", 10007)
        return _json(self._member(self.bot_user))

    async def _application(self, request: web.Request) -> web.Response:
        return _json(self._app_info())

    async def _unhandled(self, request: web.Request) -> web.Response:
        self.unhandled.append(f"{request.method} {request.path}")
        return _error(404, "404: Not Found (no such route in the loopback server)")

    def _app_info(self) -> dict[str, Any]:
        return {
            "id": str(self.application_id),
            "name": "Concord",
            "description": "",
            "icon": None,
            "bot_public": False,
            "bot_require_code_grant": False,
            "owner": self.owner,
            "verify_key": "0" * 64,
            "flags": self.app_flags,
            "team": None,
        }

    async def _get_gateway(self, request: web.Request) -> web.Response:
        return _json(
            {
                "url": self.gateway_url,
                "shards": 1,
                "session_start_limit": {"total": 1000, "remaining": 1000, "reset_after": 0, "max_concurrency": 1},
            }
        )

    @staticmethod
    async def _files(request: web.Request) -> list[tuple[str, bytes]]:
        """(filename, content) of the files of a multipart request."""
        if not request.content_type.startswith("multipart/"):
            return []
        form = await request.post()
        return [(f.filename, f.file.read()) for f in form.values() if isinstance(f, web.FileField)]

    async def _download(self, request: web.Request) -> web.Response:
        upload = self.uploads.get(int(request.match_info["aid"]))
        if upload is None:
            return _error(404, "Not Found")
        return web.Response(body=upload.data, headers={"Content-Type": "application/octet-stream"})

    @staticmethod
    async def _body(request: web.Request) -> dict[str, Any]:
        if request.content_type.startswith("multipart/"):
            form = await request.post()
            return json.loads(str(form.get("payload_json", "{}")))
        if not request.can_read_body:
            return {}
        return await request.json()

    def _channel_or_none(self, request: web.Request) -> int | None:
        cid = int(request.match_info["cid"])
        return cid if cid in self.channels else None

    async def _get_channel(self, request: web.Request) -> web.Response:
        cid = self._channel_or_none(request)
        if cid is None:
            return _error(404, "Unknown Channel", 10003)
        return _json(self.channels[cid])

    async def _history(self, request: web.Request) -> web.Response:
        """Up to `limit` (1-100, default 50) messages, newest first, as Discord answers: the newest ones, or
        those right `before` or right `after` an id, or `around` one."""
        cid = self._channel_or_none(request)
        if cid is None:
            return _error(404, "Unknown Channel", 10003)
        if failure := self._failure("history", cid):
            return failure
        query = request.query
        limit = max(1, min(100, int(query.get("limit", 50))))
        ascending = self.channel_messages(cid)
        if "after" in query:
            picked = [m for m in ascending if m.id > int(query["after"])][:limit]
        elif "around" in query:
            pivot = int(query["around"])
            older = [m for m in ascending if m.id < pivot][-(limit // 2) :] if limit > 1 else []
            picked = older + [m for m in ascending if m.id >= pivot][: limit - len(older)]
        elif "before" in query:
            picked = [m for m in ascending if m.id < int(query["before"])][-limit:]
        else:
            picked = ascending[-limit:]
        return _json([self._message_payload(m) for m in reversed(picked)])

    async def _create_message(self, request: web.Request) -> web.Response:
        cid = self._channel_or_none(request)
        if cid is None:
            return _error(404, "Unknown Channel", 10003)
        if failure := self._failure("post", cid):
            return failure
        body = await self._body(request)
        files = await self._uploaded(request, body)
        if isinstance(files, web.Response):
            return files
        ref = body.get("message_reference")
        msg = Recorded(
            id=self.snowflake(),
            channel_id=cid,
            content=body.get("content") or "",
            author=self.bot_user,
            allowed_mentions=body.get("allowed_mentions"),
            message_reference=self._reference(cid, int(ref["message_id"])) if ref else None,
            attachments=files,
            components=body.get("components") or [],
        )
        msg.files = [(a["filename"], self.file_data(a)) for a in msg.attachments]
        self.messages[msg.id] = msg
        payload = self._message_payload(msg)
        await self._echo(payload)
        return _json(payload)

    def _message_or_none(self, request: web.Request) -> Recorded | None:
        try:
            mid = int(request.match_info["mid"])
        except ValueError:
            return None
        msg = self.messages.get(mid)
        if msg is None or msg.deleted:
            return None
        cid = request.match_info.get("cid")
        if cid is not None and int(cid) != msg.channel_id:
            return None
        return msg

    async def _get_message(self, request: web.Request) -> web.Response:
        msg = self._message_or_none(request)
        return _json(self._message_payload(msg)) if msg else _error(404, "Unknown Message", 10008)

    async def _apply_edit(self, msg: Recorded, body: dict[str, Any]) -> web.Response:
        msg.edits.append(body)
        self._keep_attachments(msg, body)
        if "content" in body:
            msg.content = body["content"] or ""
        if "allowed_mentions" in body:
            msg.allowed_mentions = body["allowed_mentions"]
        if "components" in body:
            msg.components = body["components"] or []
        msg.edited_timestamp = _now()
        self._touch()
        payload = self._message_payload(msg)
        await self.dispatch("MESSAGE_UPDATE", payload)
        return _json(payload)

    async def _remove(self, msg: Recorded) -> web.Response:
        msg.deleted = True
        self._touch()
        await self.dispatch(
            "MESSAGE_DELETE",
            {"id": str(msg.id), "channel_id": str(msg.channel_id), "guild_id": str(self.guild_id)},
        )
        return web.Response(status=204)

    async def _edit_message(self, request: web.Request) -> web.Response:
        if self._channel_or_none(request) is None:
            return _error(404, "Unknown Channel", 10003)
        if failure := self._failure("edit", int(request.match_info["cid"])):
            return failure
        msg = self._message_or_none(request)
        if msg is None:
            return _error(404, "Unknown Message", 10008)
        if msg.author["id"] != self.bot_user["id"]:
            return _error(403, "Cannot edit a message authored by another user", 50005)
        return await self._apply_edit(msg, await self._body(request))

    async def _delete_message(self, request: web.Request) -> web.Response:
        if self._channel_or_none(request) is None:
            return _error(404, "Unknown Channel", 10003)
        if failure := self._failure("delete", int(request.match_info["cid"])):
            return failure
        msg = self._message_or_none(request)
        if msg is None:
            return _error(404, "Unknown Message", 10008)
        return await self._remove(msg)

    # webhooks

    def _webhooks_denied(self) -> web.Response | None:
        return _error(403, "Missing Permissions", 50013) if self.deny_webhooks else None

    async def _list_webhooks(self, request: web.Request) -> web.Response:
        if denied := self._webhooks_denied():
            return denied
        cid = self._channel_or_none(request)
        if cid is None:
            return _error(404, "Unknown Channel", 10003)
        if failure := self._failure("webhooks", cid):
            return failure
        return _json([w for w in self.webhooks.values() if w["channel_id"] == str(cid)])

    async def _create_webhook(self, request: web.Request) -> web.Response:
        if denied := self._webhooks_denied():
            return denied
        cid = self._channel_or_none(request)
        if cid is None:
            return _error(404, "Unknown Channel", 10003)
        body = await self._body(request)
        name = str(body.get("name", ""))
        if re.search("discord|clyde", name, re.IGNORECASE) or not 1 <= len(name) <= 80:
            return _error(400, "Invalid Form Body", 50035)
        return _json(self.add_webhook(cid, name))

    def _webhook_or_error(self, request: web.Request) -> dict[str, Any] | web.Response:
        if denied := self._webhooks_denied():
            return denied
        try:
            hook = self.webhooks.get(int(request.match_info["wid"]))
        except ValueError:
            hook = None
        if hook is None or hook["token"] != request.match_info["token"]:
            return _error(404, "Unknown Webhook", 10015)
        return hook

    async def _execute_webhook(self, request: web.Request) -> web.Response:
        if int(request.match_info["wid"]) == self.application_id:  # an interaction follow-up
            return await self._followup(request)
        hook = self._webhook_or_error(request)
        if isinstance(hook, web.Response):
            return hook
        target = self._thread_target(request, hook)
        if isinstance(target, web.Response):
            return target
        if failure := self._failure("post", int(hook["channel_id"])):
            return failure
        headers, limited = self._rate(int(hook["id"]))
        if limited is not None:
            return limited
        body = await self._body(request)
        files = await self._uploaded(request, body)
        if isinstance(files, web.Response):
            return files
        username = body.get("username")
        if username is not None and (
            re.search("discord|clyde", username, re.IGNORECASE) or not 1 <= len(username) <= 80
        ):
            return _error(400, "Invalid Form Body: username", 50035)
        content = body.get("content") or ""
        if len(content) > 2000:
            return _error(400, "Invalid Form Body: content must be 2000 or fewer in length", 50035)
        msg = Recorded(
            id=self.snowflake(),
            channel_id=target,
            content=content,
            author={
                "id": hook["id"],
                "username": username or hook["name"],
                "discriminator": "0000",
                "avatar": None,
                "bot": True,
            },
            webhook_id=int(hook["id"]),
            username=username,
            avatar_url=body.get("avatar_url"),
            allowed_mentions=body.get("allowed_mentions"),
            attachments=files,
        )
        msg.files = [(a["filename"], self.file_data(a)) for a in msg.attachments]
        self.messages[msg.id] = msg
        payload = self._message_payload(msg)
        await self._echo(payload)
        if request.query.get("wait", "").lower() in ("1", "true"):
            answer = _json(payload)
            answer.headers.update(headers)
            return answer
        return web.Response(status=204, headers=headers)

    def _webhook_message(self, request: web.Request) -> Any:
        """The message a webhook route names, or the error response Discord would give."""
        hook = self._webhook_or_error(request)
        if isinstance(hook, web.Response):
            return hook
        msg = self._message_or_none(request)
        if msg is None or msg.webhook_id != int(hook["id"]):
            return _error(404, "Unknown Message", 10008)
        return msg

    async def _get_webhook_message(self, request: web.Request) -> web.Response:
        msg = self._webhook_message(request)
        return msg if isinstance(msg, web.Response) else _json(self._message_payload(msg))

    async def _edit_webhook_message(self, request: web.Request) -> web.Response:
        msg = self._webhook_message(request)
        if isinstance(msg, web.Response):
            return msg
        if failure := self._failure("edit", msg.channel_id):
            return failure
        body = await self._body(request)
        if len(body.get("content") or "") > 2000:
            return _error(400, "Invalid Form Body: content must be 2000 or fewer in length", 50035)
        return await self._apply_edit(msg, body)

    async def _delete_webhook_message(self, request: web.Request) -> web.Response:
        msg = self._webhook_message(request)
        if isinstance(msg, web.Response):
            return msg
        if failure := self._failure("delete", msg.channel_id):
            return failure
        return await self._remove(msg)

    # slash command registration

    def _commands_refused(self, request: web.Request) -> web.Response | None:
        """403 as Discord answers without the applications.commands scope, or for a server the bot is not in."""
        guild = request.match_info.get("gid")
        if self.deny_commands or (guild is not None and int(guild) != self.guild_id):
            return _error(403, "Missing Access", 50001)
        return None

    async def _list_commands(self, request: web.Request) -> web.Response:
        return self._commands_refused(request) or _json([])

    async def _sync_commands(self, request: web.Request) -> web.Response:
        if (refused := self._commands_refused(request)) is not None:
            return refused
        commands = await request.json()
        guild = request.match_info.get("gid")
        self.synced.append((int(guild) if guild else None, [c["name"] for c in commands]))
        registered = [
            {"description": "", **c, "id": str(self.snowflake()), "application_id": str(self.application_id)}
            | {"version": "1"}  # Discord answers an empty description for context menus
            | ({"guild_id": guild} if guild else {})
            for c in commands
        ]
        return _json(registered)

    # interactions

    async def _interaction_callback(self, request: web.Request) -> web.Response:
        call = self.interactions.get(request.match_info["token"])
        if call is None or str(call.id) != request.match_info["iid"]:
            return _error(404, "Unknown interaction", 10062)
        if call.responses:
            return _error(400, "Interaction has already been acknowledged.", 40060)
        body = await self._body(request)
        response = {**body, "files": await self._files(request)}
        interaction: dict[str, Any] = {
            "id": str(call.id),
            "type": 2,
            "response_message_loading": body.get("type") == 5,
            "response_message_ephemeral": bool((body.get("data") or {}).get("flags", 0) & EPHEMERAL),
        }
        if body.get("type") in (4, 5):  # a new (ephemeral) message; kept out of the channel's messages
            response["message_id"] = self.snowflake()
            interaction["response_message_id"] = str(response["message_id"])
        elif body.get("type") == 7 and call.message is not None:  # the clicked message, updated: clickable again
            response["message_id"] = int(call.message["id"])
            interaction["response_message_id"] = call.message["id"]
        call.record(response)
        return _json({"interaction": interaction})

    async def _edit_original(self, request: web.Request) -> web.Response:
        call = self.interactions.get(request.match_info["token"])
        if call is None:
            return _error(404, "Unknown Webhook", 10015)
        body = await self._body(request)
        call.record({"type": "edit", "data": body, "files": await self._files(request)})
        msg = Recorded(
            id=self.snowflake(), channel_id=call.channel_id, content=body.get("content") or "", author=self.bot_user
        )
        return _json(self._message_payload(msg))

    async def _followup(self, request: web.Request) -> web.Response:
        call = self.interactions.get(request.match_info["token"])
        if call is None:
            return _error(404, "Unknown Webhook", 10015)
        body = await self._body(request)
        msg = Recorded(
            id=self.snowflake(), channel_id=call.channel_id, content=body.get("content") or "", author=self.bot_user
        )
        call.record({"type": "followup", "data": body, "files": await self._files(request), "message_id": msg.id})
        return _json(self._message_payload(msg))
