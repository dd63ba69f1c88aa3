"""Which language a message is really written in: the channel's, unless it is confidently another of the meeting's.

A parent who writes English in #español, or Spanish in #main, must be translated from what they wrote. But a
wrong switch is worse than none (Spanish "translated from Portuguese" misleads a family; English "translated
from Spanish" mostly comes through as written), so the channel's language is the answer unless the evidence
is strong:

1. Discord markup (mentions, links, custom emoji, code), acronyms (IEP, ELPAC, LCAP), capitalised names
   inside a sentence, digits and emoji are dropped: they say nothing about the language.
2. Script first. Khmer, Lao, Burmese, Ethiopic, Hangul, kana, Han, Arabic, Cyrillic, Devanagari... decide
   among the meeting's languages without any model, whatever the length ("អរគុណ" in #main is Khmer). Han
   text never moves among zh-TW, zh-CN and yue (it goes to the one the meeting has, Traditional or
   Simplified by its characters); Japanese needs kana, Korean Hangul.
3. Within one script (Latin: en, es, vi, tl, pt, so...), a short message (under four words) switches only on
   words: most of them common words of one other meeting language and none of the channel's ("Thank you" in
   #español is English; "Gracias" there stays Spanish). A longer one switches when lingua (offline, its
   models ship in the wheel), restricted to the meeting's languages, puts another one first, clearly ahead of
   the channel's. Low-accuracy mode: the high-accuracy models cost ~90 MB more for English and Spanish alone,
   and since short texts never reach the model, they are not more accurate here (benchmarks/detect_bench.py).
4. Languages lingua lacks (Hmong, Samoan, Tongan, Chamorro, Marshallese, Ilocano, Haitian Creole, K'iche',
   Nepali, Amharic/Tigrinya...) are never switched away from on the model's say-so: a switch also needs the
   new language's own words, and a message with the channel language's words stays. The same words let a
   message in one of them be recognised in another channel.

Codes are the registry's (bot/languages.py) but any ISO-like code works: an unknown one is taken as a
Latin-script language lingua lacks, so it is never switched away from by mistake.
"""

from __future__ import annotations

import bisect
import re
import threading
import unicodedata
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from functools import cache

from lingua import IsoCode639_1, IsoCode639_3, Language, LanguageDetector, LanguageDetectorBuilder

from bot.text import protected_spans

# --- Scripts ---------------------------------------------------------------------------------------------

# Unicode blocks of each script (hex). Latin includes the modifier letters, where the Tongan ʻokina lives.
_SCRIPT_BLOCKS = """
Latn 0041-024F 0250-02FF 1E00-1EFF A720-A7FF FF21-FF5A
Grek 0370-03FF
Cyrl 0400-052F
Armn 0530-058F
Hebr 0590-05FF
Arab 0600-06FF 0750-077F 08A0-08FF FB50-FDFF FE70-FEFF
Deva 0900-097F
Beng 0980-09FF
Guru 0A00-0A7F
Gujr 0A80-0AFF
Orya 0B00-0B7F
Taml 0B80-0BFF
Telu 0C00-0C7F
Knda 0C80-0CFF
Mlym 0D00-0D7F
Sinh 0D80-0DFF
Thai 0E00-0E7F
Laoo 0E80-0EFF
Tibt 0F00-0FFF
Mymr 1000-109F A9E0-A9FF AA60-AA7F
Geor 10A0-10FF
Hang 1100-11FF 3130-318F A960-A97F AC00-D7FF
Ethi 1200-139F 2D80-2DDF AB00-AB2F
Cher 13A0-13FF
Khmr 1780-17FF 19E0-19FF
Kana 3040-30FF 31F0-31FF FF66-FF9F
Hani 3400-4DBF 4E00-9FFF F900-FAFF 20000-2FA1F
"""
_RANGES = sorted(
    (int(start, 16), int(end, 16), script)
    for line in _SCRIPT_BLOCKS.strip().splitlines()
    for script, *blocks in [line.split()]
    for start, end in (block.split("-") for block in blocks)
)
_STARTS = [start for start, _, _ in _RANGES]

# A letter's weight: one Han character or Hangul block says as much as a few Latin letters.
_WEIGHT = {"Hani": 3, "Hang": 2, "Kana": 2}

