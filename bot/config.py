"""Settings from the environment or `.env`, validated at load.

Each field says what it allows (pydantic bounds, enums, validators) and, in its description, what it means;
`load()` turns every invalid value into one line naming the variable as the deployer types it
(`CONCORD_TRANSLATE_TIMEOUT`), the value and what is allowed. A new field with `Field(ge=..., le=...)` gets
that line for free. Relationships between settings and legal-but-risky values are judged in one place,
`review()`. Secrets are SecretStr so they never print.
"""

from __future__ import annotations

import difflib
import enum
import ipaddress
import json
import os
import re
import types
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Annotated, Any, Literal, Union, get_args, get_origin
from urllib.parse import urlsplit

import annotated_types
from pydantic import AliasChoices, Field, SecretStr, ValidationError, ValidationInfo, field_validator
from pydantic.fields import FieldInfo
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict, SettingsError

from bot import languages
from bot.languages import BACKENDS
from bot.limits import MIN_CALL_SECONDS, call_budget

ENV_PREFIX = "CONCORD_"
LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")
# The setting each backend cannot work without (google and mymemory need none).
BACKEND_NEEDS = {"deepl": "deepl_api_key", "microsoft": "microsoft_api_key", "libre": "libre_url"}
ROLE_NAME_LIMIT = 100  # Discord's limit on a role name
_ROLE_MENTION = re.compile(r"^<@&(\d+)>$")
ENCRYPTED = "must start with https:// (meeting text must not cross a network unencrypted)"


class ConfigError(Exception):
    """Invalid settings: one line per bad value, each naming the variable. Printed as is, exit code 2."""

    def __init__(self, lines: list[str]) -> None:
        super().__init__("\n".join(lines))
        self.lines = lines


