"""Metadata: title, sub-headings, datelines, quotes, counts, language, ids."""

from __future__ import annotations

from pipeline.metadata import article_id, content_sha256, detect_language, extract


def test_title_line_then_paragraphs():
    e = extract("Port expansion wins approval\n\nThe harbour authority agreed.\n\nMore text.", None)
    assert e.title == "Port expansion wins approval"
    assert e.text.startswith("The harbour authority")


def test_no_title_when_the_first_line_is_a_paragraph():
    body = "Fort de ses succès militaires, le régime a refusé les appels à cesser le feu.\n\nSuite."
    assert extract(body, None).title is None


def test_header_title_wins_and_its_repetition_is_dropped():
    e = extract("Budget adopted\n\nThe council voted.", "Budget adopted")
    assert e.title == "Budget adopted" and e.text == "The council voted."


def test_subheadings_are_short_standalone_lines_between_paragraphs():
    body = (
        "Premier paragraphe assez long pour être un paragraphe.\n\nLes écoles d’abord\n\n"
        "Un paragraphe qui suit la sous-partie et qui est long.\n\nConclusion."
    )
    e = extract(body, "Titre")
    assert e.subheadings == ["Les écoles d’abord"]


def test_dateline_is_metadata_not_text():
    e = extract("Publié le 5 décembre 2016 à 10h30\n\nGrève des transports\n\nLe trafic est perturbé.", None)
    assert e.dateline is not None and e.dateline.precision == "minute"
    assert "Publié" not in e.text and e.title == "Grève des transports"


def test_quotes_and_counts():
    e = extract('Titre\n\nIl a dit «\u00a0un tournant\u00a0» puis “a new era” et "encore".', None)
    assert e.quotes == ["un tournant", "a new era", "encore"]
    assert e.word_count == len("Il a dit un tournant puis a new era et encore".split())
    assert e.char_count == len(e.text)


def test_language_on_a_bounded_prefix():
    assert detect_language("Le conseil municipal a adopté le budget de la ville pour l’année prochaine.")[0] == "fr"
    assert detect_language("The county council approved the transport plan on Monday night.")[0] == "en"
    assert detect_language("   ") == ("und", 0.0)


def test_ids_and_hashes_are_stable():
    assert article_id("2016-12-07/a.txt") == article_id("2016-12-07/a.txt") != article_id("2016-12-07/b.txt")
    assert len(article_id("x")) == 20
    assert content_sha256("é") == content_sha256("é") and len(content_sha256("")) == 64


def test_language_fast_path_agrees_with_the_model_on_real_corpora():
    """Where the function-word fast path decides, it must say what py3langid says."""
    import pytest
    from conftest import CORPORA

    from pipeline import metadata

    paths = sorted((CORPORA / "en-bbc" / "files").rglob("*.txt")) + sorted(
        (CORPORA / "fr-press" / "files").rglob("*.txt")
    )
    paths += sorted((CORPORA / "html-newspaper" / "files" / "text").glob("*.txt"))
    if not paths:
        pytest.skip("corpora absent")
    from py3langid.langid import MODEL_FILE, LanguageIdentifier

    model = LanguageIdentifier.from_model_file(MODEL_FILE, norm_probs=True)
    fired = disagree = 0
    wrong = []
    for p in paths:
        text = p.read_text(encoding="utf-8", errors="replace")
        fast = metadata._fast_language(text)
        if fast is None:
            continue
        fired += 1
        slow = model.classify(text[:2000])[0]
        if slow != fast[0]:
            disagree += 1
            wrong.append((p.name, fast[0], slow))
    print(f"\nfast path decided {fired}/{len(paths)}; disagreements with py3langid: {disagree} {wrong[:5]}")
    assert fired > 0.8 * len(paths)
    assert disagree <= fired // 1000, wrong


# word_count and minhash run without the regex engine; the regexes stay their definition.
import re  # noqa: E402

from hypothesis import given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

from pipeline.metadata import (  # noqa: E402
    _BYTE_WORD,
    _NOT_WORD_BYTE,
    _mixed_tokens,
    minhash,
    mixed_tokens_definition,
    quotes,
    word_count,
    word_count_definition,
)

_TRICKY = st.sampled_from(
    list("ab é’'-_\n\t«»1２٣ÀßΣ.,;")
    + ["\u0301", "\u00ad", "\u00a0", "😀", "𝐀", "l’", "--", "cessez-le-feu"]
    + list("中国語のテキストです。、「」ไทยั่ ๆ๏ကခ្ក한국ーｶﾞ々・")
    + ["𠀀", "\u0939\u093f", "\u064e", "\u3000"]
)


