"""Settings from the environment or `.env`. Secrets are SecretStr so they never print."""

from __future__ import annotations

import ipaddress
from pathlib import Path
from urllib.parse import urlsplit

from pydantic import AliasChoices, Field, SecretStr, ValidationInfo, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from bot.languages import BACKENDS


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
    model_config = SettingsConfigDict(env_prefix="CONCORD_", env_file=".env", extra="ignore")

    discord_token: SecretStr | None = Field(
        default=None, validation_alias=AliasChoices("DISCORD_TOKEN", "CONCORD_DISCORD_TOKEN")
    )
    database: Path = Path("concord.db")
    glossary_dir: Path = Path(__file__).resolve().parent.parent / "glossaries"

    # Translation: the first backend is tried first, then the fallbacks, skipping any that lacks the language.
    translator: str = "google"
    fallbacks: list[str] = ["mymemory"]
    # Per-language override, e.g. CONCORD_TRANSLATOR_BY_LANGUAGE='{"hmn": "microsoft"}'
    translator_by_language: dict[str, str] = {}
    deepl_api_key: SecretStr | None = None
    deepl_free: bool = True
    microsoft_api_key: SecretStr | None = None
    microsoft_region: str | None = None
    libre_url: str | None = None
    libre_api_key: SecretStr | None = None
    mymemory_email: str | None = None
    # Where each service is reached (https; plain http only for loopback, and for libre also a private network).
    google_url: str = "https://translate.google.com"
    deepl_url: str | None = None  # default: api-free.deepl.com or api.deepl.com, from deepl_free
    microsoft_url: str = "https://api.cognitive.microsofttranslator.com"
    mymemory_url: str = "https://api.mymemory.translated.net"

    # Cap on one backend call, in seconds; the call's real budget is also < deadline / (tries + fallbacks),
    # so the fallback is always asked in time.
    translate_timeout: float = Field(default=8.0, gt=0, le=120)
    # Longest a message waits for its translation (retries and fallbacks included) before the original is
    # delivered, marked; the translation is edited in when a retry succeeds.
    translate_deadline: float = Field(default=15.0, gt=0, le=600)
    translate_retries: int = Field(default=2, ge=0, le=10)  # extra tries on 429 / 5xx / timeouts before falling back
    translate_workers: int = Field(default=64, ge=1, le=512)  # concurrent calls per backend (threads grow as needed)
    breaker_failures: int = Field(default=5, ge=1, le=1000)  # consecutive failures that open a backend's circuit
    breaker_cooldown: float = Field(default=30.0, gt=0, le=3600)  # seconds a backend is skipped before a probe
    # Client-side calls per second per backend (token bucket; a backend not listed is not limited). The free
    # Google endpoint blocks an address for hours after bursts; ~5/s is the rate its users report as safe.
    rate_limits: dict[str, float] = {"google": 5.0, "mymemory": 2.0, "deepl": 10.0, "microsoft": 10.0}
    rate_burst: float = Field(default=2.5, gt=0, le=60)  # seconds of calls a bucket holds (google: 12.5 calls)
    retry_share: float = Field(default=0.25, gt=0, le=1)  # share of slots and rate for retries of untranslated
    keep_days: float = 30.0  # meeting text (for edits, retries, corrections) is forgotten after this many days
    retry_untranslated_every: float = 30.0  # seconds between retries of messages delivered untranslated

    volunteer_role: str = "Volunteer"  # may change glossary terms (members with Manage Server may too)
    test_guild_id: int | None = None  # sync slash commands to this guild only (instant) instead of globally
    log_level: str = "INFO"

    @field_validator("translator")
    @classmethod
    def _known_backend(cls, value: str) -> str:
        if value not in BACKENDS:
            raise ValueError(f"unknown translator '{value}', choose one of {', '.join(BACKENDS)}")
        return value

    @field_validator("rate_limits")
    @classmethod
    def _positive_rates(cls, value: dict[str, float]) -> dict[str, float]:
        for name, rate in value.items():
            cls._known_backend(name)
            if not 0 < rate <= 10_000:
                raise ValueError(f"rate for {name} must be above 0 and at most 10000 calls per second")
        return value

    @field_validator("google_url", "deepl_url", "microsoft_url", "mymemory_url", "libre_url")
    @classmethod
    def _encrypted(cls, value: str | None, info: ValidationInfo) -> str | None:
        if value is not None and not transport_is_private(value, lan=info.field_name == "libre_url"):
            raise ValueError("must start with https:// (meeting text must not cross a network unencrypted)")
        return value

    @field_validator("fallbacks")
    @classmethod
    def _known_backends(cls, value: list[str]) -> list[str]:
        for name in value:
            cls._known_backend(name)
        return value