# Language (base code) -> the script it is written in. Anything not listed is taken as Latin.
_SCRIPT_OF = {
    **dict.fromkeys(("zh", "yue", "cmn", "nan", "hak", "wuu"), "Hani"),
    "ja": "Jpan",
    "ko": "Hang",
    **dict.fromkeys(("ar", "fa", "prs", "pes", "ps", "pbt", "ur", "ug", "ckb", "sd", "pnb", "arz"), "Arab"),
    **dict.fromkeys(("ru", "uk", "be", "bg", "mk", "sr", "kk", "ky", "mn", "tg", "tt"), "Cyrl"),
    **dict.fromkeys(("hi", "ne", "npi", "mr", "mai", "sa", "bho"), "Deva"),
    **dict.fromkeys(("bn", "as"), "Beng"),
    "pa": "Guru",
    "gu": "Gujr",
    "or": "Orya",
    "ta": "Taml",
    "te": "Telu",
    "kn": "Knda",
    "ml": "Mlym",
    "si": "Sinh",
    "th": "Thai",
    "lo": "Laoo",
    **dict.fromkeys(("bo", "dz"), "Tibt"),
    **dict.fromkeys(("my", "ksw", "shn"), "Mymr"),
    "ka": "Geor",
    "hy": "Armn",
    "hyw": "Armn",
    **dict.fromkeys(("he", "iw", "yi"), "Hebr"),
    "el": "Grek",
    **dict.fromkeys(("am", "ti", "tig", "om-Ethi"), "Ethi"),
    "km": "Khmr",
    "chr": "Cher",
}

# Registry codes lingua knows under another code (Dari is a Persian variety, Filipino is Tagalog).
_IDENTIFIER_ALIAS = {"prs": "fa", "pes": "fa", "fil": "tl", "iw": "he", "npi": "ne", "pbt": "ps"}


def _base(code: str) -> str:
    return code.split("-")[0].lower()


def script_of(code: str) -> str:
    """The script a language is written in: 'Latn', 'Hani', 'Jpan' (kana and Han), 'Arab'..."""
    return _SCRIPT_OF.get(code.lower(), _SCRIPT_OF.get(_base(code), "Latn"))


def _writes(code: str, script: str) -> bool:
    """Does text in `script` read as this language? Japanese is also written in Han characters alone."""
    own = script_of(code)
    return own == script or (own == "Jpan" and script in ("Hani", "Kana"))


def _char_script(ch: str) -> str | None:
    cp = ord(ch)
    i = bisect.bisect_right(_STARTS, cp) - 1
    if i >= 0 and _RANGES[i][0] <= cp <= _RANGES[i][1]:
        return _RANGES[i][2]
    return None


@cache
def identifier_language(code: str) -> Language | None:
    """The lingua language for a registry code, or None when lingua lacks it (hmn, sm, to, km...)."""
    base = _IDENTIFIER_ALIAS.get(code.lower(), _IDENTIFIER_ALIAS.get(_base(code), _base(code)))
    if script_of(code) == "Hani":
        return None  # Han text is decided by script and characters, never by the model
    try:
        if len(base) == 2:
            return Language.from_iso_code_639_1(IsoCode639_1.from_str(base))
        return Language.from_iso_code_639_3(IsoCode639_3.from_str(base))
    except ValueError:
        return None


# --- What the text is made of ------------------------------------------------------------------------

_WORD = re.compile(r"[¿¡]?[^\W\d_]+(?:['’ʻ`-][^\W\d_]+)*")
_ACRONYM = re.compile(r"^[A-Z][A-Z0-9]+(?:['’]?s)?$")  # IEP, ELPAC, LCAP, K12, IEPs
_TITLES = {"mr", "mrs", "ms", "dr", "sr", "sra", "srta", "st"}  # "Ms. Nguyen": the period ends no sentence
_SENTENCE_END = re.compile(r"[.!?¡¿。！？:\n]\s*$")