@settings(max_examples=600, deadline=None)
@given(st.lists(_TRICKY, max_size=40).map("".join) | st.text(max_size=60))
def test_word_count_is_its_regex_definition(text):
    assert word_count(text) == word_count_definition(text)


@settings(max_examples=400, deadline=None)
@given(st.lists(_TRICKY, max_size=40).map("".join) | st.text(max_size=60))
def test_minhash_tokens_of_unspaced_scripts_are_their_definition(text):
    assert _mixed_tokens(text).decode("utf-8") == mixed_tokens_definition(text)


@settings(max_examples=400, deadline=None)
@given(st.lists(_TRICKY, max_size=40).map("".join) | st.text(max_size=60))
def test_minhash_tokens_are_the_byte_word_regex_matches(text):
    data = text.lower().encode("utf-8")
    assert data.translate(_NOT_WORD_BYTE).split() == _BYTE_WORD.findall(data)


def test_word_count_is_its_definition_for_every_character():
    """Each code point of the Basic Multilingual Plane (and one beyond it) inside and around words,
    after joiners, in runs: the class-byte count (a Latin-1 path and a UTF-16 one) is the regex's."""
    chars = [chr(c) for c in range(0x10000) if not 0xD800 <= c <= 0xDFFF] + ["😀"]
    for c in chars:
        for text in (c, f"a{c}b", f"{c}{c}x", f"’{c}-{c}", f"x-{c}\u0301{c} 中{c}ไ", f"é {c}"):
            assert word_count(text) == word_count_definition(text), (hex(ord(c)), text)


_QUOTES_DEFINITION = re.compile(
    r"«\s*([^«»]{2,600}?)\s*»|“([^“”]{2,600}?)”|„([^„“”]{2,600}?)[“”]|\"([^\"\n]{2,600}?)\""
)
_QUOTY = st.lists(st.sampled_from(list('«»“”„"\n \u00a0\tab’.') + ["x" * 300, " " * 299, "ab" * 150]), max_size=30).map(
    "".join
)


@settings(max_examples=1500, deadline=None)
@given(_QUOTY | st.text(max_size=80))
def test_quotes_are_those_of_the_lazy_definition(text):
    expected = [next(g for g in m.groups() if g is not None).strip() for m in _QUOTES_DEFINITION.finditer(text)]
    assert quotes(text) == expected


@settings(max_examples=1000, deadline=None)
@given(st.lists(_TRICKY | st.sampled_from(list("?’“…—ÿµºª²¼_")), max_size=40).map("".join) | st.text(max_size=60))
def test_language_fast_path_words_are_the_regex_matches(text):
    from pipeline.metadata import _FAST_WORD, _STOP_LOOKUP, _STOP_LOOKUP_LATIN1, _first_words

    head = text.lower()
    words, lookup = _first_words(text)
    if lookup is _STOP_LOOKUP_LATIN1:
        words = [w.decode("latin-1") for w in words]
    else:
        assert lookup is _STOP_LOOKUP
    assert words == _FAST_WORD.findall(head)


def test_word_count_counts_words_not_punctuation():
    assert word_count("L’ensemble du cessez-le-feu — « oui » ; 2016 !") == 5
    assert word_count("— … « » ; !") == 0
    assert word_count("") == 0
    assert minhash("") == minhash(". , ; !")  # no words: the empty signature


# Every script: texts written for news-etl, one short news paragraph per script.
SCRIPTS = {
    # language: (text, words counted, a rough count by a native segmentation)
    "zh": ("中国人民银行今天宣布，从下周一起下调存款准备金率，以支持实体经济的发展。", 17, 16),
    "ja": ("東京都は十五日、新しい交通計画を発表した。市民の意見を聞いて来年から実施する予定だ。", 20, 21),
    "th": ("กรุงเทพมหานครประกาศแผนการจราจรใหม่ในวันนี้ เพื่อลดปัญหารถติดในเขตเมือง", 15, 15),
    "ko": ("서울시는 오늘 새로운 교통 계획을 발표했다. 시민들의 의견을 듣고 내년부터 시행할 예정이다.", 12, 12),
    "ar": ("أعلنت وزارة النقل اليوم عن خطة جديدة لتحسين حركة المرور في وسط المدينة خلال العام المقبل.", 16, 16),
    "ru": ("Мэрия Москвы сегодня представила новый план развития общественного транспорта на следующий год.", 12, 12),
}


