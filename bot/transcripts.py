"""Meeting transcripts, one per language, as Markdown and as a self-contained HTML page for phones.

Input is plain data (`MeetingRecord`, filled from the store by the caller). Every message shows its time,
speaker and the text as it was relayed into the reader's language, with the original beside it; a message
that reached the reader untranslated shows the original, marked. The HTML page has `lang` and `dir` set per
language and per message, system fonts that cover each script, no external resources and no script, and it
wraps long words and URLs so nothing overflows a phone screen. All message text is untrusted: it is escaped
in HTML, and Markdown-escaped in the Markdown file.

Headings and labels are in the reader's language for the 12 glossary languages (`LABELS`; `draft=True`
where the wording is not sure yet); other languages get English labels.
"""

from __future__ import annotations

import html
import re
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, tzinfo
from zoneinfo import ZoneInfo

from bot import languages
from bot.languages import Language, UnknownLanguage
from bot.text import protected_spans

# --- Input --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Rendering:
    """A message as it appeared in one language channel."""

    text: str
    untranslated: bool = False  # the original was delivered (translation failed, or no engine has the language)


@dataclass(frozen=True)
class Entry:
    """One message of the meeting."""

    at: datetime  # when it was posted; naive means UTC
    speaker: str
    language: str  # the language it was written in
    original: str
    renderings: Mapping[str, Rendering] = field(default_factory=dict)  # language code -> as relayed there
    speaker_id: int | None = None  # to count people, not names


@dataclass(frozen=True)
class MeetingRecord:
    name: str
    started: datetime  # naive means UTC
    languages: tuple[str, ...]  # the meeting's channels, English first
    entries: tuple[Entry, ...] = ()
    timezone: str = "UTC"  # IANA name; times are shown in it
    members: Mapping[str, int] = field(default_factory=dict)  # language -> members holding its role


@dataclass(frozen=True)
class Attendance:
    """Per language: members holding its role, people who wrote in it, messages written in it."""

    languages: tuple[str, ...]
    members: Mapping[str, int]
    posted: Mapping[str, int]
    messages: Mapping[str, int]


@dataclass(frozen=True)
class TranscriptFile:
    language: str
    filename: str
    content: str
    media_type: str


# --- Labels -------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Labels:
    transcript: str
    date: str
    language: str
    times: str  # "{tz}" is the time zone
    note: str
    original: str
    untranslated: str
    attendance: str
    members: str
    posted: str
    messages: str
    no_messages: str
    total: str
    draft: bool = False  # wording not sure yet: a volunteer should review it


