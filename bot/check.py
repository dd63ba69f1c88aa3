"""`python -m bot check`: is this install ready? Settings, database, seed glossaries, backends, Discord.

Changes nothing: the database is only read (a missing one is only checked for being creatable), the seed
glossaries are loaded into a throwaway in-memory store, and each backend gets one short test call. The
Discord part (bot.discord.probe) runs when a token is set. Every problem comes with what to do.
"""

from __future__ import annotations

import asyncio
import json
import threading
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any

from bot import config, languages
from bot.config import Settings, env_name
from bot.glossary import Glossary, GlossaryError
from bot.store import MIGRATIONS, Store, UnusableDatabase, inspect
from bot.translation import build_backend, classify, source_code

PROBE_TEXT = "Good evening, families. The meeting starts at six."
PROBE_LIMIT = 15.0  # seconds at most for one test call, whatever CONCORD_TRANSLATE_TIMEOUT says


@dataclass(frozen=True)
class Finding:
    status: str  # "ok" | "warn" | "fail"
    subject: str
    detail: str
    fix: str | None = None


@dataclass
class Report:
    settings: list[tuple[str, str, bool]]  # (variable, value shown, is the default)
    findings: list[Finding] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return all(f.status != "fail" for f in self.findings)

    def to_fix(self) -> list[str]:
        return [f"{f.subject}: {f.fix or f.detail}" for f in self.findings if f.status == "fail"] + [
            f"{f.subject}: {f.fix}" for f in self.findings if f.status == "warn" and f.fix
        ]

    def render(self) -> str:
        width = max(len(name) for name, _, _ in self.settings)
        out = ["Settings (from the environment and .env; secrets hidden)"]
        out += [f"  {name:<{width}}  {value}" + ("  (default)" * default) for name, value, default in self.settings]
        out.append("\nChecks")
        subject = max((len(f.subject) for f in self.findings), default=0)
        for f in self.findings:
            out.append(
                f"  {f.status.upper() if f.status == 'fail' else f.status:<5} {f.subject:<{subject}}  {f.detail}"
            )
        fixes = self.to_fix()
        if fixes:
            out.append("\nWhat to fix")
            out += [f"  {n}. {line}" for n, line in enumerate(fixes, start=1)]
        failures = sum(f.status == "fail" for f in self.findings)
        out.append(
            f"\n{failures} problem(s) to fix before `python -m bot run`."
            if failures
            else "\nAll well" + (" (see the warnings above)." if fixes else ".")
        )
        return "\n".join(out)

    def render_json(self) -> str:
        return json.dumps(
            {
                "ok": self.ok,
                "settings": {name: {"value": value, "default": default} for name, value, default in self.settings},
                "checks": [asdict(f) for f in self.findings],
                "fix": self.to_fix(),
            },
            ensure_ascii=False,
        )


def effective(settings: Settings) -> list[tuple[str, str, bool]]:
    """Every setting as the deployer names it, its value (secrets hidden) and whether it is the default."""
    rows = []
    for name in Settings.model_fields:
        value = getattr(settings, name)
        if value is None:
            shown = "not set"
        elif hasattr(value, "get_secret_value"):
            shown = "set (hidden)"
        elif isinstance(value, list):
            shown = ",".join(value) or "(none)"
        elif isinstance(value, dict):
            shown = ",".join(f"{k}={v}" for k, v in value.items()) or "(none)"
        elif isinstance(value, bool):
            shown = str(value).lower()
        elif isinstance(value, float):
            shown = f"{value:g}"
        else:
            shown = str(value)
        rows.append((env_name(name), shown, name not in settings.model_fields_set))
    return rows


def _short(exc: BaseException) -> str:
    """A failed call in a few words."""
    text = str(classify(exc))
    return text if len(text) <= 200 else text[:197] + "..."


def _redact(text: str, settings: Settings) -> str:
    """Error texts can carry a request URL with a key in it: never print a secret."""
    for name in Settings.model_fields:
        value = getattr(settings, name)
        if hasattr(value, "get_secret_value") and value.get_secret_value():
            text = text.replace(value.get_secret_value(), "***")
    return text


# --- the parts -------------------------------------------------------------------------------------


def check_database(settings: Settings) -> list[Finding]:
    path = settings.database
    subject = "database"
    try:
        info = inspect(path)
    except UnusableDatabase as exc:
        return [Finding("fail", subject, f"{path}: {exc}", f"set {env_name('database')} to a file Concord can use")]
    where = str(path.absolute())
    if not info.exists:
        return [Finding("ok", subject, f"{where}: will be created at first start (owner-only, 0600)")]
    schema = f"schema {info.schema} of {len(MIGRATIONS)}" + (
        " (upgraded at next start)" if info.schema < len(MIGRATIONS) else ""
    )
    found = [Finding("ok", subject, f"{where}: {schema}, {info.meetings} meeting(s), {info.channels} channel(s)")]
    if info.readable_by_others:
        found.append(
            Finding(
                "warn",
                subject,
                f"other users can read parents' messages: {', '.join(info.readable_by_others)}",
                f"chmod 600 {where}* (Concord also does it at its next start)",
            )
        )
    return found