def test_word_counts_per_script():
    """Scripts with spaces count their words; Han and Kana one word per 2 characters of a run,
    Thai one per 5 code points; each within a third of a segmentation by hand (the third number)."""
    for lang, (text, expected, native) in SCRIPTS.items():
        got = word_count(text)
        assert got == expected, (lang, got)
        assert abs(got - native) <= native / 3 + 1, (lang, got, native)
    assert word_count("हिन्दी भाषा में समाचार") == 4  # vowel signs and virama do not split a word
    assert word_count("مَرْحَبًا بِكُمْ") == 2  # nor do Arabic harakat
    assert word_count("「」、。・") == 0  # punctuation is no word


def test_cjk_articles_are_not_one_word_a_sentence():
    text = SCRIPTS["zh"][0] * 3
    e = extract("标题\n\n" + text, None)
    assert e.word_count >= 8 * 3 and e.word_count == word_count(e.text)


def test_language_of_every_script():
    for lang, (text, _, _) in SCRIPTS.items():
        assert detect_language(text)[0] == lang, lang


def test_a_low_score_is_undetermined_not_a_guess():
    table = "Shr 27 cts vs 39 cts\n\nNet 481,189 vs 697,381\n\nRevs 6.1 mln vs 6.4 mln"
    code, score = detect_language(table)
    assert code == "und" and 0 < score < 0.5
    from pipeline.config import MetadataConfig

    assert detect_language(table, MetadataConfig(language_min_score=0.0))[0] != "und"  # the guess it was
    assert detect_language(SCRIPTS["zh"][0])[1] > 0.5


def test_minhash_of_space_separated_text_is_unchanged():
    """Signatures of text without letters of an unspaced script are those published before
    (values computed by the word-shingle MinHash that de-duplicated earlier outputs)."""
    import hashlib

    text = "Le conseil municipal a adopté le budget de la ville pour l’année prochaine après un long débat."
    assert hashlib.sha256(minhash(text)).hexdigest()[:16] == "ea67c38393271656"
    assert minhash(text + " Москва") != minhash(text)  # Cyrillic has spaces: a word as before


def test_near_duplicates_are_found_in_chinese():
    a = SCRIPTS["zh"][0] * 2 + "央行表示，此举将释放长期资金约一万亿元。"
    b = a.replace("今天", "周五")  # a small edit
    other = "上海市政府发布了新的住房政策，鼓励年轻人租房，并增加公共租赁住房的供应。" * 3
    assert jaccard_estimate(minhash(a), minhash(b)) >= 0.7
    assert jaccard_estimate(minhash(a), minhash(other)) < 0.2
    assert minhash(a) != minhash("中" * 5)  # not one "word" per sentence


def jaccard_estimate(sig_a: bytes, sig_b: bytes) -> float:
    """The share of equal MinHash slots: the estimate of the shingle sets' Jaccard similarity."""
    import numpy as np

    return float((np.frombuffer(sig_a, dtype="<u4") == np.frombuffer(sig_b, dtype="<u4")).mean())


def test_minhash_reads_the_first_words_of_a_long_text():
    """minhash splits at most _MAX_WORDS words off (the rest stays one piece): the same first words."""
    from pipeline.metadata import _MAX_WORDS

    for n in (_MAX_WORDS - 1, _MAX_WORDS, _MAX_WORDS + 1, 3 * _MAX_WORDS):
        for data in (b" w" * n, b"w " * n, b"  w\n" * n + b"  "):
            assert data.split(None, _MAX_WORDS)[:_MAX_WORDS] == data.split()[:_MAX_WORDS]
    long = " ".join(f"mot{i}" for i in range(3 * _MAX_WORDS))
    assert minhash(long) == minhash(" ".join(long.split()[:_MAX_WORDS]))


@settings(max_examples=500, deadline=None)
@given(st.text(alphabet=st.characters(max_codepoint=0xFF), max_size=60))
def test_latin1_lower_case_by_table_is_str_lower(text):
    from pipeline.metadata import _LATIN1_LOWER

    assert all(len(chr(b).lower()) == 1 and ord(chr(b).lower()) == _LATIN1_LOWER[b] for b in range(256))
    assert text.encode("latin-1").translate(_LATIN1_LOWER).decode("latin-1") == text.lower()