def _words(text: str) -> list[str]:
    """The words that can tell a language: markup, acronyms, numbers and names inside a sentence removed."""
    kept: list[str] = []
    pieces: list[str] = []
    pos = 0
    for start, end in protected_spans(text):
        pieces.append(text[pos:start] + " \n")  # a mention or link ends the sentence for name purposes
        pos = end
    pieces.append(text[pos:])
    text = "".join(pieces)
    names: list[int] = []
    prev = ""
    for match in _WORD.finditer(text):
        word = match.group()
        glued = text[match.start() - 1 : match.start()] + text[match.end() : match.end() + 1]
        if _ACRONYM.match(word) or (any(ch.isdigit() or ch == "_" for ch in glued) and word.isascii()):
            continue  # IEP, ELPAC; 3rd, 6pm, K12, snake_case
        first = word[0]
        at_start = not kept or (
            _SENTENCE_END.search(text, 0, match.start()) is not None and prev.lower() not in _TITLES
        )
        prev = word
        if first.isupper() and not at_start and _char_script(first) in ("Latn", "Cyrl", "Grek", "Armn"):
            names.append(len(kept))  # a capitalised word inside a sentence: probably a name
        kept.append(word)
    # Drop names unless most words are capitalised (a title, or a message typed in Title Case).
    if names and len(names) * 2 <= len(kept):
        drop = set(names)
        kept = [word for i, word in enumerate(kept) if i not in drop]
    return kept


@dataclass(frozen=True)
class _Profile:
    words: list[str]
    weights: Counter[str]  # script -> weighted letter count

    @property
    def total(self) -> int:
        return sum(self.weights.values())

    def share(self, test) -> float:
        total = self.total
        return sum(w for s, w in self.weights.items() if test(s)) / total if total else 0.0

    @property
    def dominant(self) -> str:
        return self.weights.most_common(1)[0][0]


def _profile(text: str) -> _Profile:
    words = _words(text)
    weights: Counter[str] = Counter()
    for word in words:
        for ch in word:
            script = _char_script(ch)
            if script and ch.isalpha():
                weights[script] += _WEIGHT.get(script, 1)
    if weights["Kana"]:  # kana makes the Han characters around them Japanese
        weights["Kana"] += weights.pop("Hani", 0)
    return _Profile(words, weights)


# --- Han: never switch among Chinese channels; pick Traditional or Simplified by the characters -------

_PAIRS = (  # Traditional, Simplified: common characters written differently
    "們们 這这 個个 會会 說说 時时 國国 來来 對对 麼么 沒没 還还 進进 過过 學学 長长 開开 問问 題题 謝谢 "
    "請请 幾几 點点 為为 嗎吗 聽听 見见 課课 書书 後后 從从 讓让 給给 錢钱 車车 單单 電电 話话 與与 務务 "
    "報报 員员 幫帮 現现 樣样 師师 級级 經经 實实 體体 關关 發发 當当 應应 無无 專专 動动 邊边 親亲 區区 "
    "兒儿 業业 號号 裡里 東东 費费 選选 園园 準准 備备 議议 遲迟 禮礼 樂乐 貓猫 廳厅 屬属 歡欢 媽妈 愛爱 "
    "壞坏 難难 證证 聯联 雖虽"
)
_TRADITIONAL_SET = {pair[0] for pair in _PAIRS.split()}
_SIMPLIFIED_SET = {pair[1] for pair in _PAIRS.split()}


def _han_choice(text: str, candidates: list[str]) -> str:
    """zh-CN for Simplified text when the meeting has it; else Traditional (zh-TW, then yue); else the first."""
    simplified = sum(ch in _SIMPLIFIED_SET for ch in text) > sum(ch in _TRADITIONAL_SET for ch in text)
    order = ("zh-cn", "zh-hans", "zh", "zh-tw", "zh-hant", "yue") if simplified else ("zh-tw", "zh-hant", "yue")
    for wanted in order:
        for code in candidates:
            if code.lower() == wanted:
                return code
    return candidates[0]


# --- Words and letters that mark a language ------------------------------------------------------
# A few of each language's commonest words (and letters no other meeting language uses), chosen to be rare in
# the others. They keep a message in its channel ("Libre po ba ang summer school?" stays Filipino), confirm a
# switch on a short text, and recognise the languages lingua lacks. Languages usually typed without their
# diacritics or ʻokina are compared folded ("Mālō" = "malo", "Fa'afetai" = "faafetai").


@dataclass(frozen=True)
class _Marks:
    words: frozenset[str]
    letters: str = ""
    folded: bool = False


def _marks(words: str, letters: str = "", folded: bool = False) -> _Marks:
    return _Marks(frozenset(words.split()), letters, folded)


