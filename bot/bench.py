"""`python -m bot bench`: how long a parent waits, measured through the real relay path.

One run sends a meeting's worth of messages (facilitator lines in English, parent replies from the language
channels, some phrases repeated) at a fixed rate into the real `RelayEngine`, with the real translation chain
(deep-translator's `LibreTranslator` against the LibreTranslate-compatible `bot.testing.libre`, with latency and
jitter) with its glossary layer holding `--glossary-terms` approved terms per language (matchers are built,
and timed, before the clock starts), a real SQLite store in a temporary directory, and `DiscordModelSink`, an
in-memory sink that models Discord: a fixed post latency and, when asked, Discord's per-webhook rate limit.

For each source message: t0 is when it is handed to `engine.handle_message`, t1 when the last language channel
has it (the engine's `on_delivered`). `e2e = t1 - t0`. The floor for one message is, over its target channels,
the largest `backend_ms` (as the chain saw it) + post latency (+ the rate-limit wait Discord imposed on that
post); `overhead = e2e - floor` is what Concord itself adds.

A second, shorter run replays the first K messages of the same workload at the same rate with fan-out 1 (one
translation at a time, the peers' design), on a fresh store and a fresh cache, and is compared with the same K
messages of the main run.

Rate limit model (`--channel-limit`): Discord allows about 5 webhook executions per 2 s per webhook, and
Concord uses one webhook per channel, so a channel takes at most ~2.5 posts/s sustained (Discord also applies
an undocumented ~30 per minute per channel to webhooks). discord.py does not drop a throttled request: it
reads the rate-limit headers and sleeps until the bucket resets, then sends. The model does the same: a token
bucket per channel (burst N, refill N/S per second); a post that finds it empty waits for the next token. It
is off by default, because at the default 5 messages/s every channel receives ~5 posts/s, twice what one
webhook may carry: with the limit on, the run measures Discord's backlog, not Concord. Pass
`--channel-limit 5/2` with `--rate 2` (or lower) to see a meeting Discord can carry.
"""

from __future__ import annotations

import asyncio
import logging
import math
import os
import random
import resource
import socket
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from bot import languages
from bot.config import Settings
from bot.glossary import Glossary, freeze_loaded
from bot.languages import Language
from bot.relay import Incoming, RelayEngine
from bot.sinks import MemorySink, Outgoing
from bot.store import Store
from bot.translation import Stats, Translation, TranslationService, build_translator

log = logging.getLogger(__name__)

MAIN_CHANNEL = 5000
# Languages in the order a California district most often needs them; all have a LibreTranslate code.
LANGUAGE_ORDER = ["es", "vi", "zh-TW", "ko", "tl", "ar", "fa", "ru", "zh-CN", "ja", "pt", "uk",
                  "hi", "ur", "bn", "fr"]  # fmt: skip
SEQUENTIAL_BUDGET_S = 25.0  # the sequential slice is sized to take about this long


# --- settings ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class BenchConfig:
    languages: int = 12  # language channels besides the English main channel
    messages: int = 200
    rate: float = 5.0  # source messages per second, main channel and parent replies together
    latency_ms: float = 150.0  # backend latency (local server)
    jitter_ms: float = 30.0  # plus uniform(0, jitter) per call
    sink_latency_ms: float = 40.0  # one Discord post
    channel_limit: tuple[int, float] | None = None  # (posts, per seconds) per channel, e.g. (5, 2.0)
    glossary_terms: int = 5000  # approved terms per language (the memory target)
    parent_share: float = 0.2  # fraction of messages written by parents in their language channel
    repeat_share: float = 0.2  # fraction of facilitator lines that are stock phrases ("Any questions?")
    sequential_messages: int | None = None  # None: sized to take about SEQUENTIAL_BUDGET_S
    translator: str = "local"  # "local" (the test server) or one of bot.languages.BACKENDS
    libre_url: str | None = None  # with translator="libre": the deployer's own server
    seed: int = 7


# --- workload ----------------------------------------------------------------------------------------

STOCK_PHRASES = [
    "Any questions?",
    "Next slide please.",
    "Thank you all for coming.",
    "Please write your questions in your channel.",
    "Let's take a short break.",
]
TOPICS = ["the LCAP budget", "the ELPAC results", "the reclassification criteria", "the school site council",
          "the after-school tutoring", "the parent English classes", "the IEP meetings", "the Title III funds",
          "the bus schedule", "the summer program", "the report cards", "the parent-teacher conferences"]  # fmt: skip
