"""The loopback Discord's files, reactions and threads (a part of `FakeDiscord`, kept apart by job).

Like Discord:
- files: messages and webhook executes take multipart uploads (`payload_json` + `files[n]`, with each file's
  `description`); every file is served back at a CDN-like URL on this server (`/attachments/{id}/{name}`); a
  request whose files are larger in total than the guild's upload limit gets 413 (code 40005). The limit follows
  `premium_tier` as discord.py reads it (10 MiB unboosted); `upload_limit` overrides what the server accepts
  (Discord's webhooks have taken less than the guild's limit). An edit with `attachments` keeps only those.
- reactions: `PUT`/`DELETE /channels/{c}/messages/{m}/reactions/{emoji}/@me` for the bot, people's reactions
  with `react` / `unreact`; each change is a MESSAGE_REACTION_ADD / _REMOVE event, and messages carry their
  `reactions` (count and `me`).
- threads: `POST /channels/{c}/messages/{m}/threads` (the thread's id is the message's, one thread per
  message: 400 code 160004 otherwise) and `POST /channels/{c}/threads`; people start one with `start_thread`.
  Each is a THREAD_CREATE event; messages are posted in a thread like in a channel, and webhooks post there
  with `?thread_id=`.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from aiohttp import web

if TYPE_CHECKING:  # the server imports this module; the type only, for annotations
    from bot.testing.discord_server import Recorded

MiB = 1024 * 1024
UPLOAD_LIMITS = {0: 10 * MiB, 1: 10 * MiB, 2: 50 * MiB, 3: 100 * MiB}  # by premium tier, as discord.py has them
THREAD = 11  # public thread


@dataclass
class Upload:
    """A file on the loopback CDN (served at `url`): attached to a slash command option or to a message."""

    id: int
    filename: str
    data: bytes
    url: str
    description: str | None = None
    content_type: str = "text/csv"

    def payload(self) -> dict[str, Any]:
        payload = {
            "id": str(self.id),
            "filename": self.filename,
            "size": len(self.data),
            "url": self.url,
            "proxy_url": self.url,
            "content_type": self.content_type,
        }
        if self.description is not None:
            payload["description"] = self.description
        return payload


class Conversation:
    """Mixed into FakeDiscord; uses its ids, payloads, dispatch and records."""

    def _init_conversation(self) -> None:
        self.premium_tier = 0
        self.upload_limit: int | None = None  # None: the tier's limit
        self.too_large = 0  # uploads refused with 413

    # --- files -----------------------------------------------------------------------------------

    @property
    def accepted_upload(self) -> int:
        return self.upload_limit if self.upload_limit is not None else UPLOAD_LIMITS[self.premium_tier]

    def attach(self, filename: str, data: bytes, description: str | None = None) -> dict[str, Any]:
        """A file stored on the CDN: its attachment payload, as a message carries it."""
        upload_id = self.snowflake()
        url = f"http://127.0.0.1:{self.port}/attachments/{upload_id}/{filename}"
        kind = _content_type(filename)
        self.uploads[upload_id] = Upload(upload_id, filename, data, url, description, kind)
        return self.uploads[upload_id].payload()

    def file_data(self, attachment: dict[str, Any]) -> bytes:
        """The bytes behind an attachment payload."""
        return self.uploads[int(attachment["id"])].data

    async def _uploaded(self, request: web.Request, body: dict[str, Any]) -> list[dict[str, Any]] | web.Response:
        """The files of a multipart post as attachments (with the descriptions of `payload_json`), or 413."""
        if not request.content_type.startswith("multipart/"):
            return []
        form = await request.post()
        files = {name: f for name, f in form.items() if isinstance(f, web.FileField)}
        data = {name: f.file.read() for name, f in files.items()}
        if sum(len(b) for b in data.values()) > self.accepted_upload:
            self.too_large += 1
            return _too_large()
        described = {str(a.get("id")): a for a in body.get("attachments") or []}
        out = []
        for name, field in files.items():
            index = name.removeprefix("files[").removesuffix("]")
            meta = described.get(index, {})
            out.append(self.attach(meta.get("filename") or field.filename, data[name], meta.get("description")))
        return out

    @staticmethod
    def _keep_attachments(msg: Recorded, body: dict[str, Any]) -> None:
        """An edit's `attachments` lists the files the message keeps (Discord removes the others)."""
        if "attachments" in body and body["attachments"] is not None:
            keep = {str(a["id"]) for a in body["attachments"] if "id" in a}
            msg.attachments = [a for a in msg.attachments if a["id"] in keep]

    # --- reactions -------------------------------------------------------------------------------

    def reactions(self, message_id: int) -> dict[str, list[int]]:
        """emoji -> who holds it on a message (user ids, the bot's included), in order."""
        return {e: [int(u) for u in users] for e, users in self.messages[message_id].reactions.items() if users}

    def bot_reactions(self, message_id: int) -> list[str]:
        """The emoji the bot holds on a message."""
        me = self.bot_user["id"]
        return [e for e, users in self.messages[message_id].reactions.items() if me in users]

    def _reaction_payload(self, msg: Recorded) -> list[dict[str, Any]]:
        me = self.bot_user["id"]
        return [
            {
                "emoji": _emoji(e),
                "count": len(users),
                "me": me in users,
                "count_details": {"normal": len(users), "burst": 0},
                "me_burst": False,
                "burst_colors": [],
            }
            for e, users in msg.reactions.items()
            if users
        ]

    async def react(self, message_id: int, emoji: str, user: dict[str, Any]) -> None:
        """A person adds a reaction; the bot sees MESSAGE_REACTION_ADD."""
        await self._reaction(self.messages[message_id], emoji, user, add=True)

    async def unreact(self, message_id: int, emoji: str, user: dict[str, Any]) -> None:
        """A person removes their reaction; the bot sees MESSAGE_REACTION_REMOVE."""
        await self._reaction(self.messages[message_id], emoji, user, add=False)

    async def _reaction(self, msg: Recorded, emoji: str, user: dict[str, Any], *, add: bool) -> bool:
        users = msg.reactions.setdefault(emoji, [])
        if (user["id"] in users) == add:
            return False  # Discord sends nothing for a reaction already there (or already gone)
        if add:
            users.append(user["id"])
        else:
            users.remove(user["id"])
        self._touch()
        data: dict[str, Any] = {
            "user_id": user["id"],
            "channel_id": str(msg.channel_id),
            "message_id": str(msg.id),
            "guild_id": str(self.guild_id),
            "emoji": _emoji(emoji),
            "burst": False,
            "type": 0,
        }
        if add:
            data["member"] = self._member(user)
            data["message_author_id"] = msg.author["id"]
        await self.dispatch("MESSAGE_REACTION_ADD" if add else "MESSAGE_REACTION_REMOVE", data)
        return True

    async def _bot_reaction(self, request: web.Request) -> web.Response:
        msg = self._message_or_none(request)
        if self._channel_or_none(request) is None:
            return _json_error(404, "Unknown Channel", 10003)
        if failure := self._failure("react", int(request.match_info["cid"])):
            return failure
        if msg is None:
            return _json_error(404, "Unknown Message", 10008)
        emoji = request.match_info["emoji"]
        if emoji.startswith("<") or (":" in emoji and not emoji.split(":")[-1].isdigit()):
            return _json_error(400, "Unknown Emoji", 10014)
        await self._reaction(msg, _from_route(emoji), self.bot_user, add=request.method == "PUT")
        return web.Response(status=204)

    # --- threads ---------------------------------------------------------------------------------

    def threads_of(self, channel_id: int) -> list[dict[str, Any]]:
        """Threads in a channel, oldest first."""
        return [c for c in self.channels.values() if c.get("parent_id") == str(channel_id) and c["type"] == THREAD]

    def thread_of(self, message_id: int) -> dict[str, Any] | None:
        """The thread started from a message, if any."""
        thread = self.channels.get(message_id)
        return thread if thread is not None and thread["type"] == THREAD else None

    async def start_thread(
        self, channel_id: int, name: str, *, message_id: int | None = None, user: dict[str, Any] | None = None
    ) -> int:
        """A person starts a thread, from a message or on its own; the bot sees THREAD_CREATE. Returns its id."""
        thread = self._new_thread(channel_id, name, message_id, user or self.owner)
        await self.dispatch("THREAD_CREATE", {**thread, "newly_created": True})
        return int(thread["id"])

    def _new_thread(self, channel_id: int, name: str, message_id: int | None, owner: dict[str, Any]) -> dict:
        thread_id = message_id if message_id is not None else self.snowflake()
        now = _now_iso()
        thread = {
            "id": str(thread_id),
            "type": THREAD,
            "guild_id": str(self.guild_id),
            "parent_id": str(channel_id),
            "owner_id": owner["id"],
            "name": name[:100],
            "last_message_id": None,
            "rate_limit_per_user": 0,
            "message_count": 0,
            "member_count": 1,
            "flags": 0,
            "thread_metadata": {
                "archived": False,
                "auto_archive_duration": 1440,
                "archive_timestamp": now,
                "locked": False,
                "create_timestamp": now,
            },
        }
        self.channels[thread_id] = thread
        return thread

    async def _create_thread(self, request: web.Request) -> web.Response:
        cid = self._channel_or_none(request)
        if cid is None:
            return _json_error(404, "Unknown Channel", 10003)
        if failure := self._failure("thread", cid):
            return failure
        body = await self._body(request)
        message_id = None
        if "mid" in request.match_info:
            msg = self._message_or_none(request)
            if msg is None:
                return _json_error(404, "Unknown Message", 10008)
            if msg.id in self.channels:
                return _json_error(400, "A thread has already been created for this message", 160004)
            message_id = msg.id
        name = str(body.get("name") or "")
        if not 1 <= len(name) <= 100:
            return _json_error(400, "Invalid Form Body: name", 50035)
        thread = self._new_thread(cid, name, message_id, self.bot_user)
        self._touch()
        await self.dispatch("THREAD_CREATE", {**thread, "newly_created": True})
        return _json_ok(thread)

    def _thread_target(self, request: web.Request, hook: dict[str, Any]) -> int | web.Response:
        """Where a webhook posts: its channel, or `?thread_id=` of a thread in it."""
        thread_id = request.query.get("thread_id")
        if thread_id is None:
            return int(hook["channel_id"])
        thread = self.channels.get(int(thread_id))
        if thread is None or thread.get("parent_id") != hook["channel_id"]:
            return _json_error(400, "Unknown Channel", 10003)
        return int(thread_id)

    def _conversation_routes(self, r: web.UrlDispatcher, api: str) -> None:
        r.add_put(api + "/channels/{cid}/messages/{mid}/reactions/{emoji}/@me", self._bot_reaction)
        r.add_delete(api + "/channels/{cid}/messages/{mid}/reactions/{emoji}/@me", self._bot_reaction)
        r.add_post(api + "/channels/{cid}/messages/{mid}/threads", self._create_thread)
        r.add_post(api + "/channels/{cid}/threads", self._create_thread)