def transport_is_private(url: str, *, lan: bool = False) -> bool:
    """True when meeting text sent to `url` cannot be read on the way: https, or http to this machine
    (or, with `lan`, to a private network address or a one-label name such as a compose service)."""
    parts = urlsplit(url.strip())
    if parts.scheme == "https":
        return True
    if parts.scheme != "http" or not parts.hostname:
        return False
    host = parts.hostname
    if host == "localhost":
        return True
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return lan and "." not in host
    return address.is_loopback or (lan and address.is_private)


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix=ENV_PREFIX, env_file=".env", extra="ignore")

    discord_token: SecretStr | None = Field(
        default=None,
        validation_alias=AliasChoices("DISCORD_TOKEN", "CONCORD_DISCORD_TOKEN"),
        description="the bot token from the Developer Portal",
    )
    database: Path = Field(Path("concord.db"), description="the SQLite file")
    glossary_dir: Path = Field(
        Path(__file__).resolve().parent.parent / "glossaries", description="folder of seed glossary files"
    )

    # Translation: the first backend is tried first, then the fallbacks, skipping any that lacks the language.
    translator: str = Field("google", description="first translation backend")
    fallbacks: Annotated[list[str], NoDecode] = Field(["mymemory"], description="backends tried next, in order")
    # Per-language override, e.g. CONCORD_TRANSLATOR_BY_LANGUAGE='{"hmn": "microsoft"}' or hmn=microsoft
    translator_by_language: Annotated[dict[str, str], NoDecode] = Field({}, description="per-language backend")
    deepl_api_key: SecretStr | None = None
    deepl_free: bool = Field(True, description="whether the DeepL key is a Free-plan key")
    microsoft_api_key: SecretStr | None = None
    microsoft_region: str | None = None
    libre_url: str | None = Field(None, description="a LibreTranslate server")
    libre_api_key: SecretStr | None = None
    mymemory_email: str | None = Field(None, description="an e-mail address, for MyMemory's larger quota")
    # Where each service is reached (https; plain http only for loopback, and for libre also a private network).
    google_url: str = Field("https://translate.google.com", description="where Google is reached")
    deepl_url: str | None = Field(None, description="where DeepL is reached (default: from CONCORD_DEEPL_FREE)")
    microsoft_url: str = Field(
        "https://api.cognitive.microsofttranslator.com", description="where Microsoft is reached"
    )
    mymemory_url: str = Field("https://api.mymemory.translated.net", description="where MyMemory is reached")

    # Cap on one backend call; the call's real budget is also < deadline / (tries + fallbacks), so the
    # fallback is always asked in time.
    translate_timeout: float = Field(8.0, gt=0, le=120, description="seconds for one backend call")
    # Longest a message waits for its translation (retries and fallbacks included) before the original is
    # delivered, marked; the translation is edited in when a retry succeeds.
    translate_deadline: float = Field(15.0, gt=0, le=600, description="seconds a message waits for translation")
    translate_retries: int = Field(2, ge=0, le=10, description="extra tries on 429 / 5xx / timeouts")
    translate_workers: int = Field(64, ge=1, le=512, description="calls in flight per backend")
    breaker_failures: int = Field(5, ge=1, le=1000, description="consecutive failures that open a backend's circuit")
    breaker_cooldown: float = Field(30.0, gt=0, le=3600, description="seconds a backend is skipped before a probe")
    # Client-side calls per second per backend (token bucket; a backend not listed is not limited). The free
    # Google endpoint blocks an address for hours after bursts; ~5/s is the rate its users report as safe.
    rate_limits: dict[str, float] = Field(
        {"google": 5.0, "mymemory": 2.0, "deepl": 10.0, "microsoft": 10.0}, description="calls per second per backend"
    )
    rate_burst: float = Field(2.5, gt=0, le=60, description="seconds of calls a backend's bucket holds")
    retry_share: float = Field(0.25, gt=0, le=1, description="share of slots and rate for retries of untranslated")
    keep_days: float = Field(
        30.0,
        ge=1,
        le=3650,
        description="days meeting text is kept; under 1, the purge at start would forget messages still "
        "being retried, edited or corrected",
    )
    retry_untranslated_every: float = Field(
        30.0, ge=0, le=86400, description="seconds between retries of untranslated messages; 0 turns them off"
    )

    # Delivery. After a restart or a new gateway session, each linked channel's last `catchup_hours` (at most
    # `catchup_messages` messages) are read, and what was missed is relayed in order.
    catchup_hours: float = Field(2.0, ge=0, le=48, description="hours of channel history read back after a restart")
    catchup_messages: int = Field(500, ge=0, le=5000, description="messages per channel read back after a restart")
    delivery_hold: float = Field(120.0, ge=0, le=3600, description="seconds a failing post holds those behind it")
    shutdown_grace: float = Field(8.0, ge=0, le=300, description="seconds SIGTERM waits for deliveries in flight")
    discord_timeout: float = Field(10.0, ge=1, le=120, description="seconds one Discord call may take")
    # TESTING ONLY: a Discord-compatible server instead of discord.com, e.g. http://127.0.0.1:PORT/api/v10
    # (the loopback server of bot/testing). Never set it in production; the bot warns when it is set.
    discord_api_base: str | None = Field(None, description="testing only: a Discord-compatible server's API URL")
    # Glossary: "repair" translates the message as it is and replaces only the terms the engine got wrong, at
    # their place; "protect" sends terms as placeholders first (README, "Glossaries", has the measured figures).
    glossary_strategy: Literal["repair", "protect"] = "repair"
    glossary_session_gap_hours: float = Field(
        6.0, gt=0, le=720, description="hours without a message after which a meeting expands its acronyms again"
    )
    glossary_import_max_kb: int = Field(
        1024, ge=1, le=102400, description="largest glossary file imported, per file, from Discord or the CLI"
    )

    # A role ID (Server Settings -> Roles -> right-click -> Copy Role ID), or a name resolved once per server.
    volunteer_role: str | None = Field("Volunteer", description="role that may change glossary terms")
    facilitator_role: str | None = Field(None, description="role that may set up meeting channels")
    test_guild_id: int | None = Field(None, gt=0, description="the ID of one server to sync slash commands to")
    timezone: str = Field("UTC", description="IANA time zone of meeting transcripts, e.g. America/Los_Angeles")
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"] = "INFO"

    @field_validator("*", mode="before")
    @classmethod
    def _blank_is_unset(cls, value: Any, info: Any) -> Any:
        """`CONCORD_LIBRE_URL=` (as in .env.example) means "not set" for a setting that may be unset."""
        if isinstance(value, str) and not value.strip() and cls.model_fields[info.field_name].default is None:
            return None
        return value

    @field_validator("rate_limits")
    @classmethod
    def _positive_rates(cls, value: dict[str, float]) -> dict[str, float]:
        for name, rate in value.items():
            _backend(name)
            if not 0 < rate <= 10_000:
                raise ValueError(f"rate for {name} must be above 0 and at most 10000 calls per second")
        return value

    @field_validator("google_url", "deepl_url", "microsoft_url", "mymemory_url")
    @classmethod
    def _encrypted(cls, value: str | None) -> str | None:
        if value is not None and not transport_is_private(value):
            raise ValueError(ENCRYPTED)
        return value

    @field_validator("database", "glossary_dir", mode="before")
    @classmethod
    def _path(cls, value: Any, info: ValidationInfo) -> Any:
        if isinstance(value, str):
            if not value.strip():
                example = "concord.db" if info.field_name == "database" else "glossaries (a folder of CSV files)"
                raise ValueError(f"is empty: give a path, e.g. {example}")
            if "\x00" in value:
                raise ValueError("contains a NUL character")
            return Path(value.strip()).expanduser()  # no shell expands ~ in .env or docker -e
        return value

    @field_validator("translator", mode="before")
    @classmethod
    def _known_backend(cls, value: Any) -> Any:
        return _backend(value) if isinstance(value, str) else value

    @field_validator("fallbacks", mode="before")
    @classmethod
    def _known_backends(cls, value: Any) -> Any:
        example = 'a JSON list like ["mymemory"] or names separated by commas'
        value = _typed(value, list, example, lambda text: [part for part in text.split(",") if part.strip()])
        if not isinstance(value, list | tuple) or not all(isinstance(v, str) for v in value):
            raise ValueError("must be backend names separated by commas, e.g. mymemory,libre")
        return list(dict.fromkeys(_backend(v) for v in value))

    @field_validator("translator_by_language", mode="before")
    @classmethod
    def _language_backends(cls, value: Any) -> Any:
        example = 'a JSON object like {"hmn": "microsoft"} or hmn=microsoft,es=deepl'
        value = _typed(value, dict, example, _pairs)
        if not isinstance(value, dict):
            raise ValueError('must map language codes to backends, e.g. {"hmn": "microsoft"}')
        mapped = {}
        for code, backend in value.items():
            try:
                lang = languages.get(str(code))
            except languages.UnknownLanguage:
                raise ValueError(f"unknown language '{code}'; `python -m bot languages` lists the codes") from None
            if not isinstance(backend, str):
                raise ValueError(f"the backend for {lang.code} must be a name, one of {', '.join(BACKENDS)}")
            mapped[lang.code] = _backend(backend, f" for {lang.code}")
        return mapped

    @field_validator("libre_url")
    @classmethod
    def _url(cls, value: str | None) -> str | None:
        if value is None:
            return None
        text = value.strip()
        if not re.match(r"^https?://[^/\s:]+(:\d{1,5})?(/\S*)?$", text):
            raise ValueError("must be an http:// or https:// URL, e.g. http://10.0.0.5:5000/")
        if not transport_is_private(text, lan=True):
            raise ValueError(ENCRYPTED + "; plain http:// only to this machine or a private network address")
        return text if text.endswith("/") else text + "/"  # deep-translator needs the trailing slash

    @field_validator("mymemory_email")
    @classmethod
    def _email(cls, value: str | None) -> str | None:
        if value is not None and not re.match(r"^[^@\s]+@[^@\s]+\.[^@\s]+$", value.strip()):
            raise ValueError("must be an e-mail address, e.g. it@district.org")
        return value.strip() if value else value

    @field_validator("volunteer_role", "facilitator_role")
    @classmethod
    def _role(cls, value: str | None) -> str | None:
        if value is None:
            return None
        text = value.strip()
        if mention := _ROLE_MENTION.match(text):  # a role mention pasted from Discord: its ID
            return mention[1]
        if len(text) > ROLE_NAME_LIMIT:
            raise ValueError(f"must be a role ID or a role name of at most {ROLE_NAME_LIMIT} characters")
        return text

    @field_validator("timezone")
    @classmethod
    def _timezone(cls, value: str) -> str:
        text = value.strip()
        if text.upper() == "UTC":
            return "UTC"
        try:
            from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

            ZoneInfo(text)
        except (ZoneInfoNotFoundError, ValueError, OSError):  # "Pacific" is a folder of zones
            raise ValueError("must be an IANA time zone name, e.g. America/Los_Angeles or UTC") from None
        return text

    @field_validator("log_level", mode="before")
    @classmethod
    def _level(cls, value: Any) -> Any:
        if isinstance(value, str):
            if value.strip().upper() not in LOG_LEVELS:
                raise ValueError(f"must be one of {', '.join(LOG_LEVELS)}")
            return value.strip().upper()
        return value

    @field_validator("discord_token")
    @classmethod
    def _token(cls, value: SecretStr | None) -> SecretStr | None:
        if value is None:
            return None
        token = value.get_secret_value().strip()
        if token.lower().startswith("bot "):  # pasted from an Authorization header
            token = token[4:].strip()
        if any(c.isspace() for c in token):
            raise ValueError("contains spaces: copy the token again from Bot -> Reset Token")
        return SecretStr(token) if token else None

    def unconfigured(self, backend: str, flags: Mapping[str, str] | None = None) -> str | None:
        """What `backend` lacks to work, as the deployer types it; None when it is ready."""
        needed = BACKEND_NEEDS.get(backend)
        if needed is None or getattr(self, needed):
            return None
        flag = (flags or {}).get(needed)
        return f"{flag} (or {env_name(needed)}) is not set" if flag else f"{env_name(needed)} is not set"

    def backend_names(self) -> list[str]:
        """Every backend the configuration names: the first one, the fallbacks, the per-language ones."""
        return list(dict.fromkeys([self.translator, *self.fallbacks, *self.translator_by_language.values()]))