_VI_LETTERS = "ăâêôđơưạảấầẩẫậắằẳẵặẹẻẽếềểễệỉịọỏốồổỗộớờởỡợụủứừửữựỳỵỷỹ"
_MARKERS: dict[str, _Marks] = {
    "en": _marks(
        "the and you your yes thank thanks please hello bye everyone evening morning night good sorry what when "
        "where how who why is are was will would can can't could don't i'm it's i'll we our this that there here "
        "with for from about have has not see agree question meeting tonight tomorrow today great sounds got "
        "okay also too very much"
    ),
    "es": _marks(
        "gracias sí si por hola buenas buenos noches días tardes bueno buena mañana que qué está estoy mi mis "
        "hijo hija hijos hijas nos vemos del las los el y es una para con muy bien también tengo puede puedo "
        "cuándo cuando dónde donde cómo hay junta reunión escuela maestra maestro voy listo igualmente nada "
        "entiendo acuerdo perdón claro todavía luego hasta permiso usted ustedes yo señora señor niños gusto "
        "parece se escucha escuchan gratis verano",
        "ñ¿¡",
    ),
    "pt": _marks(
        "obrigado obrigada sim não você vocês meu minha filho filha boa noite bom também escola reunião "
        "pergunta desculpe atraso entendi até amanhã muito ônibus tá tudo então isso esse essa uma com pra "
        "posso quando onde eu pode",
        "ãõç",
    ),
    "tl": _marks(
        "po opo salamat ang ng mga sa ako ko ikaw siya kami tayo kayo namin natin hindi ba lang naman din rin "
        "yung kasi kung ay anak magandang gabi umaga pasensya sige paano kailan saan ano oras pulong tanong ingat "
        "wala"
    ),
    "vi": _marks(
        "cảm ơn không được tôi dạ vâng chào chúc ngủ học lớp của có là và cô thầy nhé ạ ơi rồi gì đâu", _VI_LETTERS
    ),
    "so": _marks(
        "waan wuxuu waxaan mahadsanid haa fadlan iyo ee soo aan baan ayuu ayaa shirka dugsiga hagaag xumahay "
        "su'aal galab wanaagsan ku waa waxaa wuu"
    ),
    "sw": _marks(
        "asante sana ndiyo hapana habari nzuri tafadhali samahani mkutano shule mtoto mwanangu nina swali kwa "
        "ngapi sawa karibu za jioni vizuri hii leo kesho mimi wewe yangu"
    ),
    "ht": _marks(
        "mesi anpil bonswa bonjou moun mwen dako tanpri reyinyon komanse eskize paske reta gen yon kesyon pitit "
        "gason lekol fwa semen eske voye kane kreyol nou pou konnen vle kijan poukisa timoun tande pa wi",
        folded=True,
    ),
    "hmn": _marks(
        "kuv koj nws peb nej lawv thiab tsis yog muaj ntawm hauv yuav lub tus cov zoo tsaug nyob txhua thov "
        "txim hais dua sib tham thaum twg hnov kawm ntawv menyuam tsev npav zaug lim tiam qib ntxhais tub nug "
        "lus txhais pab pom lig tuaj puas cas dab tsi lawm ntau ntej tom daim caij ntuj dawb zov neeg hnub qhab "
        "nia xav paub ua",
        folded=True,
    ),
    "sm": _marks(
        "faafetai talofa manuia afiafi malie lagona faamolemole faamalie tuai lau lou loo fesili atalii vasega "
        "aoga lenei vaiaso mafai lafo lipoti gagana lelei ioe tatou outou matou tamaiti fono amata taimi ua ona "
        "faaliliuga matua fai toe",
        folded=True,
    ),
    "to": _marks(
        "malo aupito oku ikai fanongo kataki fakataha fehui eku hoku foha kalasi nae tomui uike efiafi kamata "
        "ako tuo fakamolemole lelei fanau matua io fiha kuo loto lea",
        folded=True,
    ),
    "ch": _marks(
        "hafa adai yuos maase talo hunggan hungok sangan ngaian tutuhon inetnon guaha gaigi fabot atrasao "
        "kumekeyakeyagui yu hu lahi famaguon manaina",
        "å",
        folded=True,
    ),
    "mh": _marks(
        "kommol iakwe aolep ij erra jab jouj jete kweilok enaaj jino jolok rumwij ewor juon kajitok laddik ej "
        "kilaaj kajilu bwe eo ao ron bod aaet",
        "ļņ",
        folded=True,
    ),
    "ilo": _marks(
        "agyamanak unay naimbag rabii kadakayo diak mangngeg pakiulitem ania irugi umanamongak pakawanennak "
        "naladawak adda saludsodko maawatan anakko ket iti maikatlo kaano sumaruno gimong kasano naladaw mamitlo "
        "daytoy lawas mabalin kadi kadagiti ubbing bayat wen agannad ken siak sika",
        folded=True,
    ),
    "quc": _marks("maltyox chiwe utz awach kamajtaj riqobik xbe qij kinta jas", folded=True),
    "ru": _marks(
        "спасибо да нет здравствуйте пожалуйста добрый вечер хорошо понятно меня мой моя вопрос когда как это что",
        "ыэъё",
    ),
    "uk": _marks("дякую так ні будь ласка добрий вечір дня мій моя коли як що це щиро доброго зрозуміло добре", "іїєґ"),
    "ar": _marks(
        "شكرا نعم مساء الخير السلام عليكم فضلك هل متى أين كيف ابني ابنتي المدرسة الاجتماع حسنا لدي أنا في على "
        "من إلى هذا هذه ما لا أن عن مع كان التي الذي سؤال",
        "ةىؤأإ",
    ),
    "fa": _marks("ممنون مرسی خیلی بله لطفا ببخشید جلسه مدرسه پسرم دخترم است دارم باشه تشکر بلی مکتب صنف ناوقت"),
    "ur": _marks("شکریہ بہت جی ہے ہیں میں میرا میری", "ٹڈڑںےہھ"),
    "ps": _marks("مننه زه ته دا یم", "ټډړښږځڅڼېۍګ"),
    "hi": _marks("हाँ हां जी है हैं हूँ हूं मेरा मेरी में नहीं क्या आप यह और भी रही रहा होगी कब"),
    "ne": _marks(
        "छ छु छन् मेरो हाम्रो तपाईं तपाई हुन्छ गर्नुहोस् भन्नुहोस् कति एउटा धेरै फेरि लाई आयो भएको भएकोमा सक्छ हजुर पढ्छ कक्षामा आएन नमस्कार"
    ),
    "ti": _marks("እወ የቐንየለይ ብጣዕሚ ሕራይ ሓደ ሕቶ ኣለኒ ወደይ ንገሩኒ ክንደይ ከመይ ናይ እንታይ ኣብ እዩ ኢዩ ይሰማማዓኒ", "ቐቑቒቓቔቕቖኣ"),
    "am": _marks("አዎ አመሰግናለሁ በጣም እሺ ነው አለኝ ልጄ አንድ ምን እንዴት ነኝ እና ግን እስማማለሁ አልሰማሁም"),
}
_MARKERS["prs"] = _MARKERS["fa"]
# A switch to these needs one of their letters: Urdu and Pashto text without them is Persian or Arabic.
_LETTERS_REQUIRED = ("ur", "ps", "ti")
_APOSTROPHES = str.maketrans({"’": "'", "‘": "'", "ʻ": "'", "`": "'"})