LABELS: dict[str, Labels] = {
    "en": Labels(
        "Transcript", "Date", "Language", "Times in {tz}",
        "Machine translation, reviewed by volunteers. The original is shown with each message.",
        "Original", "not translated", "Attendance", "Members", "Wrote", "Messages", "No messages.", "Total",
    ),
    "es": Labels(
        "Transcripción", "Fecha", "Idioma", "Horas en {tz}",
        "Traducción automática revisada por voluntarios. Con cada mensaje se muestra el original.",
        "Original", "sin traducir", "Asistencia", "Miembros", "Escribieron", "Mensajes", "No hubo mensajes.", "Total",
    ),
    "vi": Labels(
        "Biên bản", "Ngày", "Ngôn ngữ", "Giờ theo múi giờ {tz}",
        "Bản dịch máy, có tình nguyện viên xem lại. Bản gốc được hiển thị kèm theo mỗi tin nhắn.",
        "Bản gốc", "chưa được dịch", "Tham dự", "Thành viên", "Đã viết", "Tin nhắn", "Không có tin nhắn.",
        "Tổng cộng",
    ),
    "zh-TW": Labels(
        "會議記錄", "日期", "語言", "時間以 {tz} 為準",
        "機器翻譯，由志工審閱。每則訊息都附有原文。",
        "原文", "未翻譯", "出席情況", "成員", "發言人數", "訊息", "沒有訊息。", "總計",
    ),
    "zh-CN": Labels(
        "会议记录", "日期", "语言", "时间以 {tz} 为准",
        "机器翻译，由志愿者审阅。每条消息都附有原文。",
        "原文", "未翻译", "出席情况", "成员", "发言人数", "消息", "没有消息。", "总计",
    ),
    "ko": Labels(
        "회의록", "날짜", "언어", "시간대: {tz}",
        "기계 번역이며 자원봉사자가 검토합니다. 각 메시지에 원문이 함께 표시됩니다.",
        "원문", "번역되지 않음", "참석 현황", "회원", "작성자", "메시지", "메시지가 없습니다.", "합계",
    ),
    "tl": Labels(
        "Transcript", "Petsa", "Wika", "Oras sa {tz}",
        "Salin ng makina na sinusuri ng mga boluntaryo. Kasama sa bawat mensahe ang orihinal.",
        "Orihinal", "hindi naisalin", "Pagdalo", "Mga miyembro", "Sumulat", "Mga mensahe", "Walang mensahe.",
        "Kabuuan", draft=True,
    ),
    "ar": Labels(
        "محضر الاجتماع", "التاريخ", "اللغة", "الأوقات بتوقيت {tz}",
        "ترجمة آلية يراجعها متطوعون. يظهر النص الأصلي مع كل رسالة.",
        "النص الأصلي", "لم تتم ترجمته", "الحضور", "الأعضاء", "من كتبوا", "الرسائل", "لا توجد رسائل.", "المجموع",
    ),
    "ru": Labels(
        "Протокол", "Дата", "Язык", "Время: {tz}",
        "Машинный перевод, который проверяют волонтёры. К каждому сообщению приложен оригинал.",
        "Оригинал", "не переведено", "Посещаемость", "Участники", "Писали", "Сообщения", "Сообщений нет.", "Итого",
    ),
    "hmn": Labels(
        "Cov lus sau tseg", "Hnub tim", "Lus", "Sij hawm raws li {tz}",
        "Tshuab txhais lus, muaj neeg pab dawb kuaj xyuas. Cov lus qub nyob nrog txhua tsab xov.",
        "Lus qub", "tsis tau txhais", "Cov tuaj koom", "Cov tswv cuab", "Cov sau lus", "Cov xov", "Tsis muaj xov.",
        "Tag nrho", draft=True,
    ),
    "km": Labels(
        "កំណត់ហេតុប្រជុំ", "កាលបរិច្ឆេទ", "ភាសា", "ម៉ោងតាម {tz}",
        "ការបកប្រែដោយម៉ាស៊ីន ដែលអ្នកស្ម័គ្រចិត្តត្រួតពិនិត្យ។ អត្ថបទដើមបង្ហាញជាមួយសារនីមួយៗ។",
        "អត្ថបទដើម", "មិនទាន់បកប្រែ", "វត្តមាន", "សមាជិក", "អ្នកសរសេរ", "សារ", "គ្មានសារ។", "សរុប", draft=True,
    ),
    "sm": Labels(
        "Fa'amaumauga", "Aso", "Gagana", "Taimi e tusa ma {tz}",
        "Fa'aliliuga a le masini, e siaki e tagata volenitia. O le ulua'i tusitusiga o lo'o fa'aalia ma fe'au "
        "ta'itasi.",
        "Ulua'i tusitusiga", "e le'i fa'aliliuina", "Auai", "Sui auai", "Na tusitusi", "Fe'au", "E leai ni fe'au.",
        "Aofa'i", draft=True,
    ),
    "pa": Labels(
        "ਮੀਟਿੰਗ ਦਾ ਰਿਕਾਰਡ", "ਤਾਰੀਖ", "ਭਾਸ਼ਾ", "ਸਮਾਂ {tz} ਅਨੁਸਾਰ",
        "ਮਸ਼ੀਨੀ ਅਨੁਵਾਦ, ਜਿਸਨੂੰ ਵਲੰਟੀਅਰ ਜਾਂਚਦੇ ਹਨ। ਹਰ ਸੁਨੇਹੇ ਨਾਲ ਮੂਲ ਲਿਖਤ ਦਿਖਾਈ ਗਈ ਹੈ।",
        "ਮੂਲ", "ਅਨੁਵਾਦ ਨਹੀਂ ਹੋਇਆ", "ਹਾਜ਼ਰੀ", "ਮੈਂਬਰ", "ਲਿਖਣ ਵਾਲੇ", "ਸੁਨੇਹੇ", "ਕੋਈ ਸੁਨੇਹਾ ਨਹੀਂ।", "ਕੁੱਲ", draft=True,
    ),
}  # fmt: skip


