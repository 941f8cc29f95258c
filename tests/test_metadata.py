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
    body = ("Premier paragraphe assez long pour être un paragraphe.\n\nLes écoles d’abord\n\n"
            "Un paragraphe qui suit la sous-partie et qui est long.\n\nConclusion.")
    e = extract(body, "Titre")
    assert e.subheadings == ["Les écoles d’abord"]


def test_dateline_is_metadata_not_text():
    e = extract("Publié le 5 décembre 2016 à 10h30\n\nGrève des transports\n\nLe trafic est perturbé.", None)
    assert e.dateline is not None and e.dateline.precision == "minute"
    assert "Publié" not in e.text and e.title == "Grève des transports"


def test_quotes_and_counts():
    e = extract("Titre\n\nIl a dit «\u00a0un tournant\u00a0» puis “a new era” et \"encore\".", None)
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

    paths = sorted((CORPORA / "en-bbc" / "files").rglob("*.txt")) + sorted((CORPORA / "fr-press" / "files").rglob("*.txt"))
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
from hypothesis import given, settings, strategies as st  # noqa: E402

from pipeline.metadata import _BYTE_WORD, _NOT_WORD_BYTE, _WORD, minhash, word_count  # noqa: E402

_TRICKY = st.sampled_from(list("ab é’'-_\n\t«»1２٣ÀßΣ.,;") + ["\u0301", "\u00ad", "\u00a0", "😀", "𝐀", "l’", "--", "cessez-le-feu"])


@settings(max_examples=400, deadline=None)
@given(st.lists(_TRICKY, max_size=40).map("".join) | st.text(max_size=60))
def test_word_count_is_the_number_of_word_regex_matches(text):
    assert word_count(text) == len(_WORD.findall(text))


@settings(max_examples=400, deadline=None)
@given(st.lists(_TRICKY, max_size=40).map("".join) | st.text(max_size=60))
def test_minhash_tokens_are_the_byte_word_regex_matches(text):
    data = text.lower().encode("utf-8")
    assert data.translate(_NOT_WORD_BYTE).split() == _BYTE_WORD.findall(data)


def test_word_count_counts_words_not_punctuation():
    assert word_count("L’ensemble du cessez-le-feu — « oui » ; 2016 !") == 5
    assert word_count("— … « » ; !") == 0
    assert word_count("") == 0
    assert minhash("") == minhash(". , ; !")  # no words: the empty signature