def _fold(word: str) -> str:
    """Case, apostrophes, ʻokina and diacritics off."""
    word = word.lower().translate(_APOSTROPHES).replace("'", "")
    return "".join(ch for ch in unicodedata.normalize("NFKD", word) if not unicodedata.combining(ch))


def _marks_of(code: str) -> _Marks | None:
    return _MARKERS.get(code.lower()) or _MARKERS.get(_base(code))


def _hits(code: str, words: list[str]) -> int:
    """How many of the words are this language's common words or carry one of its letters."""
    marks = _marks_of(code)
    if marks is None:
        return 0
    count = 0
    for word in words:
        lowered = word.lower().translate(_APOSTROPHES)
        if (_fold(word) if marks.folded else lowered) in marks.words or any(ch in marks.letters for ch in lowered):
            count += 1
    return count


# Look-alikes offered to lingua beside the meeting's languages when one of those it lacks is in play, so that
# (say) Samoan text can land on Maori instead of being forced onto English or Spanish.
_BACKGROUND = {
    "Latn": ("en", "es", "tl", "id", "mi", "yo", "so", "sw", "fr", "vi"),
    "Deva": ("hi", "mr"),
    "Arab": ("ar", "fa", "ur"),
    "Cyrl": ("ru", "uk", "bg"),
}