def labels(code: str) -> Labels:
    """Labels for a reader: their language's, Cantonese readers get Traditional Chinese, else English."""
    lang = languages.get(code)
    return LABELS.get(lang.code) or LABELS.get(lang.translate_as or "") or LABELS["en"]


# --- Fonts and direction --------------------------------------------------------------------------------

_SANS = 'system-ui, -apple-system, "Segoe UI", Roboto, "Noto Sans", "Helvetica Neue", Arial, sans-serif'
# System fonts that cover each script, phone and desktop first, then the Noto family Linux ships.
FONTS: dict[str, str] = {
    "latin": _SANS,  # Latin incl. Vietnamese, Cyrillic
    "arabic": '"Geeza Pro", "Segoe UI", Tahoma, "Noto Naskh Arabic", "Noto Sans Arabic", sans-serif',
    "nastaliq": '"Noto Nastaliq Urdu", "Jameel Noori Nastaleeq", "Urdu Typesetting", serif',
    "hant": '"PingFang TC", "Microsoft JhengHei", "Noto Sans CJK TC", "Noto Sans TC", sans-serif',
    "hant-hk": '"PingFang HK", "Microsoft JhengHei", "Noto Sans CJK HK", "Noto Sans HK", sans-serif',
    "hans": '"PingFang SC", "Microsoft YaHei", "Noto Sans CJK SC", "Noto Sans SC", sans-serif',
    "ja": '"Hiragino Sans", "Yu Gothic", Meiryo, "Noto Sans CJK JP", "Noto Sans JP", sans-serif',
    "ko": '"Apple SD Gothic Neo", "Malgun Gothic", "Noto Sans CJK KR", "Noto Sans KR", sans-serif',
    "khmer": '"Khmer Sangam MN", "Khmer UI", "Leelawadee UI", "Noto Sans Khmer", sans-serif',
    "lao": '"Lao Sangam MN", "Lao UI", "Leelawadee UI", "Noto Sans Lao", sans-serif',
    "gurmukhi": '"Gurmukhi MN", "Raavi", "Nirmala UI", "Noto Sans Gurmukhi", sans-serif',
    "devanagari": '"Kohinoor Devanagari", "Nirmala UI", Mangal, "Noto Sans Devanagari", sans-serif',
}
_SCRIPT = {
    "ar": "arabic", "fa": "arabic", "ur": "nastaliq", "zh-TW": "hant", "yue": "hant-hk", "zh-CN": "hans",
    "ja": "ja", "ko": "ko", "km": "khmer", "lo": "lao", "pa": "gurmukhi", "hi": "devanagari",
}  # fmt: skip
_HTML_LANG = {"yue": "zh-HK"}  # Cantonese channels read written Traditional Chinese


def _lang(code: str) -> Language:
    try:
        return languages.get(code)
    except UnknownLanguage:
        return Language(code, code, code, code)


def _dir(code: str) -> str:
    return "rtl" if _lang(code).rtl else "ltr"


def _html_lang(code: str) -> str:
    return _HTML_LANG.get(code, code)


# --- Shared helpers ---------------------------------------------------------------------------------------


def zone(name: str) -> tzinfo:
    """An IANA time zone; UTC needs no time-zone database (slim images may have none)."""
    return UTC if name.upper() in ("UTC", "") else ZoneInfo(name)


def _zone(record: MeetingRecord) -> tzinfo:
    return zone(record.timezone)


def _local(at: datetime, zone: tzinfo) -> datetime:
    return (at if at.tzinfo else at.replace(tzinfo=UTC)).astimezone(zone)


def _clean(text: str) -> str:
    """Drop control characters other than newline and tab: they have no business in a transcript."""
    return "".join(ch for ch in text if ch in "\n\t" or unicodedata.category(ch) != "Cc")


