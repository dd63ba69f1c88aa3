"""The language registry: names, channel names, script direction and each backend's code.

Backend codes are ours, not deep-translator's: its built-in lists are stale (no Tongan, no Chamorro, no
Traditional Chinese for LibreTranslate), so the translation layer passes these codes straight to the service.
A language has a code for a backend only when that backend's own current list has it (checked 2025-26):
- google: Cloud Translation's language page and the web endpoint's 2024 list (ilo, ch, mh, chk, fa-AF,
  to, yue, mam, zap were added then); mymemory gets the same code where MyMemory's MT list has the language.
- microsoft: Azure Translator language support (Filipino is `fil`, Hmong Daw `mww`, Dari `prs`).
- deepl: DeepL's language table (the 2025 expansion added TL, SO, SW, MY, NE, PS, BN, UR...; no HI, PA, HY).
- libre: the models LibreTranslate publishes (argos index). Traditional Chinese is `zt`, not zh-Hant:
  a real LibreTranslate answers 400 to a code it has no model for, so nothing else is sent there.
glossaries/SOURCES.md lists where each list was read.

How the gaps are handled:
- Cantonese: parents read standard written Chinese (Traditional), which is what CDE sends Cantonese
  families, so the Cantonese channel (`yue`) is translated as zh-TW. Colloquial written Cantonese is not offered.
- Dari (`prs`): Google calls it fa-AF, Microsoft prs; it is not Farsi (`fa`), which Iranian families read.
- Languages no engine serves well get a channel and the human-interpreter route: the English original is
  relayed, marked for a volunteer interpreter. Google lists Mam and one Zapotec since 2024, but Mam, Zapotec
  and Mixtec are families of varieties, mostly oral in US schools; a machine rendering in the wrong variety
  would mislead, so they are interpreter-only on purpose (`INTERPRETER_BY_CHOICE`).
"""

from __future__ import annotations

from dataclasses import dataclass, field

BACKENDS = ("google", "deepl", "microsoft", "libre", "mymemory")


class UnknownLanguage(ValueError):
    def __init__(self, code: str) -> None:
        super().__init__(f"Unknown language '{code}'. Known: {', '.join(sorted(LANGUAGES))}")
        self.code = code


@dataclass(frozen=True)
class Language:
    code: str
    english: str
    native: str
    channel: str  # channel name in the language's own script (a valid Discord channel name)
    codes: dict[str, str] = field(default_factory=dict)  # backend name -> that backend's code
    rtl: bool = False
    translate_as: str | None = None  # read/written like another registry language (yue -> zh-TW)
    cjk: bool = False  # no spaces between words: matching needs no word boundaries
    # Shown in the channel when a message is relayed untranslated. Only languages where we are sure of
    # the wording have one; the others fall back to English (a volunteer can add theirs).
    untranslated_note: str = ""

    def supports(self, backend: str) -> bool:
        return backend in self.codes

    @property
    def machine_translated(self) -> bool:
        return bool(self.codes) or self.translate_as is not None

    @property
    def interpreter_only(self) -> bool:
        """No backend serves it: the channel gets the original and a volunteer interprets."""
        return not self.machine_translated

    @property
    def backends(self) -> tuple[str, ...]:
        """Backends that serve this language, in BACKENDS order (Cantonese: those serving zh-TW)."""
        codes = for_translation(self).codes
        return tuple(name for name in BACKENDS if name in codes)


def _codes(
    google: str | None,
    microsoft: str | None = None,
    deepl: str | None = None,
    libre: str | None = None,
    *,
    mymemory: bool = False,
) -> dict[str, str]:
    """Backend codes; MyMemory takes Google's code, and only for languages its MT list has."""
    codes = {"google": google, "microsoft": microsoft, "deepl": deepl, "libre": libre}
    if mymemory:
        codes["mymemory"] = google
    return {name: code for name, code in codes.items() if code}