# --- The decision ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Detection:
    language: str  # the code to translate from
    reason: str  # "channel", "script", "identifier", "words"
    confidence: float = 0.0


class Detector:
    """Language detection for a meeting's messages. One per process: lingua's models are shared by every
    detector built here, and the detectors for each meeting's language set are cached.

    Texts under `model_from` words (after markup, acronyms and names are dropped) switch only on words: at
    least half of them common words of one other meeting language, none of the channel's. Longer texts switch
    when lingua, among the meeting's languages in that script (plus look-alikes when one lingua lacks is in
    play), ranks another language first and gives it at least `threshold` of its confidence shared with the
    channel's language (or, for a language lingua lacks, with the best look-alike).
    """

    def __init__(self, *, high_accuracy: bool = False, threshold: float = 0.9, model_from: int = 4) -> None:
        self.high_accuracy = high_accuracy
        self.threshold = threshold
        self.model_from = model_from
        self._detectors: dict[frozenset[Language], LanguageDetector] = {}
        self._lock = threading.Lock()

    # -- lingua --

    def _detector(self, langs: frozenset[Language]) -> LanguageDetector:
        with self._lock:
            detector = self._detectors.get(langs)
            if detector is None:
                builder = LanguageDetectorBuilder.from_languages(*langs)
                if not self.high_accuracy:
                    builder = builder.with_low_accuracy_mode()
                detector = self._detectors[langs] = builder.build()
            return detector

    @staticmethod
    def _languages(codes: list[str]) -> tuple[dict[Language, str], frozenset[Language]]:
        """lingua's languages for `codes` (-> the first code of each), and the set to build a detector from:
        those, plus the script's look-alikes when one of `codes` is a language lingua lacks."""
        own: dict[Language, str] = {}
        for code in codes:
            lang = identifier_language(code)
            if lang is not None:
                own.setdefault(lang, code)
        langs = set(own)
        if any(identifier_language(c) is None for c in codes):
            for code in _BACKGROUND.get(script_of(codes[0]), ()):
                if (lang := identifier_language(code)) is not None:
                    langs.add(lang)
        return own, frozenset(langs)

    def _scores(self, words: list[str], codes: list[str]) -> tuple[dict[Language, str], list[tuple[Language, float]]]:
        own, langs = self._languages(codes)
        if not own or len(langs) < 2:
            return own, []
        values = self._detector(langs).compute_language_confidence_values(" ".join(words))
        return own, [(v.language, v.value) for v in values]

    def warm(self, meeting_languages: Iterable[str]) -> None:
        """Load a meeting's models now (in a worker thread at meeting start) rather than on its first message."""
        codes = list(dict.fromkeys(meeting_languages))
        for script in {script_of(c) for c in codes}:
            own, langs = self._languages([c for c in codes if _writes(c, script)])
            if own and len(langs) >= 2:
                self._detector(langs).compute_language_confidence_values("warm up")

    # -- the rules --

    def detect(self, text: str, channel_language: str, meeting_languages: Iterable[str]) -> Detection:
        channel = channel_language
        meeting = [c for c in dict.fromkeys(meeting_languages) if c.lower() != channel.lower()]
        if not meeting:
            return Detection(channel, "channel")
        profile = _profile(text)
        if profile.total < 2:
            return Detection(channel, "channel")  # emoji, a link, "IEP", a number: nothing to go on
        if profile.share(lambda s: _writes(channel, s)) >= 0.3:
            others = [c for c in meeting if _writes(c, script_of(channel))]
            return self._same_script(profile.words, channel, others)
        return self._other_script(profile, text, channel, meeting)

    def _same_script(self, words: list[str], channel: str, others: list[str]) -> Detection:
        """Text (mostly) in the channel's own script: switch only on strong evidence."""
        stay = Detection(channel, "channel")
        channel_id = identifier_language(channel)
        # Persian text in #dari is the same language to the model: never a switch.
        others = [c for c in others if channel_id is None or identifier_language(c) != channel_id]
        if not others or _hits(channel, words) * 8 >= len(words):
            return stay  # no other language in this script, or the channel language's own words
        return self._by_words(others, words, channel) or self._by_model(words, channel, others) or stay

    def _other_script(self, profile: _Profile, text: str, channel: str, meeting: list[str]) -> Detection:
        """Text in a script the channel's language is not written in: the script picks among the meeting."""
        script = profile.dominant
        candidates = [c for c in meeting if _writes(c, script)]
        if not candidates:
            return Detection(channel, "channel")
        if script == "Hani":
            han = [c for c in candidates if script_of(c) == "Hani"]
            return Detection(_han_choice(text, han) if han else candidates[0], "script", 1.0)
        if len({identifier_language(c) or c.lower() for c in candidates}) == 1:
            return Detection(candidates[0], "script", 1.0)
        words = [w for w in profile.words if _char_script(w[0]) == script]
        found = self._by_words(candidates, words) or self._by_model(words, None, candidates)
        if found:
            return found
        if script == "Latn":
            return Detection(channel, "channel")  # "ok", "haha", "Zoom" in #العربية: no language to go on
        # Text in Arabic or Ethiopic script is not the channel's language: the model's best guess, or the
        # first such meeting language.
        own, scores = self._scores(words, candidates)
        ranked = [own[lang] for lang, _ in scores if lang in own and lang in _allowed(own[lang], words)]
        return Detection(ranked[0] if ranked else candidates[0], "script", 0.0)

    def _by_model(self, words: list[str], channel: str | None, others: list[str]) -> Detection | None:
        """lingua's pick among the channel's language and `others`, when it is one of `others` and clearly
        ahead of the channel's language (or, with no channel, of the runner-up)."""
        if len(words) < self.model_from:
            return None
        codes = [channel, *others] if channel else others
        own, scores = self._scores(words, codes)
        if not scores or scores[0][0] not in own:
            return None
        best_lang, best = scores[0]
        code = own[best_lang]
        if code == channel or best_lang not in _allowed(code, words):
            return None
        channel_lang = identifier_language(channel) if channel else None
        if channel_lang is not None:
            rival = dict(scores).get(channel_lang, 0.0)
        else:  # the channel's language is unknown to lingua (or ruled out): the runner-up stands in for it
            rival = scores[1][1] if len(scores) > 1 else 0.0
        if best <= 0 or best / (best + rival) < self.threshold:
            return None
        if channel is not None and channel_lang is None and not _hits(code, words):
            return None  # lingua cannot know the channel's language: it must also show the new one's words
        return Detection(code, "identifier", best)

    def _by_words(self, candidates: list[str], words: list[str], channel: str | None = None) -> Detection | None:
        """A language recognised by its common words, more of them than any other candidate's (and twice the
        channel language's). With a channel (the text is written like its language): half of a short text's
        words, or two and a third of a longer one's. Without (the script rules the channel out): one."""
        hits = {c: _hits(c, words) for c in candidates}
        best = max(hits, key=hits.__getitem__, default=None)
        if best is None or not hits[best] or any(h >= hits[best] for c, h in hits.items() if c != best):
            return None
        n, found = len(words), hits[best]
        if channel is not None:
            if found <= 2 * _hits(channel, words):
                return None
            if found * 2 < n if n < self.model_from else (found < 2 or found * 3 < n):
                return None
        return Detection(best, "words", found / n)


def _allowed(code: str, words: list[str]) -> set[Language]:
    """The lingua language of `code` unless the text lacks the letters that language always shows (Urdu's
    ے ہ ں, Pashto's ښ ځ څ...): then nothing."""
    lang = identifier_language(code)
    if lang is None or (_base(code) in _LETTERS_REQUIRED and not _hits(code, words)):
        return set()
    return {lang}


_default = Detector()


def detect_source(text: str, channel_language: str, meeting_languages: Iterable[str]) -> str:
    """The language to translate `text` from: `channel_language` unless the text is confidently another of
    `meeting_languages`. Pure CPU, under a millisecond once the meeting's models are loaded; the first call
    for a new set of languages loads them (tens of ms), so call it off the event loop or `warm` first."""
    return _default.detect(text, channel_language, meeting_languages).language


def warm(meeting_languages: Iterable[str]) -> None:
    """Load the models `detect_source` will need for this meeting (blocking; run in a worker thread)."""
    _default.warm(meeting_languages)