WHEN = ["on Monday", "next week", "in March", "after winter break", "at 6 pm", "before the end of the year"]
FACILITATOR_TEMPLATES = [
    "Next, we will talk about {topic}; the details will be shared {when}.",
    "The district will send more information about {topic} {when}, in every language.",
    "If you have questions about {topic}, please ask Mr. Davis {when}.",
    "We voted on {topic} last month, and the result is {n} votes in favor.",
    "About {topic}: {n} families signed up so far, and there is still room {when}.",
]
PARENT_LINES = {
    "es": ["¿Cuándo recibiremos los resultados?", "Gracias.", "¿Hay clases para padres también?"],
    "vi": ["Khi nào có kết quả?", "Cảm ơn cô.", "Con tôi cần giúp đỡ về IEP."],
    "zh-TW": ["我的孩子需要學分補修嗎?", "謝謝。", "會議什麼時候結束?"],
    "zh-CN": ["我的孩子需要补课吗?", "谢谢。", "会议什么时候结束?"],
    "ko": ["결과는 언제 받을 수 있나요?", "감사합니다.", "통역이 있나요?"],
    "tl": ["Kailan darating ang resulta?", "Salamat po.", "May klase ba para sa mga magulang?"],
    "ar": ["متى تصل النتائج؟", "شكرا.", "هل توجد دروس للآباء؟"],
    "ru": ["Когда будут результаты?", "Спасибо.", "Есть ли занятия для родителей?"],
}
GENERIC_PARENT_LINES = ["When will the results arrive?", "Thank you.", "Is there a class for parents?"]


@dataclass(frozen=True)
class Planned:
    message_id: int
    channel_id: int
    language: str
    author: str
    text: str
    reply_to: int | None = None
    at: float | None = None  # seconds after the start; None: index / rate
    meeting: int = 0  # index into the run's meetings


def pick_languages(count: int) -> list[Language]:
    if not 1 <= count <= len(LANGUAGE_ORDER):
        raise ValueError(f"--languages must be between 1 and {len(LANGUAGE_ORDER)}")
    return [languages.get(code) for code in LANGUAGE_ORDER[:count]]


def channel_map(langs: list[Language]) -> dict[int, Language]:
    channels = {MAIN_CHANNEL: languages.LANGUAGES["en"]}
    channels.update({MAIN_CHANNEL + i: lang for i, lang in enumerate(langs, start=1)})
    return channels


def workload(cfg: BenchConfig, channels: dict[int, Language]) -> list[Planned]:
    """A deterministic meeting: facilitator lines (some stock phrases), parent replies, answers as replies."""
    rng = random.Random(cfg.seed)
    language_channels = [cid for cid in channels if cid != MAIN_CHANNEL]
    plan: list[Planned] = []
    last_parent: int | None = None
    for index in range(cfg.messages):
        message_id = 1_000_000 + index
        if index > 0 and rng.random() < cfg.parent_share:
            channel_id = rng.choice(language_channels)
            code = channels[channel_id].code
            text = rng.choice(PARENT_LINES.get(code, GENERIC_PARENT_LINES))
            plan.append(Planned(message_id, channel_id, code, f"Parent {index % 7}", text))
            last_parent = message_id
            continue
        if rng.random() < cfg.repeat_share:
            text = rng.choice(STOCK_PHRASES)
        else:
            template = rng.choice(FACILITATOR_TEMPLATES)
            text = template.format(topic=rng.choice(TOPICS), when=rng.choice(WHEN), n=index)
        reply_to, last_parent = last_parent, None  # the facilitator answers the last parent's question
        plan.append(Planned(message_id, MAIN_CHANNEL, "en", "Carmen", text, reply_to))
    return plan


def translation_pairs(plan: list[Planned], channels: dict[int, Language]) -> set[tuple[str, str, str]]:
    """Distinct (text, source, target) the backend must see at least once; repeats should come from the cache."""
    pairs = set()
    for message in plan:
        source = languages.for_translation(languages.get(message.language))
        for channel_id, lang in channels.items():
            target = languages.for_translation(lang)
            if channel_id != message.channel_id and target.code != source.code:
                pairs.add((message.text, source.code, target.code))
    return pairs


# --- Discord model -----------------------------------------------------------------------------------


@dataclass
class DiscordModelSink(MemorySink):
    """A MemorySink with Discord's post latency and, optionally, its per-webhook rate limit.

    `limit` = (posts, seconds): a token bucket per channel holding `posts` tokens, refilled at posts/seconds
    per second. Like discord.py, a request that finds the bucket empty waits for the reset; nothing is dropped.
    """

    limit: tuple[int, float] | None = None
    throttled: int = 0
    throttle_wait: float = 0.0
    last_wait: dict[int, float] = field(default_factory=dict)  # channel -> rate-limit wait of its latest call
    _buckets: dict[int, tuple[float, float]] = field(default_factory=dict)  # channel -> (tokens, at)

    async def _acquire(self, channel_id: int) -> float:
        if not self.limit:
            return 0.0
        capacity, per = self.limit
        refill = capacity / per
        now = time.perf_counter()
        tokens, at = self._buckets.get(channel_id, (float(capacity), now))
        tokens = min(float(capacity), tokens + (now - at) * refill) - 1  # reserve a token (may go negative)
        self._buckets[channel_id] = (tokens, now)
        if tokens >= 0:
            return 0.0
        wait = -tokens / refill
        self.throttled += 1
        self.throttle_wait += wait
        await asyncio.sleep(wait)
        return wait

    async def post(self, channel_id: int, message: Outgoing) -> int:
        self.last_wait[channel_id] = await self._acquire(channel_id)
        return await super().post(channel_id, message)

    async def edit(self, channel_id: int, message_id: int, message: Outgoing) -> None:
        self.last_wait[channel_id] = await self._acquire(channel_id)
        await super().edit(channel_id, message_id, message)

    async def delete(self, channel_id: int, message_id: int) -> None:
        self.last_wait[channel_id] = await self._acquire(channel_id)
        await super().delete(channel_id, message_id)


