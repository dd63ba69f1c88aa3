"""The language registry: names, channel names, script direction and each backend's code.

Backend codes are ours, not deep-translator's: its built-in lists are stale (no Tongan, no zh-TW for
LibreTranslate), so the translation layer passes these codes straight to the service.

How the gaps are handled:
- Filipino: Google and MyMemory take `tl`, Microsoft `fil`; our code is `tl`.
- Tongan (`to`): Google (since 2024) and Microsoft translate it; deep-translator's list lacks it, which
  is why we bypass that list. DeepL does not have it. LibreTranslate gets the plain ISO code for every
  language: a self-hosted server answers for what it has, and the chain falls back for the rest.
- Cantonese: parents read standard written Chinese (Traditional), which is what CDE sends Cantonese
  families, so the Cantonese channel (`yue`) is translated as zh-TW. Spoken/colloquial written
  Cantonese is not offered.
- Languages no engine covers (K'iche', Mixteco...) still get a channel: the original is relayed,
  marked for a volunteer interpreter.
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
    channel: str  # channel name in the language's own script
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


def _codes(google: str | None, microsoft: str | None, deepl: str | None, libre: str | None) -> dict[str, str]:
    codes = {"google": google, "mymemory": google, "microsoft": microsoft, "deepl": deepl, "libre": libre}
    return {name: code for name, code in codes.items() if code}


_ALL = [
    Language(
        "en",
        "English",
        "English",
        "english",
        _codes("en", "en", "EN-US", "en"),
        untranslated_note="not translated yet",
    ),
    Language(
        "es",
        "Spanish",
        "Español",
        "español",
        _codes("es", "es", "ES", "es"),
        untranslated_note="aún sin traducir",
    ),
    Language(
        "vi",
        "Vietnamese",
        "Tiếng Việt",
        "tiếng-việt",
        _codes("vi", "vi", "VI", "vi"),
        untranslated_note="chưa được dịch",
    ),
    Language(
        "zh-TW",
        "Chinese (Traditional)",
        "繁體中文",
        "繁體中文",
        _codes("zh-TW", "zh-Hant", "ZH-HANT", "zh-Hant"),
        cjk=True,
        untranslated_note="尚未翻譯",
    ),
    Language(
        "zh-CN",
        "Chinese (Simplified)",
        "简体中文",
        "简体中文",
        _codes("zh-CN", "zh-Hans", "ZH-HANS", "zh-Hans"),
        cjk=True,
        untranslated_note="尚未翻译",
    ),
    Language(
        "yue",
        "Cantonese (written Traditional Chinese)",
        "廣東話",
        "廣東話",
        {},
        translate_as="zh-TW",
        cjk=True,
        untranslated_note="尚未翻譯",
    ),
    Language(
        "ko",
        "Korean",
        "한국어",
        "한국어",
        _codes("ko", "ko", "KO", "ko"),
        untranslated_note="아직 번역되지 않음",
    ),
    Language(
        "tl",
        "Filipino (Tagalog)",
        "Filipino",
        "filipino",
        _codes("tl", "fil", "TL", "tl"),
        untranslated_note="hindi pa naisasalin",
    ),
    Language(
        "ar",
        "Arabic",
        "العربية",
        "العربية",
        _codes("ar", "ar", "AR", "ar"),
        rtl=True,
        untranslated_note="لم تتم الترجمة بعد",
    ),
    Language(
        "fa",
        "Persian (Farsi)",
        "فارسی",
        "فارسی",
        _codes("fa", "fa", "FA", "fa"),
        rtl=True,
        untranslated_note="هنوز ترجمه نشده",
    ),
    Language(
        "ru",
        "Russian",
        "Русский",
        "русский",
        _codes("ru", "ru", "RU", "ru"),
        untranslated_note="ещё не переведено",
    ),
    Language("pa", "Punjabi (Gurmukhi)", "ਪੰਜਾਬੀ", "ਪੰਜਾਬੀ", _codes("pa", "pa", "PA", "pa")),
    Language("hmn", "Hmong", "Hmoob", "hmoob", _codes("hmn", "mww", None, "hmn")),
    Language("km", "Khmer", "ខ្មែរ", "ខ្មែរ", _codes("km", "km", None, "km"), cjk=True),
    Language("lo", "Lao", "ລາວ", "ລາວ", _codes("lo", "lo", None, "lo"), cjk=True),
    Language("sm", "Samoan", "Gagana Sāmoa", "gagana-sāmoa", _codes("sm", "sm", None, "sm")),
    Language("to", "Tongan", "Lea faka-Tonga", "lea-faka-tonga", _codes("to", "to", None, "to")),
    Language(
        "ja",
        "Japanese",
        "日本語",
        "日本語",
        _codes("ja", "ja", "JA", "ja"),
        cjk=True,
        untranslated_note="未翻訳",
    ),
    Language(
        "pt",
        "Portuguese",
        "Português",
        "português",
        _codes("pt", "pt", "PT-BR", "pt"),
        untranslated_note="ainda não traduzido",
    ),
    Language(
        "uk",
        "Ukrainian",
        "Українська",
        "українська",
        _codes("uk", "uk", "UK", "uk"),
        untranslated_note="ще не перекладено",
    ),
    Language("hi", "Hindi", "हिन्दी", "हिन्दी", _codes("hi", "hi", "HI", "hi"), untranslated_note="अभी अनुवाद नहीं हुआ"),
    Language("quc", "K'iche'", "K'iche'", "kiche", {}),
]

LANGUAGES: dict[str, Language] = {lang.code: lang for lang in _ALL}
_ALIASES = {"fil": "tl", "zh": "zh-CN", "zh-hans": "zh-CN", "zh-hant": "zh-TW"}


def get(code: str) -> Language:
    """Look a language up by code, case-insensitively, accepting common aliases (fil, zh, zh-Hant)."""
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