def _backend(name: str, where: str = "") -> str:
    cleaned = name.strip().lower()
    if not cleaned:
        raise ValueError(f"must be one of {', '.join(BACKENDS)}")
    if cleaned not in BACKENDS:
        raise ValueError(f"unknown translator '{name.strip()}'{where}; allowed: {', '.join(BACKENDS)}")
    return cleaned


def _typed(value: Any, kind: type, example: str, from_text: Callable[[str], Any]) -> Any:
    """A list or mapping setting, typed as JSON or in the short comma-separated form."""
    if not isinstance(value, str):
        return value
    text = value.strip()
    if text.startswith("[" if kind is list else "{"):
        return _json(text, kind, example)
    return from_text(text)


def _pairs(text: str) -> dict[str, str]:
    """'hmn=microsoft, es:deepl' -> {"hmn": "microsoft", "es": "deepl"}"""
    pairs = {}
    for pair in filter(str.strip, text.split(",")):
        code, sep, backend = pair.replace(":", "=", 1).partition("=")
        if not sep:
            raise ValueError(f"'{pair.strip()}' is not language=backend, e.g. hmn=microsoft")
        pairs[code] = backend
    return pairs


def _json(text: str, kind: type, example: str) -> Any:
    try:
        value = json.loads(text)
    except json.JSONDecodeError:
        value = None
    if not isinstance(value, kind):
        raise ValueError(f"is not valid JSON; write {example}")
    return value