# --- one run -----------------------------------------------------------------------------------------


@dataclass
class RunResult:
    e2e_ms: dict[int, float]  # source message id -> e2e, for messages delivered everywhere
    floor_ms: dict[int, float]  # source message id -> backend + sink of its slowest target
    ordered_floor_ms: dict[int, float]  # the same for an ideal relay that keeps order per channel
    backend_ms: list[float]  # backend service time reported by the server, per call that reached it
    wait_ms: list[float]  # the same calls as the chain saw them: service + queueing inside Concord
    expected: int
    deliveries: int
    lost: int
    duplicated: int
    order_violations: int
    untranslated: int
    elapsed_s: float
    stats: Stats
    throttled: int
    throttle_wait_s: float
    glossary: dict[str, Any]
    sent_at: dict[int, float] = field(default_factory=dict)  # source id -> seconds after the start
    fallback: int = 0  # deliveries translated by a backend other than the first choice
    occupancy: list[float] = field(default_factory=list)  # sampled share of backend slots in use
    slots: int = 0
    marks: list[tuple[int, bool, bool]] = field(default_factory=list)  # (source, via a fallback, untranslated)
    open_s: dict[str, float] = field(default_factory=dict)  # seconds each backend's circuit was seen open


TranslatorFactory = Callable[[Store], TranslationService]


Event = tuple[float, Callable[[], Awaitable[None]]]  # (seconds after the start, what happens then)