_ALL = [
    Language("en", "English", "English", "english", _codes("en", "en", "EN-US", "en", mymemory=True),
             untranslated_note="not translated yet"),
    Language("es", "Spanish", "Español", "español", _codes("es", "es", "ES", "es", mymemory=True),
             untranslated_note="aún sin traducir"),
    Language("vi", "Vietnamese", "Tiếng Việt", "tiếng-việt", _codes("vi", "vi", "VI", "vi", mymemory=True),
             untranslated_note="chưa được dịch"),
    Language("zh-TW", "Chinese (Traditional)", "繁體中文", "繁體中文",
             _codes("zh-TW", "zh-Hant", "ZH-HANT", "zt", mymemory=True), cjk=True, untranslated_note="尚未翻譯"),
    Language("zh-CN", "Chinese (Simplified)", "简体中文", "简体中文",
             _codes("zh-CN", "zh-Hans", "ZH-HANS", "zh", mymemory=True), cjk=True, untranslated_note="尚未翻译"),
    Language("yue", "Cantonese (written Traditional Chinese)", "廣東話", "廣東話", {}, translate_as="zh-TW",
             cjk=True, untranslated_note="尚未翻譯"),
    Language("ko", "Korean", "한국어", "한국어", _codes("ko", "ko", "KO", "ko", mymemory=True),
             untranslated_note="아직 번역되지 않음"),
    Language("tl", "Filipino (Tagalog)", "Filipino", "filipino", _codes("tl", "fil", "TL", "tl", mymemory=True),
             untranslated_note="hindi pa naisasalin"),
    Language("ar", "Arabic", "العربية", "العربية", _codes("ar", "ar", "AR", "ar", mymemory=True), rtl=True,
             untranslated_note="لم تتم الترجمة بعد"),
    Language("fa", "Persian (Farsi)", "فارسی", "فارسی", _codes("fa", "fa", "FA", "fa", mymemory=True), rtl=True,
             untranslated_note="هنوز ترجمه نشده"),
    Language("prs", "Dari", "دری", "دری", _codes("fa-AF", "prs"), rtl=True),
    Language("ps", "Pashto", "پښتو", "پښتو", _codes("ps", "ps", "PS"), rtl=True),
    Language("ur", "Urdu", "اردو", "اردو", _codes("ur", "ur", "UR", "ur", mymemory=True), rtl=True),
    Language("ru", "Russian", "Русский", "русский", _codes("ru", "ru", "RU", "ru", mymemory=True),
             untranslated_note="ещё не переведено"),
    Language("uk", "Ukrainian", "Українська", "українська", _codes("uk", "uk", "UK", "uk", mymemory=True),
             untranslated_note="ще не перекладено"),
    Language("pa", "Punjabi (Gurmukhi)", "ਪੰਜਾਬੀ", "ਪੰਜਾਬੀ", _codes("pa", "pa", mymemory=True)),
    Language("hi", "Hindi", "हिन्दी", "हिन्दी", _codes("hi", "hi", None, "hi", mymemory=True),
             untranslated_note="अभी अनुवाद नहीं हुआ"),
    Language("bn", "Bengali", "বাংলা", "বাংলা", _codes("bn", "bn", "BN", "bn", mymemory=True)),
    Language("ne", "Nepali", "नेपाली", "नेपाली", _codes("ne", "ne", "NE", mymemory=True)),
    Language("my", "Burmese", "မြန်မာ", "မြန်မာ", _codes("my", "my", "MY", mymemory=True), cjk=True),
    Language("hmn", "Hmong", "Hmoob", "hmoob", _codes("hmn", "mww")),
    Language("km", "Khmer", "ខ្មែរ", "ខ្មែរ", _codes("km", "km"), cjk=True),
    Language("lo", "Lao", "ລາວ", "ລາວ", _codes("lo", "lo", mymemory=True), cjk=True),
    Language("ja", "Japanese", "日本語", "日本語", _codes("ja", "ja", "JA", "ja", mymemory=True), cjk=True,
             untranslated_note="未翻訳"),
    Language("ilo", "Ilocano", "Ilokano", "ilokano", _codes("ilo")),
    Language("sm", "Samoan", "Gagana Sāmoa", "gagana-sāmoa", _codes("sm", "sm", mymemory=True)),
    Language("to", "Tongan", "Lea faka-Tonga", "lea-faka-tonga", _codes("to", "to", mymemory=True)),
    Language("ch", "Chamorro", "Fino' CHamoru", "chamoru", _codes("ch")),
    Language("mh", "Marshallese", "Kajin M̧ajeļ", "kajin-m̧ajeļ", _codes("mh")),
    Language("chk", "Chuukese", "Kapasen Chuuk", "kapasen-chuuk", _codes("chk")),
    Language("so", "Somali", "Soomaali", "soomaali", _codes("so", "so", "SO", mymemory=True)),
    Language("am", "Amharic", "አማርኛ", "አማርኛ", _codes("am", "am", mymemory=True)),
    Language("ti", "Tigrinya", "ትግርኛ", "ትግርኛ", _codes("ti", "ti")),
    Language("sw", "Swahili", "Kiswahili", "kiswahili", _codes("sw", "sw", "SW", mymemory=True)),
    Language("ht", "Haitian Creole", "Kreyòl ayisyen", "kreyòl-ayisyen", _codes("ht", "ht", mymemory=True)),
    Language("fr", "French", "Français", "français", _codes("fr", "fr", "FR", "fr", mymemory=True),
             untranslated_note="pas encore traduit"),
    Language("pt", "Portuguese", "Português", "português", _codes("pt", "pt", "PT-BR", "pt", mymemory=True),
             untranslated_note="ainda não traduzido"),
    Language("hy", "Armenian (Eastern)", "Հայերեն", "հայերեն", _codes("hy", "hy", mymemory=True)),
    Language("mix", "Mixtec (Mixteco)", "Tu'un Sávi", "mixteco", {}),
    Language("zap", "Zapotec (Zapoteco)", "Diidxazá", "zapoteco", {}),
    Language("mam", "Mam", "Qyol Mam", "mam", {}),
    Language("quc", "K'iche'", "K'iche'", "kiche", {}),
]  # fmt: skip

