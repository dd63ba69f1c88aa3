"""Settings from the environment or `.env`. Secrets are SecretStr so they never print."""

from __future__ import annotations

from pathlib import Path

from pydantic import AliasChoices, Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from bot.languages import BACKENDS


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

    translate_timeout: float = 8.0  # hard deadline for one backend call, in seconds
    # Longest a message waits for its translation (retries and fallbacks included) before the original is
    # delivered, marked; the translation is edited in when a retry succeeds.
    translate_deadline: float = 15.0
    translate_retries: int = 2  # extra tries on 429 / 5xx / timeouts before falling back
    translate_workers: int = 16  # threads per backend (deep-translator is synchronous)
    keep_days: float = 30.0  # meeting text (for edits, retries, corrections) is forgotten after this many days
    retry_untranslated_every: float = 30.0  # seconds between retries of messages delivered untranslated

    # Delivery. After a restart or a new gateway session, each linked channel's last `catchup_hours` (at most
    # `catchup_messages` messages) are read, and what was missed is relayed in order.
    catchup_hours: float = Field(default=2.0, ge=0, le=48)
    catchup_messages: int = Field(default=500, ge=0, le=5000)
    delivery_hold: float = Field(default=120.0, ge=0, le=3600)  # seconds a failing post holds those behind it
    shutdown_grace: float = Field(default=8.0, ge=0, le=300)  # seconds SIGTERM waits for deliveries in flight
    discord_timeout: float = Field(default=10.0, ge=1, le=120)  # seconds one Discord call may take
    # TESTING ONLY: a Discord-compatible server instead of discord.com, e.g. http://127.0.0.1:PORT/api/v10
    # (the loopback server of bot/testing). Never set it in production; the bot warns when it is set.
    discord_api_base: str | None = None

    volunteer_role: str = "Volunteer"  # may change glossary terms (members with Manage Server may too)
    test_guild_id: int | None = None  # sync slash commands to this guild only (instant) instead of globally
    log_level: str = "INFO"

    @field_validator("translator")
    @classmethod
    def _known_backend(cls, value: str) -> str:
        if value not in BACKENDS:
            raise ValueError(f"unknown translator '{value}', choose one of {', '.join(BACKENDS)}")
        return value

    @field_validator("fallbacks")
    @classmethod
    def _known_backends(cls, value: list[str]) -> list[str]:
        for name in value:
            cls._known_backend(name)
        return value