# --- names, values and what is allowed, as the deployer sees them ---------------------------------------


def env_name(field: str) -> str:
    """The variable a deployer sets for a field: `translate_timeout` -> CONCORD_TRANSLATE_TIMEOUT."""
    alias = Settings.model_fields[field].validation_alias
    if isinstance(alias, AliasChoices):
        return str(alias.choices[0])
    if isinstance(alias, str):
        return alias
    return ENV_PREFIX + field.upper()


def _field_named(name: str) -> str | None:
    """The field an error location or an environment variable names (case-insensitive, aliases too)."""
    wanted = name.lower()
    for field, info in Settings.model_fields.items():
        names = {field, env_name(field).lower(), (ENV_PREFIX + field).lower()}
        if isinstance(info.validation_alias, AliasChoices):
            names |= {str(c).lower() for c in info.validation_alias.choices}
        if wanted in names:
            return field
    return None


def _is_secret(info: FieldInfo) -> bool:
    return SecretStr in (info.annotation, *get_args(info.annotation))


def _base(annotation: Any) -> Any:
    """int from `int | None`, Annotated[...] and the like."""
    while get_origin(annotation) is Annotated:
        annotation = get_args(annotation)[0]
    if get_origin(annotation) in (Union, types.UnionType):
        inner = [a for a in get_args(annotation) if a is not type(None)]
        return _base(inner[0]) if len(inner) == 1 else annotation
    return annotation


def _num(value: Any) -> str:
    return f"{value:g}" if isinstance(value, float) else str(value)