def _colon(reader: str) -> str:
    """Chinese and Japanese use a full-width colon, which carries its own space."""
    return "：" if _lang(reader).code in ("zh-TW", "zh-CN", "yue", "ja") else ": "


def _as_read(entry: Entry, reader: str) -> tuple[str, str, bool]:
    """(text, its language, untranslated) for a reader of `reader`."""
    if entry.language == reader:
        return entry.original, reader, False
    rendering = entry.renderings.get(reader)
    if rendering is None or rendering.untranslated:
        return entry.original, entry.language, True
    return rendering.text, reader, False


def _language_name(code: str, reader: str) -> str:
    """A language's own name, with the English one for readers who might not recognise the script."""
    lang = _lang(code)
    if reader == "en":
        return lang.english
    if code == reader or lang.native == lang.english:
        return lang.native
    return f"{lang.native} ({lang.english})"


def attendance(record: MeetingRecord) -> Attendance:
    """Who was there and who spoke, per language of the meeting (and any language someone wrote in)."""
    codes = list(record.languages) + [e.language for e in record.entries if e.language not in record.languages]
    codes = list(dict.fromkeys(codes))
    people: dict[str, set[object]] = {code: set() for code in codes}
    messages = dict.fromkeys(codes, 0)
    for entry in record.entries:
        people[entry.language].add(entry.speaker_id if entry.speaker_id is not None else entry.speaker)
        messages[entry.language] += 1
    return Attendance(
        languages=tuple(codes),
        members={code: record.members.get(code, 0) for code in codes},
        posted={code: len(people[code]) for code in codes},
        messages=messages,
    )


def attendance_text(summary: Attendance, reader: str = "en") -> str:
    """The attendance summary as a short Discord message for the facilitator."""
    words = labels(reader)
    lines = [f"**{words.attendance}** — {words.members} · {words.posted} · {words.messages}"]
    for code in summary.languages:
        lines.append(
            f"- {_language_name(code, reader)}: {summary.members[code]} · {summary.posted[code]} · "
            f"{summary.messages[code]}"
        )
    total = (sum(summary.members.values()), sum(summary.posted.values()), sum(summary.messages.values()))
    lines.append(f"{words.total}: {total[0]} · {total[1]} · {total[2]}")
    return "\n".join(lines)


def filename(record: MeetingRecord, reader: str, extension: str) -> str:
    """transcript-elac-2025-10-14-es.html: ASCII, so every client and OS keeps it intact."""
    slug = re.sub(
        r"[^a-z0-9]+", "-", unicodedata.normalize("NFKD", record.name).encode("ascii", "ignore").decode().lower()
    )
    slug = slug.strip("-")[:40].strip("-") or "meeting"
    return f"transcript-{slug}-{_local(record.started, _zone(record)):%Y-%m-%d}-{reader}.{extension}"


def transcripts(record: MeetingRecord) -> list[TranscriptFile]:
    """One Markdown and one HTML transcript for every language of the meeting."""
    files = []
    for code in record.languages:
        files.append(TranscriptFile(code, filename(record, code, "md"), render_markdown(record, code), "text/markdown"))
        files.append(TranscriptFile(code, filename(record, code, "html"), render_html(record, code), "text/html"))
    return files


# --- Markdown ---------------------------------------------------------------------------------------------

_MD_INLINE = re.compile(r"([\\`*_\[\]<>|~&])")
_MD_LINE_START = re.compile(r"^(\s*)(?:([#>+-])|(\d+)([.)]))", re.MULTILINE)


def _md(text: str) -> str:
    """Escape Markdown (and the HTML a Markdown viewer would render) so text shows as written."""
    escaped = _MD_INLINE.sub(r"\\\1", _clean(text))
    return _MD_LINE_START.sub(lambda m: m[1] + (f"\\{m[2]}" if m[2] else f"{m[3]}\\{m[4]}"), escaped)


def _md_quote(text: str) -> str:
    return "\n".join("> " + line if line else ">" for line in text.split("\n"))


