"""Source-language detection on short meeting messages: accuracy, false switches, memory and time per call.

    .venv/bin/python benchmarks/detect_bench.py [--high-accuracy] [--json]

Every message of benchmarks/detect_corpus.tsv (where each comes from is said in its header) is posted, in
two meetings: "pair" (English and the message's language; English messages: English and Spanish) and "all"
(every language of the corpus, 36, the hardest case for a false switch):
- in its own language's channel (a Spanish message in #español): anything but that language is a FALSE
  SWITCH. Language-less messages ("ok", "👍", a link) are posted in every channel and must stay there;
- in another channel (a Spanish message in #main; an English message in every language channel; every
  message in #español): the right answer is its language (or, for a mixed message, one of its languages).
Accuracy counts every trial. Figures are given for the whole corpus and for each part: "dev" sentences were
looked at while bot/detect.py's marker words were chosen, "heldout" ones were not (the honest figure).
Length is in words after markup, acronyms and names are dropped (two characters count as a word in Han,
kana, Khmer, Lao, Burmese and Thai).

Memory: RSS before importing the detector, after importing it, and after every model the "all" meeting needs
is loaded (the worst case for one process: lingua's models are shared by all meetings, so 50 meetings cost no
more than the union of their languages); and, in a fresh process, with one English+Spanish meeting's models.
Time: per call with models loaded; in the fresh process, the import, loading the models (`warm`) and the next
call. `--high-accuracy` runs the same with lingua's high-accuracy models, for comparison. Figures taken on a
shared 2-core machine are indicative.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
CORPUS = Path(__file__).with_name("detect_corpus.tsv")
NO_SPACES = ("Hani", "Kana", "Khmr", "Laoo", "Mymr", "Thai")
BUCKETS = ("0", "1", "2", "3-5", "6-10", "11+")
TARGET_FALSE_SWITCH = 0.01


def rss_mb() -> float:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return round(int(line.split()[1]) / 1024, 1)
    return 0.0


@dataclass(frozen=True)
class Message:
    lang: str  # "und": no language
    accepted: frozenset[str]
    source: str
    text: str


def load_corpus(path: Path = CORPUS) -> list[Message]:
    rows = [line.rstrip("\n") for line in path.read_text(encoding="utf-8").splitlines() if not line.startswith("#")]
    messages = []
    for number, row in enumerate(rows[1:], start=2):
        fields = row.split("\t")
        if len(fields) != 4:
            raise SystemExit(f"{path.name}: row {number} has {len(fields)} fields, not 4: {row!r}")
        lang, also, source, text = fields
        messages.append(Message(lang, frozenset([lang, *filter(None, also.split(","))]), source, text))
    return messages


def length_bucket(text: str) -> str:
    from bot.detect import _char_script, _words

    words = 0.0
    for word in _words(text):
        if _char_script(word[0]) in NO_SPACES:
            words += max(1, len(word) // 2)
        else:
            words += 1
    n = int(words)
    return "0" if n == 0 else "1" if n == 1 else "2" if n == 2 else "3-5" if n <= 5 else "6-10" if n <= 10 else "11+"


@dataclass(frozen=True)
class Trial:
    message: Message
    channel: str
    meeting: tuple[str, ...]
    meeting_name: str

    @property
    def own(self) -> bool:
        return self.message.lang in ("und", self.channel)

    def right(self, answer: str) -> bool:
        return answer == self.channel if self.message.lang == "und" else answer in self.message.accepted


def trials(messages: list[Message]) -> list[Trial]:
    langs = list(dict.fromkeys(m.lang for m in messages if m.lang != "und"))
    everyone = tuple(langs)
    out: list[Trial] = []
    for m in messages:
        pair = ("en", "es") if m.lang in ("en", "und") else ("en", m.lang)
        for meeting_name, meeting in (("pair", pair), ("all", everyone)):
            if m.lang == "und":
                channels = meeting
            else:
                # own channel, #main, #español, and for English every language channel of the meeting
                channels = list(dict.fromkeys([m.lang, "en", "es"] + (list(meeting) if m.lang == "en" else [])))
                channels = [c for c in channels if c in meeting]
            out.extend(Trial(m, channel, meeting, meeting_name) for channel in channels)
    return out


def rate(right: int, total: int) -> float:
    return round(right / total, 4) if total else 0.0


def run(high_accuracy: bool) -> dict:
    messages = load_corpus()
    before_import = rss_mb()
    from bot.detect import Detector

    after_import = rss_mb()
    detector = Detector(high_accuracy=high_accuracy)
    all_trials = trials(messages)
    everyone = all_trials[-1].meeting if all_trials else ()
    started = time.perf_counter()
    detector.warm(everyone)
    warm_s = time.perf_counter() - started
    for t in all_trials:  # every detector the trials use, built before the clock starts
        detector.detect(t.message.text, t.channel, t.meeting)
    after_models = rss_mb()

    samples: list[float] = []
    counts: dict[tuple[str, str], list[int]] = defaultdict(lambda: [0, 0])
    false_switches: list[dict] = []
    for t in all_trials:
        t0 = time.perf_counter()
        answer = detector.detect(t.message.text, t.channel, t.meeting).language
        samples.append((time.perf_counter() - t0) * 1000)
        right = t.right(answer)
        kind = "own" if t.own else "cross"
        keys = [
            ("all", "all"),
            (kind, "all"),
            (kind, f"source:{t.message.source}"),
            (kind, f"meeting:{t.meeting_name}"),
            (kind, f"lang:{t.message.lang}"),
            (kind, f"len:{length_bucket(t.message.text)}"),
        ]
        for key in keys:
            counts[key][0] += right
            counts[key][1] += 1
        if t.own and not right:
            false_switches.append(
                {
                    "text": t.message.text,
                    "channel": t.channel,
                    "meeting": t.meeting_name,
                    "to": answer,
                    "source": t.message.source,
                }
            )
    samples.sort()

    def block(kind: str, prefix: str) -> dict:
        return {
            key[len(prefix) :]: {"right": r, "trials": n, "rate": rate(r, n)}
            for (k, key), (r, n) in sorted(counts.items())
            if k == kind and key.startswith(prefix)
        }

    own_r, own_n = counts[("own", "all")]
    cross_r, cross_n = counts[("cross", "all")]
    all_r, all_n = counts[("all", "all")]
    return {
        "mode": "high" if high_accuracy else "low",
        "messages": len(messages),
        "languages": len({m.lang for m in messages} - {"und"}),
        "trials": all_n,
        "accuracy": rate(all_r, all_n),
        "own_trials": own_n,
        "false_switch_rate": round(1 - rate(own_r, own_n), 4) if own_n else 0.0,
        "false_switch_target": TARGET_FALSE_SWITCH,
        "cross_trials": cross_n,
        "cross_accuracy": rate(cross_r, cross_n),
        "own_by_source": block("own", "source:"),
        "cross_by_source": block("cross", "source:"),
        "own_by_meeting": block("own", "meeting:"),
        "cross_by_meeting": block("cross", "meeting:"),
        "own_by_length": block("own", "len:"),
        "cross_by_length": block("cross", "len:"),
        "own_by_language": block("own", "lang:"),
        "cross_by_language": block("cross", "lang:"),
        "false_switches": false_switches,
        "rss_mb": {"before_import": before_import, "after_import": after_import, "all_models_loaded": after_models},
        "warm_all_s": round(warm_s, 2),
        "per_call_ms": {
            "mean": round(statistics.fmean(samples), 4),
            "p50": round(samples[len(samples) // 2], 4),
            "p99": round(samples[int(len(samples) * 0.99)], 4),
            "max": round(samples[-1], 3),
        },
        "fresh_en_es": fresh_process(high_accuracy),
    }


_FRESH = """
import json, sys, time
sys.path.insert(0, {root!r})
from benchmarks.detect_bench import rss_mb
before = rss_mb()
t = time.perf_counter()
from bot.detect import Detector
imported = time.perf_counter()
d = Detector(high_accuracy={high})
d.warm(["en", "es"])
warmed = time.perf_counter()
d.detect("Necesitamos voluntarios para organizar la feria del libro", "en", ["en", "es"])
done = time.perf_counter()
print(json.dumps({{
    "import_ms": round((imported - t) * 1000, 1),
    "warm_en_es_ms": round((warmed - imported) * 1000, 1),
    "next_call_ms": round((done - warmed) * 1000, 3),
    "rss_before_import_mb": before,
    "rss_en_es_loaded_mb": rss_mb(),
}}))
"""


def fresh_process(high_accuracy: bool) -> dict:
    """A new process with one English+Spanish meeting: import, model loading (warm) and the next call."""
    code = _FRESH.format(root=str(ROOT), high=high_accuracy)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=300)
    return json.loads(out.stdout.strip().splitlines()[-1])


def print_table(report: dict) -> None:
    print(f"Source-language detection, lingua {report['mode']}-accuracy mode")
    print(f"corpus: {report['messages']} messages in {report['languages']} languages; {report['trials']} trials")
    print(f"accuracy (all trials)          {report['accuracy']:.2%}")
    target = "✔" if report["false_switch_rate"] <= TARGET_FALSE_SWITCH else "✘"
    print(
        f"false switches (own channel)   {report['false_switch_rate']:.2%} of {report['own_trials']}  "
        f"(target ≤ {TARGET_FALSE_SWITCH:.0%}) {target}"
    )
    print(f"right language (other channel) {report['cross_accuracy']:.2%} of {report['cross_trials']}")
    for title, own_key, cross_key in (
        ("corpus part", "own_by_source", "cross_by_source"),
        ("meeting", "own_by_meeting", "cross_by_meeting"),
        ("length (words)", "own_by_length", "cross_by_length"),
        ("language", "own_by_language", "cross_by_language"),
    ):
        print(f"\n{'by ' + title:<16} {'own: stays':>16} {'other channel: right':>24}")
        keys = list(dict.fromkeys([*report[own_key], *report[cross_key]]))
        if title.startswith("length"):
            keys = [b for b in BUCKETS if b in keys]
        for key in keys:
            own = report[own_key].get(key)
            cross = report[cross_key].get(key)
            own_s = f"{own['rate']:.1%} of {own['trials']}" if own else "-"
            cross_s = f"{cross['rate']:.1%} of {cross['trials']}" if cross else "-"
            print(f"{key:<16} {own_s:>16} {cross_s:>24}")
    if report["false_switches"]:
        print("\nfalse switches:")
        for f in report["false_switches"]:
            print(f"  #{f['channel']} ({f['meeting']}, {f['source']}) -> {f['to']}: {f['text']}")
    rss = report["rss_mb"]
    print(
        f"\nRSS: {rss['before_import']} MB before import, {rss['after_import']} MB after, "
        f"{rss['all_models_loaded']} MB with every model of the {report['languages']}-language meeting loaded"
    )
    calls = report["per_call_ms"]
    print(
        f"per call (models loaded): mean {calls['mean']} ms, p50 {calls['p50']} ms, p99 {calls['p99']} ms, "
        f"max {calls['max']} ms; loading every model: {report['warm_all_s']} s"
    )
    fresh = report["fresh_en_es"]
    print(
        f"fresh process, English+Spanish meeting: import {fresh['import_ms']} ms, loading its models "
        f"{fresh['warm_en_es_ms']} ms, next call {fresh['next_call_ms']} ms; RSS {fresh['rss_before_import_mb']} MB "
        f"before import, {fresh['rss_en_es_loaded_mb']} MB with its models"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--high-accuracy", action="store_true", help="lingua's high-accuracy mode (for comparison)")
    parser.add_argument("--json", action="store_true", help="print the table, then the report as one JSON line")
    args = parser.parse_args(argv)
    report = run(args.high_accuracy)
    print_table(report)
    if args.json:
        print(json.dumps(report, ensure_ascii=False))
    return 0


if __name__ == "__main__":
    sys.exit(main())