def allowed(field: str) -> str:
    """What a field accepts, in words: "a whole number from 1 to 64", "one of DEBUG, INFO, ...", "true or false"."""
    info = Settings.model_fields[field]
    kind = _base(info.annotation)
    if get_origin(kind) is Literal:
        return "one of " + ", ".join(str(a) for a in get_args(kind))
    if isinstance(kind, type) and issubclass(kind, enum.Enum):
        return "one of " + ", ".join(str(member.value) for member in kind)
    if kind is bool:
        return "true or false"
    if kind in (int, float):
        noun = "a whole number" if kind is int else "a number"
        low = high = None
        for bound in info.metadata:
            if isinstance(bound, annotated_types.Ge):
                low = f"{_num(bound.ge)}"
            elif isinstance(bound, annotated_types.Gt):
                low = f"above {_num(bound.gt)}"
            elif isinstance(bound, annotated_types.Le):
                high = f"{_num(bound.le)}"
            elif isinstance(bound, annotated_types.Lt):
                high = f"below {_num(bound.lt)}"
        if low and high:
            return f"{noun} from {low} to {high}" if not low.startswith("above") else f"{noun} {low} and at most {high}"
        if low:
            return f"{noun} {low}" if low.startswith("above") else f"{noun} of at least {low}"
        if high:
            return f"{noun} of at most {high}"
        return noun
    if kind is Path:
        return "a path"
    if get_origin(kind) is list:
        return "a list, e.g. a,b or JSON"
    if get_origin(kind) is dict:
        return "a JSON object"
    return "text"


def _shown(field: str | None, value: Any) -> str:
    if field is not None and _is_secret(Settings.model_fields[field]):
        return "(hidden)"
    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False, default=str)
    return text if len(text) <= 80 else text[:77] + "..."


def _line(name: str, value: Any, reason: str, shown: str) -> str:
    if isinstance(value, str) and not value.strip():
        return f"{name} is empty: {reason.removeprefix('is empty: ')}"
    return f"{name}={shown}: {reason}"


# pydantic error types that mean "not what the field allows": answered with `allowed()`
_BOUNDS = {
    "greater_than", "greater_than_equal", "less_than", "less_than_equal", "int_parsing", "int_from_float",
    "int_type", "float_parsing", "float_type", "bool_parsing", "bool_type", "literal_error", "finite_number",
    "enum", "string_type", "list_type", "dict_type", "path_type",
}  # fmt: skip


def explain(exc: ValidationError, flags: Mapping[str, str] | None = None) -> list[str]:
    """One line per invalid setting: the variable (or command-line flag), the value, what is allowed."""
    flags = flags or {}
    lines: dict[str, str] = {}
    for error in exc.errors(include_url=False):
        field = _field_named(str(error["loc"][0])) if error["loc"] else None
        if field is not None and field in lines:
            continue  # one line per setting, even when a list has several bad items
        if error["type"] == "value_error":
            reason = str(error["ctx"]["error"]) if "ctx" in error else error["msg"]
        elif field is not None and error["type"] in _BOUNDS:
            reason = f"must be {allowed(field)}"
        else:
            reason = error["msg"][:1].lower() + error["msg"][1:]
        if field is None:
            lines[str(len(lines))] = reason
            continue
        description = Settings.model_fields[field].description
        if description and error["type"] != "value_error":
            reason += f" ({description})"
        name = flags.get(field) or env_name(field)
        lines[field] = _line(name, error["input"], reason, _shown(field, error["input"]))
    return list(lines.values())


def _raw(field: str, env_file: str | None) -> str | None:
    """A field's value as written in the environment or in `.env` (for errors raised before validation)."""
    for key, value in {**_dotenv(env_file), **os.environ}.items():
        if _field_named(key) == field and value is not None:
            return value
    return None


def _dotenv(path: str | None) -> dict[str, str | None]:
    if not path or not Path(path).is_file():
        return {}
    from dotenv import dotenv_values  # pydantic-settings' own dependency

    return dict(dotenv_values(path))


def unknown_variables(env_file: str | None = ".env") -> list[str]:
    """CONCORD_* variables that are no setting (a typo is otherwise silently ignored), with a guess."""
    names = {**_dotenv(env_file), **os.environ}
    known = {env_name(f) for f in Settings.model_fields} | {ENV_PREFIX + f.upper() for f in Settings.model_fields}
    out = []
    for key in sorted(names):
        upper = key.upper()
        if upper.startswith(ENV_PREFIX) and upper not in known:
            guess = difflib.get_close_matches(upper, sorted(known), n=1)
            hint = f" (did you mean {guess[0]}?)" if guess else ""
            out.append(f"{key} is not a Concord setting and is ignored{hint}")
    return out


