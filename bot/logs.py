"""Logging that never shows a secret or meeting text, at any level.

Three layers, because a leak can come from anywhere:
- known secrets (bot token, API keys, the MyMemory e-mail) are replaced wherever they appear;
- patterns that carry secrets or text are cut: URL query strings (requests/urllib3 put the text and keys
  there), webhook and interaction tokens in Discord URLs, bot tokens, `Authorization`-like headers;
- discord.py's DEBUG payloads (gateway events, REST bodies: message content) and aiosqlite's statements
  (with their values) are replaced by a summary.

`redact()` is also what the translation layer uses on exception texts before they are logged or shown.
"""

from __future__ import annotations

import logging
import re
import sys
import threading
from collections.abc import Iterable
from typing import Any

REDACTED = "[redacted]"

_secrets: set[str] = set()
_lock = threading.Lock()

_PATTERNS: list[tuple[re.Pattern[str], str]] = [
    # Discord webhook / interaction tokens: /webhooks/<id>/<token>, /interactions/<id>/<token>/callback
    (re.compile(r"(/(?:webhooks|interactions)/\d+/)[\w.\-]+"), rf"\1{REDACTED}"),
    # Discord bot tokens: base64 id . timestamp . hmac
    (re.compile(r"\b[\w-]{23,28}\.[\w-]{6,7}\.[\w-]{27,}\b"), REDACTED),
    # Query strings: the text to translate, auth_key, api_key, the MyMemory e-mail... (not a bot invite link:
    # client id, scope and permissions are what a deployer needs to read)
    (re.compile(r"(?<!/oauth2/authorize)\?[^\s\"'<>#?]*=[^\s\"'<>#]*"), f"?{REDACTED}"),
    # deep-translator's AuthorizationException: "Unauthorized access with the api key <key>"
    (re.compile(r"(?i)(\bapi[ _-]?key\s+)[^\s\"',}]+"), rf"\1{REDACTED}"),
    # Header or parameter carrying a key, in any quoting: Authorization: ..., 'Ocp-Apim-Subscription-Key': '...'
    (
        re.compile(
            r"(?i)((?:authorization|ocp-apim-subscription-key|x-api-key|auth_key|api_key|apikey|token)"
            r"[\"']?\s*[:=]\s*[\"']?)(?:(?:bot|bearer|deepl-auth-key)\s+)?[^\s\"',}&)]+"
        ),
        rf"\1{REDACTED}",
    ),
]


def add_secret(value: str | None) -> None:
    """Never show this value in a log line or an error text (short values are ignored: too many false hits)."""
    if value and len(value.strip()) >= 6:
        with _lock:
            _secrets.add(value.strip())


def add_secrets_from(settings: Any) -> None:
    """Register every secret in a Settings object (SecretStr fields and the MyMemory e-mail)."""
    for name in type(settings).model_fields:
        value = getattr(settings, name)
        if hasattr(value, "get_secret_value"):
            add_secret(value.get_secret_value())
    add_secret(getattr(settings, "mymemory_email", None))


def redact(text: str, extra: Iterable[str] = ()) -> str:
    """`text` without known secrets, the `extra` values (e.g. the meeting text of a failed call) and the
    patterns above."""
    with _lock:
        values = sorted({*_secrets, *(e for e in extra if e and len(e.strip()) >= 3)}, key=len, reverse=True)
    for value in values:
        if value in text:
            text = text.replace(value, REDACTED)
    for pattern, replacement in _PATTERNS:
        text = pattern.sub(replacement, text)
    return text


def _summary(arg: Any) -> Any:
    """A discord.py payload argument, without its content."""
    if isinstance(arg, dict):
        op, event = arg.get("op"), arg.get("t")
        return f"<payload op={op} t={event}>" if op is not None or event else f"<payload keys={sorted(arg)[:6]}>"
    if isinstance(arg, list | tuple):
        return f"<payload of {len(arg)} items>"
    if isinstance(arg, str | bytes) and arg[:1] in ("{", "[", b"{", b"["):
        return "<payload>"
    if type(arg).__name__ == "FormData":
        return "<form payload>"
    return arg


class RedactingFilter(logging.Filter):
    """Put on every handler: rewrites each record before any formatter sees it."""

    def filter(self, record: logging.LogRecord) -> bool:
        args = record.args
        if record.name.startswith("discord") and args:
            args = tuple(_summary(a) for a in args) if isinstance(args, tuple) else _summary(args)
        elif record.name.startswith("aiosqlite") and args:  # every statement with its values: meeting text
            args = tuple("<sqlite operation>" for _ in args) if isinstance(args, tuple) else "<sqlite operation>"
        try:
            message = record.msg % args if args else str(record.msg)
        except (TypeError, ValueError):
            message = f"{record.msg} {args}"
        record.msg, record.args = redact(message), None
        return True


class RedactingFormatter(logging.Formatter):
    """The last line of defence: tracebacks and anything a filter could not see."""

    def format(self, record: logging.LogRecord) -> str:
        return redact(super().format(record))


def setup_logging(level: str | int = "INFO", settings: Any = None, stream: Any = None) -> logging.Handler:
    """Configure the root logger once for `run`, `simulate` and `bench`; returns the handler."""
    if settings is not None:
        add_secrets_from(settings)
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.addFilter(RedactingFilter())
    handler.setFormatter(RedactingFormatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level.upper() if isinstance(level, str) else level)
    return handler
