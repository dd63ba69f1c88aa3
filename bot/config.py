"""Settings from the environment or `.env`. Secrets are SecretStr so they never print."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

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

    # Glossary: "repair" translates the message as it is and replaces only the terms the engine got wrong, at
    # their place; "protect" sends terms as placeholders first (README, "Glossaries", has the measured figures).
    glossary_strategy: Literal["repair", "protect"] = "repair"
    # A meeting's acronyms are expanded again ("Programa de Educación Individualizada (IEP...)") after this
    # many hours without a message.
    glossary_session_gap_hours: float = Field(default=6.0, gt=0, le=24 * 30)
    # Largest glossary file `/glossary import` and `python -m bot glossary import` take, per file.
    glossary_import_max_kb: int = Field(default=1024, ge=1, le=100 * 1024)

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