def _emoji(emoji: str) -> dict[str, Any]:
    """A reaction's emoji payload: unicode, or a custom `<:name:id>`."""
    if emoji.startswith("<") and emoji.endswith(">"):
        name, emoji_id = emoji.strip("<>").split(":")[-2:]
        return {"id": emoji_id, "name": name, "animated": emoji.startswith("<a:")}
    return {"id": None, "name": emoji}


def _from_route(emoji: str) -> str:
    """The emoji of a reaction route (`✋`, or `name:id` for a custom one) as people's reactions name it."""
    if ":" in emoji:
        name, emoji_id = emoji.split(":")[-2:]
        return f"<:{name}:{emoji_id}>"
    return emoji


def _content_type(filename: str) -> str:
    ext = filename.rsplit(".", 1)[-1].lower()
    return {
        "pdf": "application/pdf",
        "png": "image/png",
        "jpg": "image/jpeg",
        "jpeg": "image/jpeg",
        "csv": "text/csv",
        "tsv": "text/tab-separated-values",
        "txt": "text/plain",
    }.get(ext, "application/octet-stream")


def _json_error(status: int, message: str, code: int) -> web.Response:
    body = json.dumps({"message": message, "code": code}).encode()
    return web.Response(body=body, status=status, headers={"Content-Type": "application/json"})


def _json_ok(body: Any) -> web.Response:
    return web.Response(body=json.dumps(body).encode(), headers={"Content-Type": "application/json"})


def _too_large() -> web.Response:
    return _json_error(413, "Request entity too large", 40005)


def _now_iso() -> str:
    from datetime import UTC, datetime

    return datetime.now(UTC).isoformat()