async def run_once(
    plan: list[Planned],
    channels: dict[int, Language] | list[dict[int, Language]],
    make_translator: TranslatorFactory,
    cfg: BenchConfig,
    database: Path,
    *,
    fan_out: int | None,
    drain_timeout: float,
    progress: Callable[[str], None] | None = None,
    events: list[Event] = (),  # type: ignore[assignment]
    rate: float | None = None,
) -> RunResult:
    """Send `plan` (at each message's `at`, or at `rate`) into one or more meetings through a fresh store,
    translator and sink; account for every delivery."""
    meetings = channels if isinstance(channels, list) else [channels]
    rate = rate or cfg.rate
    store = await Store.open(database)
    translator = make_translator(store)
    sink = DiscordModelSink(latency=cfg.sink_latency_ms / 1000, limit=cfg.channel_limit)
    engine = RelayEngine(store, translator, sink, retry_every=0, fan_out=fan_out)
    sent_at: dict[int, float] = {}
    remaining: dict[int, int] = {}
    log_: list[tuple[int, int, float, float]] = []  # (source, channel, service ms, rate-limit wait ms)
    done_at: dict[int, float] = {}
    seen: Counter[tuple[int, int]] = Counter()
    last_in_channel: dict[int, int] = {}
    backend_ms: list[float] = []
    wait_ms: list[float] = []
    occupancy: list[float] = []
    marks: list[tuple[int, bool, bool]] = []
    open_s: Counter[str] = Counter()
    counts: Counter[str] = Counter()

    def on_delivered(source_id: int, channel_id: int, translation: Translation) -> None:
        now = time.perf_counter()
        seen[(source_id, channel_id)] += 1
        if seen[(source_id, channel_id)] > 1:
            counts["duplicated"] += 1
            return
        counts["deliveries"] += 1
        if not translation.ok and not translation.unsupported:
            counts["untranslated"] += 1
        counts["fallback"] += translation.fallback and translation.ok
        marks.append(
            (source_id, translation.fallback and translation.ok, not translation.ok and not translation.unsupported)
        )
        if last_in_channel.get(channel_id, -1) > source_id:
            counts["order"] += 1  # a later message reached this channel first
        last_in_channel[channel_id] = max(source_id, last_in_channel.get(channel_id, -1))
        service = translation.service_ms or 0.0
        if translation.service_ms is not None and not translation.cached:
            backend_ms.append(translation.service_ms)
            wait_ms.append(translation.backend_ms)
        log_.append((source_id, channel_id, service, sink.last_wait.get(channel_id, 0.0) * 1000))
        remaining[source_id] -= 1
        if remaining[source_id] == 0:
            done_at[source_id] = now

    async def sample_occupancy() -> None:
        while True:
            health = translator.health()
            occupancy.append(sum(h.in_flight for h in health) / max(1, sum(h.slots for h in health)))
            for h in health:
                open_s[h.name] += 0.1 if h.state == "open" else 0.0
            await asyncio.sleep(0.1)

    engine.on_delivered = on_delivered
    glossary: dict[str, Any] = {}
    sampler: asyncio.Task[None] | None = None
    try:
        if cfg.glossary_terms:
            every = {lang.code: lang for chans in meetings for lang in chans.values() if lang.code != "en"}
            langs = list(every.values())
            if progress:
                progress(f"glossary: {cfg.glossary_terms} terms x {len(langs)} languages")
            glossary = await prepare_glossary(translator, store, cfg, langs)
            # Build every language pair's matcher before the clock starts (timed: what matching costs).
            union = {cid: lang for chans in meetings for cid, lang in chans.items()}
            glossary.update(await time_matching(translator.glossary, plan, union, meetings))
            freeze_loaded()  # as the bot does once its glossary is warm
        targets: dict[int, int] = {}
        for index, chans in enumerate(meetings):
            meeting = await store.create_meeting(guild_id=0, name=f"bench {index}")
            for channel_id, lang in chans.items():
                await store.link_channel(channel_id, meeting.id, lang.code)
            targets[index] = len(chans) - 1
        await engine.start()
        sampler = asyncio.create_task(sample_occupancy())
        started = time.perf_counter()
        pending_events = sorted(events, key=lambda e: e[0])
        for index, message in enumerate(plan):
            at = message.at if message.at is not None else index / rate
            while pending_events and pending_events[0][0] <= at:
                when, action = pending_events.pop(0)
                await asyncio.sleep(max(0.0, started + when - time.perf_counter()))
                await action()
            delay = started + at - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            remaining[message.message_id] = targets[message.meeting]
            sent_at[message.message_id] = time.perf_counter()
            incoming = Incoming(
                message.message_id,
                message.channel_id,
                author_id=hash(message.author) & 0xFFFF,
                author_name=message.author,
                content=message.text,
                reply_to=message.reply_to,
            )
            if not await engine.handle_message(incoming):
                raise RuntimeError(f"the engine refused bench message {message.message_id}")
        try:
            await asyncio.wait_for(engine.drain(), drain_timeout)
        except TimeoutError:
            log.warning("deliveries still pending after %.0f s; counting them as lost", drain_timeout)
        ended = max(done_at.values(), default=time.perf_counter())
    finally:
        if sampler is not None:
            sampler.cancel()
        await engine.close()
        translator.close()
        await store.close()
    expected = sum(targets.get(m.meeting, 0) for m in plan)
    posts = Counter(p.channel_id for p in sink.messages.values())
    duplicated = max(counts["duplicated"], sum(posts.values()) - counts["deliveries"])
    floor, ordered = floors(log_, sent_at, cfg.sink_latency_ms)
    return RunResult(
        e2e_ms={mid: (done_at[mid] - sent_at[mid]) * 1000 for mid in done_at},
        floor_ms={mid: floor[mid] for mid in done_at},
        ordered_floor_ms={mid: ordered[mid] for mid in done_at},
        backend_ms=backend_ms,
        wait_ms=wait_ms,
        expected=expected,
        deliveries=counts["deliveries"],
        lost=expected - counts["deliveries"],
        duplicated=duplicated,
        order_violations=counts["order"],
        untranslated=counts["untranslated"],
        elapsed_s=ended - started,
        stats=translator.stats,
        throttled=sink.throttled,
        throttle_wait_s=sink.throttle_wait,
        glossary=glossary,
        sent_at={mid: t - started for mid, t in sent_at.items()},
        fallback=counts["fallback"],
        occupancy=occupancy,
        slots=sum(h.slots for h in translator.health()),
        marks=marks,
        open_s={name: round(v, 1) for name, v in open_s.items()},
    )


def floors(
    deliveries: list[tuple[int, int, float, float]], sent_at: dict[int, float], post_ms: float
) -> tuple[dict[int, float], dict[int, float]]:
    """Per source message, the least e2e any relay could reach given the backend and Discord times measured:

    - plain: the slowest target's backend + post (+ rate-limit wait), the issue's `backend + sink latency`;
    - ordered: an ideal relay that keeps order per channel cannot post a message before the previous one in
      that channel is posted, so a cache hit right behind a message still translating waits for it.
    """
    plain: dict[int, float] = {}
    ordered: dict[int, float] = {}
    by_channel: dict[int, list[tuple[int, float, float]]] = {}
    for source_id, channel_id, backend, wait in deliveries:
        plain[source_id] = max(plain.get(source_id, 0.0), backend + wait + post_ms)
        by_channel.setdefault(channel_id, []).append((source_id, backend, wait))
    for rows in by_channel.values():
        previous_done = -math.inf
        for source_id, backend, wait in sorted(rows):
            sent = sent_at[source_id] * 1000
            done = max(sent + backend, previous_done) + wait + post_ms
            ordered[source_id] = max(ordered.get(source_id, 0.0), done - sent)
            previous_done = done
    return plain, ordered