def render_markdown(record: MeetingRecord, reader: str) -> str:
    words, zone, colon = labels(reader), _zone(record), _colon(reader)
    started = _local(record.started, zone)
    out = [
        f"# {words.transcript}{colon}{_md(record.name)}",
        "",
        f"{words.date}{colon}{started:%Y-%m-%d} · {words.language}{colon}{_language_name(reader, reader)} · "
        + words.times.format(tz=record.timezone),
        "",
        f"_{words.note}_",
        "",
    ]
    if not record.entries:
        out += [words.no_messages, ""]
    for entry in sorted(record.entries, key=lambda e: _local(e.at, zone)):
        text, _, untranslated = _as_read(entry, reader)
        head = f"**{_local(entry.at, zone):%H:%M} · {_md(entry.speaker)}**"
        if entry.language != reader:
            head += f" · {_md(_language_name(entry.language, reader))}"
        if untranslated:
            head += f" · ⚠️ {words.untranslated}"
        out += [head, "", _md(text), ""]
        if not untranslated and entry.language != reader:
            out += [_md_quote(f"{words.original}: " + _md(entry.original)), ""]
    summary = attendance(record)
    out += [f"## {words.attendance}", "", f"| {words.language} | {words.members} | {words.posted} | {words.messages} |"]
    out.append("|---|---:|---:|---:|")
    for code in summary.languages:
        row = (summary.members[code], summary.posted[code], summary.messages[code])
        out.append(f"| {_md(_language_name(code, reader))} | {row[0]} | {row[1]} | {row[2]} |")
    return "\n".join(out) + "\n"


# --- HTML -------------------------------------------------------------------------------------------------

_CSS = """
*{box-sizing:border-box}
html{-webkit-text-size-adjust:100%;text-size-adjust:100%}
body{margin:0 auto;max-width:46rem;padding:16px;font-size:17px;line-height:1.55;color:#1b1b1f;background:#fff;
 overflow-wrap:anywhere;word-break:normal}
h1{font-size:1.35rem;line-height:1.3;margin:0 0 .4rem}
h2{font-size:1.15rem;margin:2rem 0 .5rem}
.meta,.note{color:#55565e;font-size:.9rem;margin:.2rem 0}
.note{padding:.5rem .75rem;background:#f3f4f7;border-radius:8px;margin:.8rem 0 1.2rem}
article{padding:.7rem 0;border-top:1px solid #e3e4e8}
.head{margin:0 0 .25rem;font-size:.88rem;color:#55565e}
.head b{color:#1b1b1f}
time{font-variant-numeric:tabular-nums}
.text{white-space:pre-wrap;margin:0}
.untranslated{display:inline-block;margin-inline-start:.4rem;padding:0 .4rem;border-radius:6px;background:#fff3cd;
 color:#6b4e00;font-size:.8rem}
.orig{margin:.45rem 0 0;padding:.35rem .7rem;border-inline-start:3px solid #c9cbd3;background:#f7f7f9;
 border-radius:4px;color:#3b3c42;font-size:.93rem}
.orig .label{display:block;font-size:.78rem;color:#6a6b73}
.orig p{white-space:pre-wrap;margin:0}
a{color:#0b57d0}
table{width:100%;border-collapse:collapse;table-layout:fixed;font-size:.92rem}
th,td{padding:.35rem .3rem;border-bottom:1px solid #e3e4e8;text-align:start;vertical-align:top}
th:not(:first-child),td:not(:first-child){text-align:end;width:22%}
@media (prefers-color-scheme:dark){
 body{color:#e6e6ea;background:#17181c}.head b{color:#e6e6ea}.meta,.note,.head,.orig .label{color:#a9abb3}
 .note,.orig{background:#22242a}.orig{color:#d0d1d6;border-color:#4a4d57}article,th,td{border-color:#30323a}
 .untranslated{background:#4a3b00;color:#ffe08a}a{color:#8ab4f8}}
@media print{body{max-width:none}.note,.orig{background:none}}
"""


def _esc(text: str) -> str:
    return html.escape(_clean(text), quote=True)