LANGUAGES: dict[str, Language] = {lang.code: lang for lang in _ALL}
_ALIASES = {
    "fil": "tl", "zh": "zh-CN", "zh-hans": "zh-CN", "zh-hant": "zh-TW", "fa-af": "prs", "mww": "hmn",
    "pt-br": "pt",
}  # fmt: skip
# Codes a backend lists that Concord deliberately does not use (see the module docstring).
INTERPRETER_BY_CHOICE = {"mam": {"google": "mam"}, "zap": {"google": "zap"}}


def get(code: str) -> Language:
    """Look a language up by code, case-insensitively, accepting common aliases (fil, zh, zh-Hant, fa-AF)."""
    wanted = code.strip()
    for candidate in (wanted, _ALIASES.get(wanted.lower(), "")):
        for known, lang in LANGUAGES.items():
            if known.lower() == candidate.lower():
                return lang
    raise UnknownLanguage(code)


def parse_list(codes: str) -> list[Language]:
    """'es, vi,zh-TW' -> languages, in order, without duplicates."""
    seen: dict[str, Language] = {}
    for part in codes.split(","):
        if part.strip():
            lang = get(part)
            seen.setdefault(lang.code, lang)
    return list(seen.values())


def search(typed: str, *, include_english: bool = True) -> list[Language]:
    """Languages whose code, English or native name contains `typed` (for autocomplete)."""
    typed = typed.strip().lower()
    return [
        lang
        for lang in LANGUAGES.values()
        if (include_english or lang.code != "en")
        and (typed in lang.code.lower() or typed in lang.english.lower() or typed in lang.native.lower())
    ]


def for_translation(lang: Language) -> Language:
    """The language a backend should actually be asked for (Cantonese -> zh-TW)."""
    return LANGUAGES[lang.translate_as] if lang.translate_as else lang


def describe(lang: Language) -> dict[str, object]:
    """One registry entry as `python -m bot languages --json` prints it."""
    return {
        "code": lang.code,
        "english": lang.english,
        "native": lang.native,
        "channel": lang.channel,
        "rtl": lang.rtl,
        "backends": list(lang.backends),
        "codes": dict(for_translation(lang).codes),
        "translated_as": lang.translate_as,
    }