async def check_seed(settings: Settings) -> Finding:
    folder = settings.glossary_dir
    subject = "seed glossaries"
    fix = f"set {env_name('glossary_dir')} to the glossaries/ folder of Concord's source"
    if not (folder / "concepts.csv").is_file():
        what = "has no concepts.csv" if folder.is_dir() else "does not exist"
        return Finding("warn", subject, f"{folder} {what}: a new database starts with an empty glossary", fix)
    async with await Store.open(":memory:") as scratch:  # load as a first start would, and throw it away
        try:
            summary = await Glossary(scratch).seed(folder)
        except GlossaryError as exc:
            return Finding("fail", subject, f"{folder}: {exc}", "fix that file, or check it with `glossary lint`")
    if summary is None:
        return Finding("warn", subject, f"{folder}: nothing to load", fix)
    return Finding("ok", subject, f"{folder}: {summary.added} entries in {len(summary.files)} files, all readable")


def _probe_language(settings: Settings, backend: str) -> languages.Language:
    """A language to test `backend` with: one the deployer routes to it, else Spanish."""
    for code, name in settings.translator_by_language.items():
        lang = languages.for_translation(languages.LANGUAGES[code])
        if name == backend and lang.supports(backend):
            return lang
    return languages.LANGUAGES["es"]


def _in_daemon_thread(call: Callable[[], str], timeout: float) -> str:
    """Run a blocking call; give up after `timeout` without keeping the process alive for it."""
    result: dict[str, Any] = {}

    def target() -> None:
        try:
            result["value"] = call()
        except BaseException as exc:  # handed to the caller
            result["error"] = exc

    worker = threading.Thread(target=target, daemon=True, name="check-translator")
    worker.start()
    worker.join(timeout)
    if worker.is_alive():
        raise TimeoutError(f"no answer within {timeout:g} s")
    if "error" in result:
        raise result["error"]
    return result["value"]


async def check_backend(settings: Settings, name: str) -> Finding:
    subject = f"translator {name}"
    if (missing := settings.unconfigured(name)) is not None:
        fix = f"set {missing.split()[0]}, or remove {name} from {_naming(settings, name)}"
        return Finding("fail", subject, missing, fix)
    backend = build_backend(name, settings)
    assert backend is not None  # configured, so it builds
    target = _probe_language(settings, name)
    source, code = source_code(backend.kind, languages.LANGUAGES["en"]), target.codes[backend.kind]

    def call() -> str:
        translator = backend.factory()
        translator.source, translator.target = source, code
        return translator.translate(PROBE_TEXT)

    timeout = min(settings.translate_timeout, PROBE_LIMIT)
    started = time.perf_counter()
    try:
        answer = await asyncio.to_thread(_in_daemon_thread, call, timeout)
    except TimeoutError as exc:
        return Finding("fail", subject, str(exc), f"check that {name} is reachable from this machine")
    except Exception as exc:
        reason = _redact(_short(exc), settings)
        return Finding("fail", subject, f"test call failed: {reason}", _backend_fix(name))
    finally:
        backend.close()
    took = time.perf_counter() - started
    if not isinstance(answer, str) or not answer.strip() or answer.strip() == PROBE_TEXT:
        return Finding("fail", subject, f"answered {str(answer)[:60]!r}: not a translation", _backend_fix(name))
    shown = answer.strip().replace("\n", " ")
    return Finding("ok", subject, f"en→{target.code} in {took:.1f} s: {shown[:70]}")


def _naming(settings: Settings, backend: str) -> str:
    """The settings that name `backend`, as the deployer types them."""
    fields = ["translator"] if settings.translator == backend else []
    fields += ["fallbacks"] if backend in settings.fallbacks else []
    fields += ["translator_by_language"] if backend in settings.translator_by_language.values() else []
    return " and ".join(env_name(f) for f in fields)


def _backend_fix(name: str) -> str:
    needs = config.BACKEND_NEEDS.get(name)
    if needs:
        return f"check {env_name(needs)}" + (" and its key" if name == "libre" else "")
    return f"check that {name} is reachable from this machine, or choose another backend"


async def run(settings: Settings, warnings: list[str], *, discord: bool = True) -> Report:
    report = Report(effective(settings))
    report.findings += [Finding("warn", "setting", w) for w in warnings]
    report.findings += await asyncio.to_thread(check_database, settings)
    report.findings.append(await check_seed(settings))
    report.findings += await asyncio.gather(*(check_backend(settings, n) for n in settings.backend_names()))
    if not discord:
        return report
    if settings.discord_token is None:
        report.findings.append(
            Finding(
                "fail",
                "Discord",
                f"{env_name('discord_token')} is not set, so `run` cannot start",
                "put the bot token in .env as DISCORD_TOKEN=... (README, 'Discord setup')",
            )
        )
        return report
    from bot.discord.probe import probe_discord  # imports discord only here

    report.findings += await probe_discord(settings)
    return report