# --- the backend -------------------------------------------------------------------------------------


class ServerProcess:
    """A loopback backend (`bot.testing.backends`) in its own process: a real backend is elsewhere, so it must
    not share our GIL. `kind`: libre, google, deepl, microsoft or mymemory."""

    def __init__(self, latency_ms: float, jitter_ms: float, kind: str = "libre") -> None:
        self.latency_ms, self.jitter_ms, self.kind = latency_ms, jitter_ms, kind
        self.proc: subprocess.Popen[str] | None = None
        self.url = ""

    def start(self) -> ServerProcess:
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            port = probe.getsockname()[1]
        root = str(Path(__file__).resolve().parent.parent)
        env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [root, os.environ.get("PYTHONPATH")]))}
        self._errors = tempfile.TemporaryFile(mode="w+")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "bot.testing.backends", "--kind", self.kind, "--port", str(port),
             "--latency-ms", str(self.latency_ms), "--jitter-ms", str(self.jitter_ms)],
            stdout=subprocess.PIPE, stderr=self._errors, text=True, env=env,
        )  # fmt: skip
        assert self.proc.stdout is not None
        if "test server on" not in self.proc.stdout.readline():  # printed once it listens
            self.stop()
            self._errors.seek(0)
            raise RuntimeError(f"the local translation server did not start: {self._errors.read()[-2000:]}")
        self.url = f"http://127.0.0.1:{port}/"
        return self

    def fault(self, kind: str, seconds: float) -> None:
        """Ask the server to misbehave (see FakeLibre's `/_fault`)."""
        import urllib.request

        request = urllib.request.Request(f"{self.url}_fault?kind={kind}&seconds={seconds:g}", method="POST")
        with urllib.request.urlopen(request, timeout=5) as answer:
            answer.read()

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        if self.proc is not None and self.proc.stdout:
            self.proc.stdout.close()
        self._errors.close()


# --- translators -------------------------------------------------------------------------------------


def local_translator(url: str, **settings: Any) -> TranslatorFactory:
    """The chain `build_translator` makes for libre (pool sizes, budgets, breaker as configured for the bot:
    environment / .env), against the local server, with a fresh cache each time."""
    configured = Settings(**{"translator": "libre", "libre_url": url, "fallbacks": [], **settings})

    def make(store: Store) -> TranslationService:
        return build_translator(configured, store)

    return make


def settings_translator(cfg: BenchConfig) -> TranslatorFactory:
    """A deployer's own backend, configured as the bot is (environment / .env), this backend only."""
    overrides: dict[str, Any] = {"translator": cfg.translator, "fallbacks": []}
    if cfg.libre_url:
        overrides["libre_url"] = cfg.libre_url
    settings = Settings(**overrides)

    def make(store: Store) -> TranslationService:
        return build_translator(settings, store, Glossary.configured(store, settings))

    return make


# --- the benchmark -----------------------------------------------------------------------------------


def pct(values: list[float], q: float) -> float | None:
    """The q-th percentile (0-100), nearest-rank on the sorted values; None when there are none."""
    if not values:
        return None
    ordered = sorted(values)
    rank = max(1, math.ceil(q / 100 * len(ordered)))
    return round(ordered[rank - 1], 1)


def sequential_rate(cfg: BenchConfig) -> float:
    """A rate the one-at-a-time design can carry (each message costs `languages` round trips), so its e2e
    is per message, not the length of a growing queue."""
    per_message_s = cfg.languages * (cfg.latency_ms + cfg.jitter_ms / 2 + 5) / 1000
    return min(cfg.rate, 1 / (1.25 * per_message_s))


def sequential_size(cfg: BenchConfig) -> int:
    if cfg.sequential_messages is not None:
        return max(1, min(cfg.messages, cfg.sequential_messages))
    if cfg.translator != "local":
        return min(cfg.messages, 10)
    return max(3, min(cfg.messages, int(SEQUENTIAL_BUDGET_S * sequential_rate(cfg))))


def peak_rss_mb() -> float:
    kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # kilobytes on Linux
    return round(kb / 1024, 1)


REAL_TERMS = ["LCAP", "ELPAC", "IEP", "school site council", "Title III", "reclassification", "report cards",
              "after-school tutoring", "parent-teacher conferences", "summer program"]  # fmt: skip
