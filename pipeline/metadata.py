"""Metadata: what can be said about an article beyond its text.

In:  a cleaned body, the parsed header, a ``MetadataConfig``.
Out: ``Extracted``: title (header attribute, else a title line, else none), sub-headings, the text
     with the title line and any dateline taken out, the dateline's date, quotes, word and character
     counts; plus helpers for language (ISO 639-1), content hash and stable article id.

Language comes from py3langid, whose model ships inside its wheel: nothing is downloaded at run
time. It runs on a bounded prefix so that its cost per article is constant; a best guess below
``MetadataConfig.language_min_score`` (a table of numbers, a line of names) is ``und``.

Every script: words are what ``\\w`` matches in scripts that separate words with spaces (Latin,
Cyrillic, Greek, Arabic, Hebrew, Hangul, Devanagari with its vowel signs ...); in scripts that do
not (Han, Kana, Thai, Lao, Myanmar, Khmer) a run of letters counts by a per-script rule
(``word_count``) and near-duplicate shingles are character n-grams (``minhash``).
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass

from .config import DateConfig, MetadataConfig
from .dates import ParsedDate, parse_dateline

_identifier = None
_identifier_langs: tuple[str, ...] | None = None

# Cheap targeted check before the detector: the most frequent function words of the languages
# news-etl sees most. A text whose opening words are unmistakably one of these (many hits, a
# clear margin over the others) needs no model; anything else goes to py3langid. The lists share
# no word across languages; tests/test_metadata.py checks agreement with py3langid on the corpora.
_STOPWORDS = {
    "en": "the of and to in is that for it was on with as he be by at are from this have has but not they his "
    "which an their were been said will its who had would".split(),
    "fr": "le la les de des du et un une est que qui dans pour pas sur au avec ce il elle sont par plus se ont été "
    "aux cette mais ses leur nous vous".split(),
    "de": "der die und das ist nicht mit den von zu sich auf für dem ein eine auch im dass wird wurde sind bei aus "
    "nach wie oder werden hat".split(),
}
_STOP_LOOKUP = {w: lang for lang, words in _STOPWORDS.items() for w in words}
_STOP_LOOKUP_LATIN1 = {w.encode("latin-1"): lang for w, lang in _STOP_LOOKUP.items()}
_FAST_WORD = re.compile(r"\w+")
_FAST_WORDS = 150  # the first words are enough to be sure, or to know we are not
# The first words as Latin-1 bytes: every byte that ``\w`` does not match becomes a space, so
# bytes.split() gives exactly the matches of _FAST_WORD (five times faster than its findall).
_NOT_WORD_LATIN1 = bytes(b if re.match(r"\w", chr(b)) else 0x20 for b in range(256))
_BEYOND_LATIN1 = re.compile("[^\x00-\xff]")
# str.lower() of each Latin-1 character, which is one Latin-1 character (tests check it); the
# lower case of a Latin-1 text is its characters' (no context rule such as a final sigma applies).
_LATIN1_LOWER = bytes(ord(chr(b).lower()) for b in range(256))
_LOWER_NOT_WORD_LATIN1 = bytes(_NOT_WORD_LATIN1[c] for c in _LATIN1_LOWER)  # lower-cased, then words


def _first_words(head: str) -> tuple[list[str] | list[bytes], dict]:
    """(the matches of ``_FAST_WORD`` in ``head.lower()``, the stop-word lookup for them): as
    Latin-1 bytes when every word character of it is Latin-1 (punctuation beyond it, ’ “ — …,
    becomes a ``?``, no word character either)."""
    try:  # Latin-1: lower-cased and cut into words by one bytes table
        return head.encode("latin-1").translate(_LOWER_NOT_WORD_LATIN1).split(), _STOP_LOOKUP_LATIN1
    except UnicodeEncodeError:
        head = head.lower()
    try:
        data = head.encode("latin-1")
    except UnicodeEncodeError:
        if any(ch.isalnum() for ch in _BEYOND_LATIN1.findall(head)):  # what \w matches beyond
            return _FAST_WORD.findall(head), _STOP_LOOKUP
        data = head.encode("latin-1", "replace")
    return data.translate(_NOT_WORD_LATIN1).split(), _STOP_LOOKUP_LATIN1


def _fast_language(text: str) -> tuple[str, float] | None:
    words, lookup = _first_words(text[:1200])
    words = words[:_FAST_WORDS]
    if len(words) < 40:
        return None
    hits: dict[str, int] = {}
    for lang in map(lookup.get, words):
        if lang:
            hits[lang] = hits.get(lang, 0) + 1
    if not hits:
        return None
    ranked = sorted(hits.values(), reverse=True)
    best = max(hits, key=hits.get)
    top, second = ranked[0], (ranked[1] if len(ranked) > 1 else 0)
    if top >= 0.2 * len(words) and top >= 4 * second + 4:
        return best, 1.0
    return None


def detect_language(text: str, config: MetadataConfig = MetadataConfig()) -> tuple[str, float]:
    """(ISO 639 code, probability) of the text's first ``language_prefix_chars`` characters;
    ``und`` (undetermined) when the best probability is below ``language_min_score``.

    Unmistakable English, French or German is recognised by its function words (about 20 us);
    the rest goes to py3langid (about 0.5 ms per 1,000 characters)."""
    global _identifier, _identifier_langs
    if not config.languages or set(_STOPWORDS) <= set(config.languages):
        fast = _fast_language(text)
        if fast:
            return fast
    if _identifier is None or _identifier_langs != config.languages:
        from py3langid.langid import MODEL_FILE, LanguageIdentifier

        _identifier = LanguageIdentifier.from_model_file(MODEL_FILE, norm_probs=True)
        if config.languages:
            _identifier.set_languages(list(config.languages))
        _identifier_langs = config.languages
    sample = text[: config.language_prefix_chars]
    if not sample.strip():
        return "und", 0.0
    code, prob = _identifier.classify(sample)
    if prob < config.language_min_score:
        return "und", float(prob)  # a guess is not an identification
    return str(code), float(prob)


# Scripts written without spaces between words, as (first, last) code points. Their words are
# counted per run of letters (word_count) and their shingles are characters (minhash).
#   cjk: Han (with its extensions and compatibility ideographs), Hiragana, Katakana (full and half
#        width, without the middle dot ・), the marks 々 〆 〇.
#   sea: Thai, Lao, Myanmar, Khmer (letters with their vowel and tone marks; not their digits,
#        currency signs or punctuation).
_NOSPACE_SCRIPTS: dict[str, tuple[tuple[int, int], ...]] = {
    "cjk": (
        (0x3005, 0x3007),
        (0x3041, 0x3096),
        (0x3099, 0x309F),
        (0x30A1, 0x30FA),
        (0x30FC, 0x30FF),
        (0x31F0, 0x31FF),
        (0x3400, 0x4DBF),
        (0x4E00, 0x9FFF),
        (0xF900, 0xFAFF),
        (0xFF66, 0xFF9F),
        (0x20000, 0x323AF),
    ),
    "sea": (
        (0x0E01, 0x0E3A),
        (0x0E40, 0x0E4E),
        (0x0E81, 0x0ECE),
        (0x1000, 0x1049),
        (0x1050, 0x109D),
        (0x1780, 0x17D3),
        (0x17D7, 0x17D7),
        (0x17DC, 0x17DD),
    ),
}
# A run of n letters of such a script counts ceil(n * num / den) words: one word per 2 Han or Kana
# characters (most words of Chinese and Japanese news have two), one per 5 code points of Thai,
# Lao, Myanmar or Khmer (letters with their vowel and tone marks: about their mean word length).
# Within a third of a dictionary segmentation's count on the texts of tests/test_metadata.py.
WORDS_PER_CHARS: dict[str, tuple[int, int]] = {"cjk": (1, 2), "sea": (1, 5)}


def _char_class(ranges) -> str:
    return "".join(f"{chr(a)}-{chr(b)}" if b > a else chr(a) for a, b in ranges)


_NOSPACE_CLASS = "".join(_char_class(r) for r in _NOSPACE_SCRIPTS.values())
_NOSPACE_CHAR = re.compile(f"[{_NOSPACE_CLASS}]")
_NOSPACE_RUNS = {name: re.compile(f"[{_char_class(r)}]+") for name, r in _NOSPACE_SCRIPTS.items()}
# Ideographic and full-width punctuation, and that of the scripts above: never part of a shingle.
_NOSPACE_PUNCT = (
    "\u3000-\u3004\u3008-\u303f\u30fb\uff01-\uff0f\uff1a-\uff20\uff3b-\uff40\uff5b-\uff65"
    "\u0e4f\u0e5a\u0e5b\u104a-\u104f\u17d4-\u17d6\u17d8-\u17da"
)

_NOT_NOSPACE_LEAD = bytes(b for b in range(256) if b not in (0xE0, 0xE1, *range(0xE3, 0xEA), 0xEF, 0xF0))
_NOSPACE_PUNCT_RE = re.compile(f"[{_NOSPACE_PUNCT}]")
_NOSPACE_LETTER_RE = re.compile(f"[{_NOSPACE_CLASS}]")


def mixed_tokens_definition(text: str) -> str:
    """What ``minhash`` splits a text that holds letters of a script without spaces into: each
    such letter between spaces, their punctuation a space (``_mixed_tokens`` runs it in numpy)."""
    return _NOSPACE_LETTER_RE.sub(lambda m: f" {m.group(0)} ", _NOSPACE_PUNCT_RE.sub(" ", text))


def _mixed_tokens(text: str) -> bytes:
    """``mixed_tokens_definition`` of the text, UTF-8 encoded; of a prefix only when that prefix
    holds more than the ``_MAX_WORDS`` words minhash reads."""
    import numpy as np

    head = text[: 4 * _MAX_WORDS]
    cp = np.frombuffer(head.encode("utf-32-le"), dtype=np.uint32)
    bmp = np.minimum(cp, 0xFFFF)  # U+FFFF is neither a letter nor punctuation: nor is what maps to it
    letter = _tables()[2][bmp] > 0
    if cp.size and int(cp.max()) > 0xFFFF:
        for a, b in _ASTRAL_NOSPACE:
            letter |= (cp >= a) & (cp <= b)
    cp = np.where(_punct_table()[bmp], np.uint32(32), cp)
    rep = 1 + 2 * letter.astype(np.intp)
    out = np.repeat(cp, rep)
    ends = np.cumsum(rep)
    out[ends[letter] - 3] = 32
    out[ends[letter] - 1] = 32
    data = out.astype("<u4").tobytes().decode("utf-32-le").encode("utf-8")
    if len(head) < len(text) and len(data.translate(_NOT_WORD_BYTE).split()) <= _MAX_WORDS:
        return mixed_tokens_definition(text).encode("utf-8")  # the prefix's last word may be cut
    return data


_ASTRAL_NOSPACE = tuple((a, b) for r in _NOSPACE_SCRIPTS.values() for a, b in r if b > 0xFFFF)
_punct = None


def _punct_table():
    global _punct
    if _punct is None:
        import numpy as np

        _punct = np.zeros(0x10000, dtype=bool)
        _punct[[c for c in range(0x10000) if not 0xD800 <= c <= 0xDFFF and _NOSPACE_PUNCT_RE.match(chr(c))]] = True
    return _punct


_SHINGLE = 5
_MAX_WORDS = 1000  # bounded cost per article; a near-duplicate shows in its first 1,000 words
_BYTE_WORD = re.compile(rb"[0-9A-Za-z_\x80-\xff]+")  # the definition; _NOT_WORD_BYTE is how it runs
# Every byte that cannot be in a word becomes a space, so bytes.split() (C speed, no regex engine)
# gives exactly the runs _BYTE_WORD finds: the same tokens, three times faster.
_NOT_WORD_BYTE = bytes(b if _BYTE_WORD.fullmatch(bytes([b])) else 0x20 for b in range(256))
MINHASH_PERMUTATIONS = 64
_minhash_params = None


def _params():
    global _minhash_params
    if _minhash_params is None:
        import numpy as np

        rng = np.random.default_rng(20161207)  # fixed: signatures must compare across runs
        a = rng.integers(1, 2**63, size=MINHASH_PERMUTATIONS, dtype=np.uint64) | np.uint64(1)
        b = rng.integers(0, 2**63, size=MINHASH_PERMUTATIONS, dtype=np.uint64)
        powers = rng.integers(1, 2**63, size=_SHINGLE, dtype=np.uint64) | np.uint64(1)
        _minhash_params = (a, b, powers)
    return _minhash_params


def minhash(text: str) -> bytes:
    """MinHash signature (64 x uint32, 256 bytes) of the lower-cased word 5-shingles; in a text
    that holds Han, Kana, Thai, Lao, Myanmar or Khmer letters each of those letters is a token
    of its own (character 5-grams there), and a text without them is hashed exactly as always.

    The share of equal positions between two signatures estimates the Jaccard similarity of the
    texts' shingle sets; ``run`` calls two articles near-duplicates above
    ``RunConfig.near_duplicate_jaccard``. Words are hashed with crc32 (stable across processes and
    runs, unlike hash()), shingles and permutations with wrapping uint64 arithmetic.
    """
    import zlib

    import numpy as np

    # Words as byte runs of the lower-cased UTF-8 (any non-ASCII byte counts as a letter): no
    # per-word encode, and the same tokens in every process.
    try:  # Latin-1 text: lower-cased by a bytes table (three times faster than str.lower)
        data = text.encode("latin-1").translate(_LATIN1_LOWER).decode("latin-1").encode("utf-8")
    except UnicodeEncodeError:
        data = text.lower().encode("utf-8")
    # The lead bytes of those letters in UTF-8, a cheap test before the exact one (French ’ « »
    # — lead with E2, which is not among them).
    if data.translate(None, _NOT_NOSPACE_LEAD) and _NOSPACE_CHAR.search(text) is not None:
        data = _mixed_tokens(text.lower())
    words = data.translate(_NOT_WORD_BYTE).split(None, _MAX_WORDS)[:_MAX_WORDS]  # (the rest: one piece)
    a, b, powers = _params()
    if not words:
        return b"\xff" * (4 * MINHASH_PERMUTATIONS)
    wh = np.fromiter(map(zlib.crc32, words), dtype=np.uint64, count=len(words))
    n = max(1, len(words) - _SHINGLE + 1)
    with np.errstate(over="ignore"):
        if len(words) < _SHINGLE:
            sh = np.array([int((wh * powers[: len(words)]).sum())], dtype=np.uint64)
        else:
            sh = wh[:n] * powers[0]
            for k in range(1, _SHINGLE):
                sh += wh[k : k + n] * powers[k]
        # (a * shingle + b) mod 2^64 for each permutation, in place, one row per permutation; the
        # top 32 bits of the minimum are the minimum of the top 32 bits.
        m = np.multiply.outer(a, sh)
        m += b[:, None]
        sig = m.min(axis=1) >> np.uint64(32)
    return sig.astype("<u4").tobytes()


def content_sha256(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def article_id(source_path: str) -> str:
    """Stable id: the same file at the same place in the landing zone keeps its id across reruns,
    whatever the cleaning rules of the day (which change ``content_sha256``, not the id)."""
    return hashlib.blake2b(source_path.encode("utf-8"), digest_size=10).hexdigest()


_JOINERS = "’'-"  # l’ensemble, cessez-le-feu: one word each
_word_regex = None
_word_tables = None


def word_regex() -> re.Pattern[str]:
    """What a word is in a script written with spaces (the definition ``word_count`` runs):
    a word character, then word characters, joiners (’ ' -) and combining marks (the vowel signs
    of Devanagari, Arabic harakat), never a letter of a script written without spaces."""
    global _word_regex
    if _word_regex is None:
        import unicodedata

        marks = "".join(
            chr(c) for c in range(0x10000) if not 0xD800 <= c <= 0xDFFF and unicodedata.category(chr(c)).startswith("M")
        )
        no = f"(?![{_NOSPACE_CLASS}])"
        _word_regex = re.compile(f"{no}\\w(?:{no}[\\w{re.escape(marks)}{_JOINERS}])*")
    return _word_regex


def word_count_definition(text: str) -> int:
    """``word_count`` by regular expressions: its definition, and the path for text beyond the
    Basic Multilingual Plane."""
    n = len(word_regex().findall(text))
    for name, runs in _NOSPACE_RUNS.items():
        num, den = WORDS_PER_CHARS[name]
        n += sum((len(run) * num + den - 1) // den for run in runs.findall(text))
    return n


def _tables():
    global _word_tables
    if _word_tables is None:
        import unicodedata

        import numpy as np

        bmp = [chr(c) for c in range(0x10000)]
        word = np.zeros(0x10000, dtype=bool)  # what \w matches in the Basic Multilingual Plane
        word[[c for c, ch in enumerate(bmp) if not 0xD800 <= c <= 0xDFFF and (ch.isalnum() or c == 0x5F)]] = True
        joins = np.zeros(0x10000, dtype=bool)
        joins[[ord(c) for c in _JOINERS]] = True
        joins[[c for c, ch in enumerate(bmp) if unicodedata.category(ch).startswith("M")]] = True
        script = np.zeros(0x10000, dtype=np.uint8)  # 1 + index in _NOSPACE_SCRIPTS, 0 for none
        for k, ranges in enumerate(_NOSPACE_SCRIPTS.values(), start=1):
            for a, b in ranges:
                script[a : min(b, 0xFFFF) + 1] = k
        word &= script == 0
        joins &= script == 0
        _word_tables = (word, joins, script)
    return _word_tables


# One byte per character class, for ``word_count``: a word character, a joiner, another
# character, a letter of a script written without spaces (by its index in _NOSPACE_SCRIPTS), and
# a character beyond the Basic Multilingual Plane (or a surrogate, which no text holds).
_WORD, _JOINER, _OTHER, _BEYOND_BMP = b"w", b"j", b" ", b"!"
_SCRIPT_CLASS = tuple(bytes([ord("1") + k]) for k in range(len(_NOSPACE_SCRIPTS)))
_class_tables = None


def _classes():
    """(class of each BMP code point as uint8, then of U+10000, the same for Latin-1 as a ``bytes.translate``
    table, one ``bytes.translate`` table per script keeping only its letters)."""
    global _class_tables
    if _class_tables is None:
        import numpy as np

        word, joins, script = _tables()
        assert not (word & joins).any()  # a joiner never starts a word: the classes are disjoint
        cls = np.full(0x10000, ord(_OTHER), dtype=np.uint8)
        cls[word] = ord(_WORD)
        cls[joins] = ord(_JOINER)
        for k, c in enumerate(_SCRIPT_CLASS, start=1):
            cls[script == k] = ord(c)
        cls[0xD800:0xE000] = ord(_BEYOND_BMP)
        cls = np.append(cls, np.uint8(ord(_BEYOND_BMP)))  # what any code point above U+FFFF clips to
        latin1 = cls[:256].tobytes()
        only = tuple(bytes(b if bytes([b]) == c else ord(_OTHER) for b in range(256)) for c in _SCRIPT_CLASS)
        _class_tables = (cls, latin1, only)
    return _class_tables


def word_count(text: str) -> int:
    """Words in ``text``: matches of ``word_regex()`` plus, for each run of letters of a script
    written without spaces, its length by ``WORDS_PER_CHARS``. Counted on one class byte per
    character (``_classes``) with bytes methods instead of the regex engine (a fifth of the
    time on a news article; tests check they agree with ``word_count_definition``).

    A match starts at a word character that does not continue a match: one whose previous
    character that is not a joiner (’ ' - or a combining mark) is not a word character either.
    So with the joiners taken out, the matches are the runs of word characters.
    """
    import numpy as np

    if not text:
        return 0
    cls_table, latin1, only = _classes()
    try:
        classes = text.encode("latin-1").translate(latin1)
    except UnicodeEncodeError:
        code_points = np.frombuffer(text.encode("utf-32-le"), dtype=np.uint32)
        classes = cls_table.take(code_points, mode="clip").tobytes()  # beyond the BMP: the last
        if _BEYOND_BMP in classes:  # emoji, rare scripts: the definition itself
            return word_count_definition(text)
    words = classes.replace(_JOINER, b"") if _JOINER in classes else classes
    n = 0
    for k, (name, c) in enumerate(zip(_NOSPACE_SCRIPTS, _SCRIPT_CLASS)):
        if c in classes:
            num, den = WORDS_PER_CHARS[name]
            n += sum((len(run) * num + den - 1) // den for run in classes.translate(only[k]).split())
    if not words:
        return n
    # Runs of word characters: a word character after anything else, or first (bytes.count of
    # the pair is four times slower than this on prose, where both bytes are frequent).
    w = np.frombuffer(words, dtype=np.uint8) == ord(_WORD)
    return n + int(np.count_nonzero(w[1:] > w[:-1])) + int(w[0])


# A quote: between « », “ ”, „ “ (or „ ”) or straight double quotes (on one line), 2 to 600
# characters. Greedy repeats, which run faster than lazy ones and match the same: a quote's
# characters exclude its closing mark, so a match ends at the first one whichever the repeat,
# and the white space a greedy repeat keeps inside « » is what ``quotes`` strips anyway.
_QUOTES = re.compile(r"«\s*([^«»]{2,600})\s*»|“([^“”]{2,600})”|„([^„“”]{2,600})[“”]|\"([^\"\n]{2,600})\"")
_SENTENCE_END = re.compile(r"[.;,:]$")
_ELLIPSIS_END = re.compile(r"(\.\.\.|…)$")


def quotes(text: str) -> list[str]:
    """The quotes of a text (``_QUOTES``), stripped of white space, in order."""
    # One group of the four matched; the others are empty (a quote is never empty).
    return [(a or b or c or d).strip() for a, b, c, d in _QUOTES.findall(text)]


@dataclass(frozen=True, slots=True)
class Extracted:
    title: str | None
    subheadings: list[str]
    text: str
    dateline: ParsedDate | None
    quotes: list[str]
    word_count: int
    char_count: int


def _is_title(line: str, config: MetadataConfig) -> bool:
    if len(line) > config.title_max_chars or len(line.split()) > config.title_max_words:
        return False
    if _SENTENCE_END.search(line) and not _ELLIPSIS_END.search(line):
        return False
    return any(ch.isalpha() for ch in line)


def _is_subheading(par: str, next_par: str | None, config: MetadataConfig) -> bool:
    if "\n" in par or next_par is None:
        return False
    if len(par) > config.subheading_max_chars or len(par.split()) > config.subheading_max_words:
        return False
    if _SENTENCE_END.search(par) or par.endswith(("!", "?", "»", "”", '"')):
        return False
    first = par[0]
    return (first.isupper() or first.isdigit()) and len(next_par) > len(par)


def extract(
    body: str,
    header_title: str | None,
    config: MetadataConfig = MetadataConfig(),
    dates: DateConfig = DateConfig(),
) -> Extracted:
    lines = body.split("\n")
    n_lines = len(lines)
    dateline: ParsedDate | None = None
    # A dateline among the first lines is metadata, not text.
    seen = 0
    for i, line in enumerate(lines):
        if not line:
            continue
        seen += 1
        if seen > 3:
            break
        parsed = parse_dateline(line, dates)
        if parsed:
            dateline = parsed
            del lines[i]
            break

    title = header_title
    first = next((i for i, line in enumerate(lines) if line), None)
    if first is not None:
        rest_nonempty = any(line for line in lines[first + 1 :])
        line = lines[first]
        if title and line.strip().casefold() == title.strip().casefold():
            del lines[first]  # the header title repeated as the first line
        elif title is None and rest_nonempty and _is_title(line, config):
            title = line
            del lines[first]
    text = ("\n".join(lines) if len(lines) < n_lines else body).strip("\n")  # (no line taken out: the body)
    if "\n\n\n" in text:
        text = re.sub(r"\n{3,}", "\n\n", text)

    paragraphs = text.split("\n\n")
    subheadings = [
        p
        for i, p in enumerate(paragraphs)
        if _is_subheading(p, paragraphs[i + 1] if i + 1 < len(paragraphs) else None, config)
    ]

    return Extracted(
        title=title,
        subheadings=subheadings,
        text=text,
        dateline=dateline,
        quotes=quotes(text),
        word_count=word_count(text),
        char_count=len(text),
    )