def load(
    overrides: Mapping[str, Any] | None = None,
    *,
    flags: Mapping[str, str] | None = None,
    translating: bool = False,
    env_file: str | None = ".env",
) -> tuple[Settings, list[str]]:
    """Settings from the environment, `.env` and `overrides` (command-line values; None = not given).

    Returns the settings and warnings (legal but risky values). Raises ConfigError with one line per
    invalid value; `flags` names the command-line flag of each override, so its line names the flag.
    `translating`: the command translates, so at least one backend must be usable.
    """
    given = {k: v for k, v in (overrides or {}).items() if v is not None}
    named = {k: v for k, v in (flags or {}).items() if k in given}
    try:
        settings = Settings(_env_file=env_file, **given)
    except ValidationError as exc:
        raise ConfigError(explain(exc, named)) from None
    except (UnicodeDecodeError, OSError) as exc:  # .env saved as UTF-16 by Notepad, or unreadable
        why = "is not UTF-8 text; save it as UTF-8" if isinstance(exc, UnicodeDecodeError) else exc.strerror
        raise ConfigError([f"{env_file} cannot be read: {why}"]) from None
    except SettingsError as exc:  # a JSON setting pydantic-settings could not decode
        field = _field_named(m[1]) if (m := re.search(r'field "(\w+)"', str(exc))) else None
        if field is None:
            raise ConfigError([str(exc)]) from None
        value = _raw(field, env_file) or ""
        line = _line(env_name(field), value, f"is not valid JSON; allowed: {allowed(field)}", _shown(field, value))
        raise ConfigError([line]) from None
    errors, warnings = review(settings, translating=translating, flags=flags, given=given)
    if errors:
        raise ConfigError(errors)
    return settings, unknown_variables(env_file) + warnings


def review(
    settings: Settings,
    *,
    translating: bool = False,
    flags: Mapping[str, str] | None = None,
    given: Mapping[str, Any] | None = None,
) -> tuple[list[str], list[str]]:
    """Relationships between settings, and legal values that are risky: (errors, warnings).

    The one place for cross-field rules; each line names every variable it is about and says why. `flags`:
    the command's flags for fields; a field set by its flag (`given`) is named by the flag.
    """
    s = settings
    flags = flags or {}

    def name(field: str) -> str:
        return flags[field] if field in flags and field in (given or {}) else env_name(field)

    errors: list[str] = []
    warnings: list[str] = []
    timeout, deadline, retries = name("translate_timeout"), name("translate_deadline"), name("translate_retries")
    chain = list(dict.fromkeys([s.translator, *s.fallbacks]))
    tries = s.translate_retries + len(chain)  # the first backend's tries, then one per fallback
    budget = call_budget(s.translate_timeout, s.translate_deadline, tries)
    if budget < MIN_CALL_SECONDS:
        errors.append(
            f"{deadline}={_num(s.translate_deadline)} leaves each backend call {budget:.2f}s ({tries} tries fit in "
            f"it: {retries}={s.translate_retries} plus {len(chain)} backend(s)); no real backend answers that fast, "
            f"so every message would be shown untranslated; raise {deadline} or lower {retries}"
        )
    elif budget < 1:
        warnings.append(
            f"{timeout}={_num(s.translate_timeout)}, {deadline}={_num(s.translate_deadline)}: each backend call gets "
            f"{budget:.2f}s; real backends often need more than a second; expect messages shown untranslated"
        )
    if s.keep_days > 365:
        warnings.append(
            f"{name('keep_days')}={_num(s.keep_days)}: parents' messages are kept that long; the default is 30 days"
        )
    for code, backend in s.translator_by_language.items():
        lang = languages.LANGUAGES[code]
        if not languages.for_translation(lang).supports(backend):
            warnings.append(
                f"{name('translator_by_language')}: {backend} does not translate {lang.english} ({code}); "
                "the usual chain is used for it"
            )
    if s.retry_untranslated_every == 0:
        warnings.append(f"{name('retry_untranslated_every')}=0: messages shown untranslated are never translated later")
    if not translating:
        return errors, warnings
    chain = list(dict.fromkeys([s.translator, *s.fallbacks]))
    ready = [backend for backend in chain if s.unconfigured(backend) is None]
    if not ready:
        missing = "; ".join(f"{backend}: {s.unconfigured(backend, flags)}" for backend in chain)
        errors.append(
            f"{name('translator')}={s.translator}: no translation backend can work ({missing}); "
            "set the missing value or choose google"
        )
        return errors, warnings
    if ready[0] != s.translator:
        warnings.append(
            f"{name('translator')}={s.translator} cannot work ({s.unconfigured(s.translator, flags)}): "
            f"every message goes to {ready[0]}"
        )
    for backend in s.backend_names()[1:]:
        if (missing := s.unconfigured(backend, flags)) is not None:
            warnings.append(f"translator {backend} is skipped: {missing}")
    return errors, warnings