def _linked(text: str) -> str:
    """Escaped text with bare http(s) URLs made into links (the text of a link is escaped too)."""
    text = _clean(text)
    parts, pos = [], 0
    for start, end in protected_spans(text):
        url = text[start:end]
        if url.startswith(("http://", "https://")):
            parts.append(html.escape(text[pos:start]))
            href = html.escape(url, quote=True)
            parts.append(f'<a href="{href}" rel="noopener noreferrer nofollow">{html.escape(url)}</a>')
            pos = end
    parts.append(html.escape(text[pos:]))
    return "".join(parts)


def _font_rules(codes: set[str]) -> str:
    rules = [f"body{{font-family:{FONTS['latin']}}}"]
    for code in sorted(codes):
        script = _SCRIPT.get(_lang(code).code)
        if script:
            rules.append(f":lang({_html_lang(code)}){{font-family:{FONTS[script]}}}")
    return "\n".join(rules)


def _attrs(code: str) -> str:
    return f'lang="{_esc(_html_lang(code))}" dir="{_dir(code)}"'


def render_html(record: MeetingRecord, reader: str) -> str:
    words, zone, colon = labels(reader), _zone(record), _colon(reader)
    started = _local(record.started, zone)
    title = f"{words.transcript}{colon}{record.name}"
    used = {reader, *record.languages, *(e.language for e in record.entries)}
    body = [
        "<header>",
        f"<h1>{_esc(words.transcript)}{colon}<bdi>{_esc(record.name)}</bdi></h1>",
        f'<p class="meta">{_esc(words.date)}{colon}<time dir="ltr" datetime="{started:%Y-%m-%d}">'
        f"{started:%Y-%m-%d}</time>"
        f" · {_esc(words.language)}{colon}{_esc(_language_name(reader, reader))}"
        f" · {_esc(words.times.format(tz=record.timezone))}</p>",
        f'<p class="note">{_esc(words.note)}</p>',
        "</header>",
        "<main>",
    ]
    if not record.entries:
        body.append(f"<p>{_esc(words.no_messages)}</p>")
    for entry in sorted(record.entries, key=lambda e: _local(e.at, zone)):
        text, text_lang, untranslated = _as_read(entry, reader)
        at = _local(entry.at, zone)
        head = (
            f'<time dir="ltr" datetime="{at.isoformat()}">{at:%H:%M}</time> · <b><bdi>{_esc(entry.speaker)}</bdi></b>'
        )
        if entry.language != reader:
            head += f" · {_esc(_language_name(entry.language, reader))}"
        if untranslated:
            head += f' <span class="untranslated">⚠️ {_esc(words.untranslated)}</span>'
        body += ["<article>", f'<p class="head">{head}</p>', f'<p class="text" {_attrs(text_lang)}>{_linked(text)}</p>']
        if not untranslated and entry.language != reader:
            label = f"{words.original} · {_language_name(entry.language, reader)}"
            body.append(
                f'<div class="orig"><span class="label">{_esc(label)}</span>'
                f"<p {_attrs(entry.language)}>{_linked(entry.original)}</p></div>"
            )
        body.append("</article>")
    body.append("</main>")
    summary = attendance(record)
    body += [
        "<section>",
        f"<h2>{_esc(words.attendance)}</h2>",
        "<table>",
        f"<thead><tr><th>{_esc(words.language)}</th><th>{_esc(words.members)}</th><th>{_esc(words.posted)}</th>"
        f"<th>{_esc(words.messages)}</th></tr></thead><tbody>",
    ]
    for code in summary.languages:
        body.append(
            f"<tr><td><bdi>{_esc(_language_name(code, reader))}</bdi></td><td>{summary.members[code]}</td>"
            f"<td>{summary.posted[code]}</td><td>{summary.messages[code]}</td></tr>"
        )
    body += ["</tbody></table>", "</section>"]
    return (
        f'<!doctype html>\n<html {_attrs(reader)}>\n<head>\n<meta charset="utf-8">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        '<meta name="referrer" content="no-referrer">\n'
        "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src 'unsafe-inline'\">\n"
        f"<title>{_esc(title)}</title>\n<style>{_CSS}{_font_rules(used)}\n</style>\n</head>\n<body>\n"
        + "\n".join(body)
        + "\n</body>\n</html>\n"
    )