TERM_WORDS = (
    "academic adult advanced annual attendance basic bilingual budget career charter civic community core county "
    "credit daily digital district early english family federal general gifted health home honors language "
    "learning library local math meal middle music national night online parent physical primary public reading "
    "regional safety school science social special spring state student summer teacher technical transfer "
    "transition unified visual winter writing youth"
).split()
TERM_NOUNS = (
    "account agenda award board bus calendar campus center certificate class club coach committee conference "
    "council counselor course credit dashboard diploma exam fee form fund goal grade grant guide hearing hour "
    "index lab lesson list meeting mentor office officer panel pass permit plan policy portal program project "
    "review room rule schedule screening seminar service session standard survey team test track unit waiver"
).split()


def synthetic_terms(count: int) -> list[str]:
    """`count` distinct English glossary terms: the workload's real ones first, then generated phrases."""
    terms = dict.fromkeys(t.casefold() for t in REAL_TERMS[:count])
    out = REAL_TERMS[:count]
    index = 0
    while len(out) < count:
        adjective, noun = TERM_WORDS[index % len(TERM_WORDS)], TERM_NOUNS[(index // len(TERM_WORDS)) % len(TERM_NOUNS)]
        round_ = index // (len(TERM_WORDS) * len(TERM_NOUNS))
        term = f"{adjective} {noun}" + (f" {round_ + 1}" if round_ else "")
        index += 1
        if term.casefold() not in terms:
            terms[term.casefold()] = None
            out.append(term)
    return out


def glossary_file(terms: list[str], langs: list[Language]) -> bytes:
    """An 'equivalent term set' file (header of language codes), one row per term, every language rendered."""
    header = ["en", *(lang.code for lang in langs)]
    rows = [",".join(header)]
    for term in terms:
        rows.append(",".join([term, *(f"{term} · {lang.code}" for lang in langs)]))
    return ("\n".join(rows) + "\n").encode()


async def prepare_glossary(
    translator: TranslationService, store: Store, cfg: BenchConfig, langs: list[Language]
) -> dict[str, Any]:
    """Load `cfg.glossary_terms` approved terms per language into the run's glossary (the chain's own,
    or a new one on the run's store when the chain was built without)."""
    if translator.glossary is None:
        translator.glossary = Glossary(store)
    started = time.perf_counter()
    data = glossary_file(synthetic_terms(cfg.glossary_terms), langs)
    await translator.glossary.import_file(data, by="bench", name="bench-terms.csv", status="approved")
    return {"load_s": round(time.perf_counter() - started, 2)}


async def time_matching(
    glossary: Any,
    plan: list[Planned],
    channels: dict[int, Language],
    meetings: list[dict[int, Language]] | None = None,
) -> dict[str, Any]:
    """Glossary matching per source message, summed over its target languages, on the workload's texts."""
    build_started = time.perf_counter()
    matchers = {}
    codes = {lang.code for lang in channels.values()}
    for source in codes:
        for target in codes - {source}:
            matchers[(source, target)] = await glossary.matcher(languages.get(source), languages.get(target))
    build_ms = (time.perf_counter() - build_started) * 1000
    per_message, hits = [], 0
    for message in plan:
        started = time.perf_counter()
        for channel_id, lang in (meetings[message.meeting] if meetings else channels).items():
            if channel_id != message.channel_id:
                hits += len(matchers[(message.language, lang.code)].find(message.text))
        per_message.append((time.perf_counter() - started) * 1000)
    return {
        "match_ms_per_message": {"mean": round(sum(per_message) / len(per_message), 3), "p95": pct3(per_message, 95)},
        "matcher_build_ms": round(build_ms, 1),
        "terms_matched": hits,
    }


def pct3(values: list[float], q: float) -> float | None:
    ordered = sorted(values)
    return round(ordered[max(1, math.ceil(q / 100 * len(ordered))) - 1], 3) if ordered else None


async def bench(cfg: BenchConfig, *, progress: Callable[[str], None] = lambda _: None) -> dict[str, Any]:
    """Run the main and the sequential run; return the report as a JSON-ready dict."""
    began = time.perf_counter()
    langs = pick_languages(cfg.languages)
    channels = channel_map(langs)
    plan = workload(cfg, channels)
    slice_size = sequential_size(cfg)
    pairs = translation_pairs(plan, channels)
    drain_timeout = 60.0 + cfg.messages * cfg.languages * 0.5
    server: ServerProcess | None = None
    try:
        if cfg.translator == "local":
            server = ServerProcess(cfg.latency_ms, cfg.jitter_ms).start()
            make = local_translator(server.url)
        else:
            make = settings_translator(cfg)
        with tempfile.TemporaryDirectory(prefix="concord-bench-") as tmp:
            progress(f"main run: {len(plan)} messages at {cfg.rate:g}/s into {len(langs)} language channels")
            main = await run_once(
                plan, channels, make, cfg, Path(tmp) / "main.db", fan_out=None, drain_timeout=drain_timeout,
                progress=progress,
            )  # fmt: skip
            seq_rate = sequential_rate(cfg)
            progress(
                f"sequential run (fan-out 1): first {slice_size} messages at {seq_rate:.2g}/s, fresh store and cache"
            )
            seq = await run_once(
                plan[:slice_size], channels, make, cfg, Path(tmp) / "sequential.db", fan_out=1,
                drain_timeout=drain_timeout, rate=seq_rate,
            )  # fmt: skip
    finally:
        if server is not None:
            server.stop()
    glossary: dict[str, Any] = {"terms_per_language": cfg.glossary_terms, **main.glossary}
    return build_report(cfg, plan, pairs, main, seq, slice_size, glossary, time.perf_counter() - began)


def build_report(
    cfg: BenchConfig,
    plan: list[Planned],
    pairs: set[tuple[str, str, str]],
    main: RunResult,
    seq: RunResult,
    slice_size: int,
    glossary: dict[str, Any],
    duration_s: float,
) -> dict[str, Any]:
    e2e = list(main.e2e_ms.values())
    overhead = [main.e2e_ms[m] - main.floor_ms[m] for m in main.e2e_ms]
    ordered_overhead = [main.e2e_ms[m] - main.ordered_floor_ms[m] for m in main.e2e_ms]
    slice_ids = {p.message_id for p in plan[:slice_size]}
    main_slice = [v for m, v in main.e2e_ms.items() if m in slice_ids]
    seq_e2e = list(seq.e2e_ms.values())
    seq_p95, slice_p95 = pct(seq_e2e, 95), pct(main_slice, 95)
    ratio = round(seq_p95 / slice_p95, 1) if seq_p95 and slice_p95 else None
    backend_p95 = pct(main.backend_ms, 95)
    settings = asdict(cfg)
    settings["channel_limit"] = f"{cfg.channel_limit[0]}/{cfg.channel_limit[1]:g}s" if cfg.channel_limit else "off"
    settings["parent_messages"] = sum(p.channel_id != MAIN_CHANNEL for p in plan)
    report: dict[str, Any] = {
        "settings": settings,
        "e2e_ms": {"p50": pct(e2e, 50), "p95": pct(e2e, 95), "p99": pct(e2e, 99), "max": pct(e2e, 100)},
        "backend_ms": {"p50": pct(main.backend_ms, 50), "p95": backend_p95, "measured": "at the server"},
        "backend_wait_ms": {"p50": pct(main.wait_ms, 50), "p95": pct(main.wait_ms, 95)},  # + queueing in Concord
        "floor_ms": round((backend_p95 or 0.0) + cfg.sink_latency_ms, 1),
        "sink_latency_ms": cfg.sink_latency_ms,
        "overhead_ms": {"p50": pct(overhead, 50), "p95": pct(overhead, 95), "max": pct(overhead, 100)},
        "overhead_vs_ordered_floor_ms": {
            "p50": pct(ordered_overhead, 50),
            "p95": pct(ordered_overhead, 95),
            "max": pct(ordered_overhead, 100),
        },
        "sequential_e2e_ms": {
            "p95": seq_p95,
            "p50": pct(seq_e2e, 50),
            "messages": slice_size,
            "rate_per_s": round(sequential_rate(cfg), 3),
            "note": f"fan-out 1 on the first {slice_size} messages, at a rate it can carry; compared with the "
            "same messages of the main run",
        },
        "parallel_same_messages_e2e_ms": {"p95": slice_p95},
        "sequential_ratio": ratio,
        "throughput_per_s": round(main.deliveries / main.elapsed_s, 1) if main.elapsed_s else None,
        "messages": len(plan),
        "expected_deliveries": main.expected,
        "deliveries": main.deliveries,
        "lost": main.lost,
        "duplicated": main.duplicated,
        "order_violations": main.order_violations,
        "untranslated": main.untranslated,
        "fallback_deliveries": main.fallback,
        "backend_calls": main.stats.calls,
        "backend_failures": main.stats.failures,
        "chars_sent": main.stats.chars,
        "cache_hits": main.stats.cache_hits,
        "distinct_translations": len(pairs),
        "resent": max(0, main.stats.calls - main.stats.failures - len(pairs)),
        "rate_limit": {
            "throttled_posts": main.throttled,
            "wait_s_total": round(main.throttle_wait_s, 1),
        },
        "peak_rss_mb": peak_rss_mb(),
        "glossary": glossary,
        "run_s": {"main": round(main.elapsed_s, 1), "total": round(duration_s, 1)},
    }
    floor = report["floor_ms"]
    report["targets"] = [
        target(
            "e2e p95 <= 1.25 x (backend p95 at the server + sink latency)", report["e2e_ms"]["p95"], 1.25 * floor, "ms"
        ),
        target(
            "overhead p95 <= 15 ms (counts waiting behind an earlier message in the same channel)",
            report["overhead_ms"]["p95"],
            15.0,
            "ms",
            informational=True,
        ),
        target(
            "overhead p95 <= 15 ms, vs a relay that keeps order",
            report["overhead_vs_ordered_floor_ms"]["p95"],
            15.0,
            "ms",
        ),
        target("sequential p95 / fan-out p95 >= 8", ratio, 8.0, "x", higher_is_better=True),
        target("lost + duplicated + order violations == 0", main.lost + main.duplicated + main.order_violations, 0, ""),
        target("peak RSS <= 150 MB", report["peak_rss_mb"], 150.0, "MB"),
        target("repeated phrases never re-sent", report["resent"], 0, ""),
    ]
    return report


def target(
    name: str,
    value: float | None,
    limit: float,
    unit: str,
    *,
    higher_is_better: bool = False,
    informational: bool = False,
) -> dict[str, Any]:
    """One line of the verdict. `informational`: shown PASS/MISS as "info" and never fails `--check`."""
    if value is None:
        verdict = "n/a"
    elif informational:
        verdict = "info"
    elif higher_is_better:
        verdict = "PASS" if value >= limit else "MISS"
    else:
        verdict = "PASS" if value <= limit else "MISS"
    return {"name": name, "value": value, "limit": round(limit, 1), "unit": unit, "result": verdict}


# --- output ------------------------------------------------------------------------------------------


def render(report: dict[str, Any]) -> str:
    s = report["settings"]
    source = "local LibreTranslate-compatible server" if s["translator"] == "local" else s["translator"]
    lines = [
        f"Concord bench: {report['messages']} messages ({s['parent_messages']} from parents) at {s['rate']:g}/s, "
        f"{s['languages']} language channels + main",
        f"translator: {source}"
        + (f", latency {s['latency_ms']:g} ms + jitter 0..{s['jitter_ms']:g} ms" if s["translator"] == "local" else "")
        + f"; sink: {s['sink_latency_ms']:g} ms per post, rate limit {s['channel_limit']}",
        "",
    ]

    def row(label: str, value: str) -> None:
        lines.append(f"  {label:<34} {value}")

    def trio(d: dict[str, Any], keys: tuple[str, ...]) -> str:
        return "  ".join(f"{k} {d[k]}" for k in keys if k in d)

    row("e2e ms", trio(report["e2e_ms"], ("p50", "p95", "p99", "max")))
    row("backend ms (service, at the server)", trio(report["backend_ms"], ("p50", "p95")))
    row("backend ms (as the chain saw it)", trio(report["backend_wait_ms"], ("p50", "p95")))
    row("overhead ms (e2e - backend - sink)", trio(report["overhead_ms"], ("p50", "p95", "max")))
    row("  vs an ideal order-keeping relay", trio(report["overhead_vs_ordered_floor_ms"], ("p50", "p95", "max")))
    seq = report["sequential_e2e_ms"]
    row(
        f"sequential e2e ms (first {seq['messages']})",
        f"p95 {seq['p95']} vs fan-out p95 {report['parallel_same_messages_e2e_ms']['p95']}"
        f"  ->  {report['sequential_ratio']}x",
    )
    row("throughput", f"{report['throughput_per_s']} deliveries/s")
    row(
        "deliveries",
        f"{report['deliveries']}/{report['expected_deliveries']}  lost {report['lost']}  duplicated "
        f"{report['duplicated']}  order violations {report['order_violations']}  untranslated "
        f"{report['untranslated']}",
    )
    row(
        "backend",
        f"{report['backend_calls']} calls, {report['chars_sent']} chars, {report['cache_hits']} cache hits, "
        f"{report['distinct_translations']} distinct translations, {report['resent']} re-sent",
    )
    rl = report["rate_limit"]
    row("rate limit", f"{rl['throttled_posts']} posts throttled, {rl['wait_s_total']} s waited")
    row("peak RSS", f"{report['peak_rss_mb']} MB")
    g = report["glossary"]
    if not g["terms_per_language"]:
        row("glossary", "none (--glossary-terms 0)")
    elif "match_ms_per_message" in g:
        m = g["match_ms_per_message"]
        row(
            "glossary",
            f"{g['terms_per_language']} terms/language, loaded in {g['load_s']} s; matching {m['mean']} ms/message "
            f"(p95 {m['p95']}) over all targets, {g['terms_matched']} terms found",
        )
    if g.get("status"):
        row("glossary note", g["status"])
    row("run time", f"main {report['run_s']['main']} s, total {report['run_s']['total']} s")
    lines += ["", "targets:"]
    for t in report["targets"]:
        lines.append(f"  [{t['result']:>4}] {t['name']}: {t['value']}{t['unit']} (limit {t['limit']}{t['unit']})")
    return "\n".join(lines)
