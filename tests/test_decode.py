"""Decode: property tests, the no-invented-script guard, every corpus file (golden cases are in
test_golden.py)."""

from __future__ import annotations

import re

import pytest
from conftest import corpus
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from pipeline.decode import (
    _CHAR_TO_BYTE,
    MOJIBAKE_RE,
    _reread_sequences,
    _reread_whole,
    decode,
    invented_scripts,
    repair_mojibake,
)

# Word-shaped text in the letters every supported legacy code page writes the same way. (Character
# soup like "é««" is not prose: its cp1252 bytes E9 AB AB are also valid UTF-8, an ambiguity no
# decoder can resolve and no newspaper writes.)
_LETTERS = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
_ACCENTED = "éèêëàâäîïôöùûüçÉÈÀÇñÑßÄÖÜ"
WORD = st.builds(
    lambda a, b, c: a + b + c,
    st.text(alphabet=_LETTERS, min_size=1, max_size=6),
    st.text(alphabet=_ACCENTED, max_size=1),
    st.text(alphabet=_LETTERS, min_size=1, max_size=6),
)
PUNCT = st.sampled_from([",", ".", ";", ":", "!", "?", "'", "-", "(", ")", "2016", "42"])
PROSE = st.lists(st.one_of(WORD, WORD, WORD, PUNCT), min_size=1, max_size=60).map(" ".join)
TYPO = st.sampled_from(["’", "“", "”", "–", "—", "…", "€", "«\u00a0", "\u00a0»", "«", "»"])
CP1252_EXTRA = st.lists(st.one_of(WORD, WORD, TYPO), min_size=1, max_size=40).map(" ".join)


@given(PROSE, st.sampled_from(["utf-8", "cp1252", "latin-1", "iso-8859-15", "utf-16", "utf-32", "utf-8-sig"]))
@settings(max_examples=300, deadline=None)
def test_any_prose_in_a_supported_encoding_decodes_back_exactly(text, encoding):
    assert decode(text.encode(encoding)).text == text


@given(CP1252_EXTRA)
@settings(max_examples=200, deadline=None)
def test_cp1252_typography_decodes_back_exactly(text):
    assert decode(text.encode("cp1252")).text == text


@given(st.binary(max_size=2000))
@settings(max_examples=500, deadline=None)
def test_arbitrary_bytes_never_raise_and_losses_are_counted(data):
    got = decode(data)
    assert isinstance(got.text, str)
    assert got.undecodable_bytes >= 0
    if got.undecodable_bytes:
        assert any("undecodable" in r or "dropped" in r for r in got.repairs)


@given(PROSE)
@settings(max_examples=200, deadline=None)
def test_mojibake_of_any_prose_is_repaired(text):
    broken = text.encode("utf-8").decode("cp1252")
    assert decode(broken.encode("utf-8")).text == text


# The re-reading, defined the slow way: walk each run of characters a cp1252 or latin-1 reading
# can produce; where the bytes of a complete UTF-8 sequence start, decode them; else keep one
# character and go on.
_RUN = re.compile("[" + "".join(re.escape(ch) for ch in _CHAR_TO_BYTE) + "]{2,}")


def reread_by_definition(text: str) -> tuple[str, int]:
    total = 0

    def run(m: re.Match[str]) -> str:
        nonlocal total
        chars, out, i = m.group(0), [], 0
        while i < len(chars):
            b0 = _CHAR_TO_BYTE[chars[i]]
            need = 2 if 0xC2 <= b0 < 0xE0 else 3 if 0xE0 <= b0 < 0xF0 else 4 if 0xF0 <= b0 <= 0xF4 else 0
            if need and i + need <= len(chars):
                try:
                    out.append(bytes(_CHAR_TO_BYTE[ch] for ch in chars[i : i + need]).decode("utf-8"))
                    total += 1
                    i += need
                    continue
                except UnicodeDecodeError:
                    pass
            out.append(chars[i])
            i += 1
        return "".join(out)

    return _RUN.sub(run, text), total


# Pieces of mojibake'd text: ASCII, any character a cp1252 or latin-1 reading can produce, and
# the wrong reading of any text (whole-file mojibake, twice-broken text, partly broken text).
_BYTE_CHARS = "".join(sorted(_CHAR_TO_BYTE))
MOJIBAKE_PIECE = st.one_of(
    st.text(alphabet="abc XYZ,.\n", max_size=8),
    st.text(alphabet=_BYTE_CHARS, max_size=4),
    st.text(max_size=8).map(lambda t: t.encode("utf-8", "surrogatepass").decode("cp1252", "ignore")),
    st.text(max_size=8).map(lambda t: t.encode("utf-8", "surrogatepass").decode("latin-1")),
    PROSE.map(lambda t: t.encode("utf-8").decode("cp1252").encode("utf-8").decode("cp1252")),
)


@given(st.lists(MOJIBAKE_PIECE, max_size=12).map("".join))
@settings(max_examples=1000, deadline=None)
def test_rereading_is_the_definition_on_any_text(text):
    expected = reread_by_definition(text)
    assert _reread_sequences(text) == expected
    whole = _reread_whole(text)
    assert whole is None or whole == expected


def test_only_well_formed_sequences_are_reread():
    # é then a lone continuation, an overlong form (C0 AF), a surrogate (ED A0 80), F5: kept.
    for kept in ["é»", "À¯", "í\xa0\x80", "õ\x80\x80\x80", "à\xa0 voilà"]:
        assert _reread_sequences(kept) == (kept, 0) == reread_by_definition(kept)
    assert _reread_sequences("cafÃ© â€œokâ€\x9d ðŸ™‚") == ("café “ok” 🙂", 4)


@given(PROSE)
@settings(max_examples=100, deadline=None)
def test_whole_file_mojibake_takes_the_whole_text_path(text):
    broken = text.encode("utf-8").decode("cp1252")
    if broken != text:
        assert _reread_whole(broken) == (text, sum(ch > "\x7f" for ch in text))


@given(st.text(max_size=300))
@settings(max_examples=300, deadline=None)
def test_repair_leaves_text_without_the_signature_alone(text):
    if not MOJIBAKE_RE.search(text):
        assert repair_mojibake(text) == (text, [])


def test_utf8_fast_path_records_nothing():
    got = decode("Plain UTF-8 — with typography.".encode())
    assert got.encoding == "utf-8" and got.repairs == () and got.undecodable_bytes == 0


def test_undefined_cp1252_bytes_are_counted_not_hidden():
    got = decode(b"caf\xe9 \x81\x8d ok")
    assert got.text == "café  ok"
    assert got.undecodable_bytes == 2
    assert any("2 undecodable bytes" in r for r in got.repairs)


# ---------------------------------------------------------------------------------------------
# Every script: text in the code pages of other scripts comes back exactly, declared or not.

# News-like words written for news-etl, per language; random sequences of them are the "text in
# that script" of the property tests (an undeclared code page is told apart by how common its
# letters are, so the words are ordinary ones). Chinese and Japanese are written without spaces.
WORDS = {
    "zh": "市政府 今天 宣布 新的 地铁 线路 将于 明年 五月 开通 记者 在 现场 看到 工人 正在 加紧 施工 经济 发展 "
    "国家 政策 会议 代表 表示 人民 工作 问题 社会 北京 上海 公司 市场 增长 学生 学校 医院",
    "zh-hant": "台北 市政府 今天 表示 新的 捷運 路線 將在 明年 開始 營運 記者 現場 看到 工人 正在 加緊 施工 經濟 發展 "
    "國家 政策 會議 代表 人民 工作 問題 社會 公司 市場 學生 學校 醫院",
    "ja": "東京都 は 十日 新しい 防災 計画 を 発表 した 知事 記者 会見 で 来年 の 春 までに 全て の 区 訓練 行う と "
    "述べた 政府 首相 経済 問題 について 調査 結果 会社 学校",
    "ko": "서울시는 오늘 새로운 대중교통 계획을 발표했다 시장은 기자회견에서 내년 봄까지 모든 구에서 시행하겠다고 말했다 "
    "정부는 경제 문제에 대한 조사 결과를 공개했다 학교 회사 국회",
    "ru": "городской совет утвердил новый бюджет на следующий год мэр заявил журналистам что средства пойдут на ремонт "
    "школ и дорог правительство области сообщило о новых планах",
    "ar": "أعلنت الحكومة اليوم عن خطة جديدة لدعم المزارعين في المناطق الريفية وقال الوزير إن البرنامج سيبدأ في الشهر "
    "المقبل مع المدارس والمستشفيات",
    "th": "รัฐบาล ประกาศ แผน ใหม่ เพื่อ ช่วยเหลือ เกษตรกร ใน พื้นที่ ชนบท รัฐมนตรี กล่าว ว่า โครงการ จะ เริ่ม ใน เดือน หน้า "
    "โรงเรียน และ โรงพยาบาล",
    "el": "το δημοτικό συμβούλιο ενέκρινε σήμερα τον νέο προϋπολογισμό ο δήμαρχος δήλωσε ότι τα χρήματα θα πάνε στα "
    "σχολεία και στους δρόμους της πόλης",
    "he": "הממשלה הודיעה היום על תוכנית חדשה לתמיכה בחקלאים באזורי הפריפריה השר אמר כי התוכנית תתחיל בחודש הבא "
    "בבתי הספר ובבתי החולים",
}
CODE_PAGES = {
    "zh": ("gbk", "gb18030"),
    "zh-hant": ("big5", "cp950"),
    "ja": ("shift_jis", "euc_jp"),
    "ko": ("euc_kr",),
    "ru": ("cp1251", "koi8_r"),
    "ar": ("cp1256",),
    "th": ("tis_620",),
    "el": ("cp1253",),
    "he": ("cp1255",),
}
SPACED = {"ko", "ru", "ar", "th", "el", "he"}


@st.composite
def news_in_a_script(draw):
    language = draw(st.sampled_from(sorted(WORDS)))
    # At least eight different words: a code page is recognised by its letters, and a few words
    # repeated (four Hebrew words, say) can read as plausibly in a neighbouring code page.
    vocabulary = sorted(set(WORDS[language].split()))
    words = draw(st.lists(st.sampled_from(vocabulary), min_size=8, max_size=20, unique=True))
    words += draw(st.lists(st.sampled_from(words), max_size=20))  # and repeats
    glue = " " if language in SPACED else ""
    end = "." if language in SPACED else "。"
    pieces = [w + (draw(st.sampled_from(["", "", "", ",", end, " 2024"])) if language in SPACED else "") for w in words]
    return language, glue.join(pieces) + end


@given(news_in_a_script(), st.data())
@settings(max_examples=300, deadline=None)
def test_text_in_any_script_decodes_back_from_its_code_page_undeclared(sample, data):
    language, text = sample
    encoding = data.draw(st.sampled_from(CODE_PAGES[language]))
    got = decode(text.encode(encoding))
    assert got.text == text, (encoding, got.encoding, got.repairs)


def _alphabet(encoding: str, ranges: list[tuple[int, int]]) -> str:
    chars = []
    for lo, hi in ranges:
        for cp in range(lo, hi + 1):
            try:
                chr(cp).encode(encoding)
            except UnicodeEncodeError:
                continue
            chars.append(chr(cp))
    return "".join(chars)


def _is_utf8(raw: bytes) -> bool:
    try:
        raw.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


# Any characters of the script that the code page writes, with ASCII letters, digits and spaces.
_ASCII = "abcXYZ019 ,.\n"
ALPHABETS = {
    "gb2312": _alphabet("gb2312", [(0x4E00, 0x9FFF), (0x3000, 0x303F), (0xFF01, 0xFF5E)]),
    "gbk": _alphabet("gbk", [(0x4E00, 0x9FFF), (0x3000, 0x303F)]),
    "big5": _alphabet("big5", [(0x4E00, 0x9FFF), (0x3000, 0x303F)]),
    "shift_jis": _alphabet("shift_jis", [(0x3040, 0x30FF), (0x4E00, 0x9FFF)]),
    "euc_jp": _alphabet("euc_jp", [(0x3040, 0x30FF), (0x4E00, 0x9FFF)]),
    "euc_kr": _alphabet("euc_kr", [(0xAC00, 0xD7A3)]),
    "cp1251": _alphabet("cp1251", [(0x0400, 0x04FF)]),
    "koi8_r": _alphabet("koi8_r", [(0x0400, 0x04FF)]),
    "cp1256": _alphabet("cp1256", [(0x0600, 0x06FF)]),
    "tis_620": _alphabet("tis_620", [(0x0E00, 0x0E7F)]),
    "cp1253": _alphabet("cp1253", [(0x0370, 0x03FF)]),
    "cp1255": _alphabet("cp1255", [(0x05D0, 0x05EA)]),
}


@given(st.sampled_from(sorted(ALPHABETS)), st.data())
@settings(max_examples=400, deadline=None)
def test_any_text_in_a_declared_code_page_decodes_back(encoding, data):
    text = data.draw(st.text(alphabet=ALPHABETS[encoding] + _ASCII, min_size=1, max_size=60))
    raw = text.encode(encoding)
    assume(not _is_utf8(raw) or raw.isascii())  # valid UTF-8 wins over any declaration (a policy of its own)
    got = decode(raw, declared=encoding)
    assert got.text == text, (got.encoding, got.repairs)
    assert not invented_scripts(text.encode(encoding), got.text, encoding)


def test_a_declared_code_page_that_cannot_read_the_bytes_is_ignored_and_said_so():
    got = decode("Le budget voté « à l’unanimité » hier.".encode("cp1252") + b"\xff\xfe\xff", declared="euc-kr")
    assert got.encoding == "cp1252"
    assert got.repairs[0].startswith("declared charset euc-kr ignored")


def test_a_few_invalid_bytes_in_a_declared_multibyte_page_are_dropped_and_counted():
    text = "市政府今天宣布，新的地铁线路将于明年五月开通。" * 20
    data = text.encode("gbk") + b"\x81\x20" + text.encode("gbk")
    got = decode(data, declared="gb2312")
    assert got.encoding == "gb18030" and got.undecodable_bytes == 1
    assert got.text == text + " " + text
    assert "1 undecodable bytes dropped" in got.repairs


# ---------------------------------------------------------------------------------------------
# Nothing invented: a re-read never brings in a script the source's plain decodes do not hold.


@pytest.mark.parametrize(
    "text",
    [
        "la pauvreté\u00a0» et « la misère\u00a0»",
        "rendez-vous «\u00a0à\u00a0» Lyon",
        "Die Straß\u00adenbahn",
    ],
)
def test_well_formed_prose_is_not_reread(text):
    assert repair_mojibake(text) == (text, [])
    assert not invented_scripts(text.encode("utf-8"), decode(text.encode("utf-8")).text)


def test_invented_scripts_names_what_no_plain_decode_holds():
    raw = "pauvreté\u00a0»".encode("utf-8")
    assert invented_scripts(raw, "pauvret頻") == {"CJK"}
    assert invented_scripts(raw, "pauvreté\u00a0»") == set()
    # The declared charset is a plain decode; an HTML entity is the character it names.
    gbk = "北京".encode("gbk")
    assert invented_scripts(gbk, "北京") == {"CJK"}
    assert invented_scripts(gbk, "北京", declared="gb2312") == set()
    assert invented_scripts(b"&#21271;&#20140;", "北京") == set()


_CHARSET = re.compile(rb"""<meta[^>]+?charset\s*=\s*["']?\s*([A-Za-z0-9_\-:.]+)""", re.I)
_HTML_BYTES = re.compile(rb"<!doctype\s+html|<(html|head|body)[\s>]", re.I)
_HAN = re.compile("[\u4e00-\u9fff]")


@pytest.mark.corpora
def test_decode_invents_no_script_in_any_corpus_file():
    """Over every corpus file: decode brings in no script that the file's plain decodes lack.
    A page whose undeclared code page decode detected is not a plain decode: its reading is
    checked against the hand-made truth instead (html-zh meta/cleaned), and must hold it."""
    root = corpus("fr-press").parent
    invented, detected, checked = [], [], 0
    for path in sorted(p for p in root.rglob("*") if p.is_file()):
        raw = path.read_bytes()
        head = raw[:8192]
        m = _CHARSET.search(head) if _HTML_BYTES.search(head) else None
        declared = m.group(1).decode("ascii") if m else None
        got = decode(raw, declared=declared)
        checked += 1
        if any(" detected (" in r for r in got.repairs):
            detected.append((path, got))
            continue
        extra = invented_scripts(raw, got.text, declared)
        if extra:
            invented.append(f"{path.relative_to(root)}: {sorted(extra)} ({got.encoding}; {got.repairs})")
    assert checked > 1000
    assert not invented, "\n".join(invented)
    unchecked = []
    for path, got in detected:
        truth = path.parent.parent / "meta" / "cleaned" / (path.stem + ".txt")
        if not truth.is_file():
            unchecked.append(f"{path.relative_to(root)}: {got.encoding} detected, no truth to check it against")
            continue
        want = set(_HAN.findall(truth.read_text(encoding="utf-8")))
        have = set(_HAN.findall(got.text))
        assert len(want & have) >= 0.95 * len(want), (path.name, got.encoding, sorted(want - have)[:20])
    assert not unchecked, "\n".join(unchecked)


def _scripts_of_definition(text: str) -> set[str]:
    """``scripts_of`` as it reads: each distinct character from U+0250 on, by its Unicode name."""
    import unicodedata

    from pipeline.decode import SCRIPTS

    names = (unicodedata.name(ch, "") for ch in set(text) if ch >= "\u0250")
    return {word for word in (name.split(" ", 1)[0] if name else "UNNAMED" for name in names) if word in SCRIPTS}


@settings(max_examples=500, deadline=None)
@given(
    st.text(max_size=80) | st.lists(st.sampled_from(list("aé’ɐɏ中ыαא\u0378\ue000 ") + ["😀"]), max_size=30).map("".join)
)
def test_scripts_of_is_its_definition(text):
    from pipeline.decode import scripts_of

    assert scripts_of(text) == _scripts_of_definition(text)
    assert scripts_of(text) == _scripts_of_definition(text)  # the second time from the names it keeps


def test_scripts_of_every_character():
    from pipeline.decode import scripts_of

    text = "".join(chr(c) for c in range(0x110000) if not 0xD800 <= c <= 0xDFFF)
    assert scripts_of(text) == _scripts_of_definition(text)
    for c in range(0x200, 0x3100):  # one at a time around the U+0250 boundary and through the scripts
        assert scripts_of(chr(c)) == _scripts_of_definition(chr(c)), hex(c)


_CONTACTS = st.lists(
    st.sampled_from(list("aZé ,.ßαΩάςюЖאםעسك\u200e\u200f\u0085─中ไ") + ["\u05d0\u200f\u05d1"]), max_size=40
).map("".join)


@settings(max_examples=1500, deadline=None)
@given(_CONTACTS | st.text(max_size=60))
def test_code_page_scoring_regexes_match_their_definitions(text):
    from pipeline import decode as d

    assert [m.span() for m in d._WRONG_RE.finditer(text)] == [m.span() for m in re.finditer(d._WRONG_DEFINITION, text)]
    assert len(d._AFTER_LATIN_RE.findall(text)) <= len(d._MIXED_RE.findall(text))


@settings(max_examples=1000, deadline=None)
@given(
    st.binary(max_size=60)
    | st.lists(
        st.sampled_from(
            [
                b"a",
                b"\xc3\xa9",
                b"\xe2\x80\x99",
                b"\xf0\x9f\x98\x80",
                b"\xc3",
                b"\xe2\x80",
                b"\x80",
                b"\xf5\x80",
                b"\xc0\xaf",
            ]
        ),
        max_size=30,
    ).map(b"".join)
)
def test_utf8_sequence_regex_matches_the_plain_alternation(data):
    from pipeline import decode as d

    plain = re.compile(rb"[\xc2-\xdf][\x80-\xbf]|[\xe0-\xef][\x80-\xbf]{2}|[\xf0-\xf4][\x80-\xbf]{3}")
    assert [m.span() for m in d._UTF8_MULTIBYTE_RE.finditer(data)] == [m.span() for m in plain.finditer(data)]


@settings(max_examples=1000, deadline=None)
@given(
    st.lists(
        st.sampled_from([b"a", b"abcd", b"x" * 11, b"y" * 16, b"\xe9", b"\x80\xff", b" ", b"\n"]), max_size=30
    ).map(b"".join)
)
def test_code_page_sample_keeps_the_ends_of_ascii_stretches(data):
    from pipeline.decode import _ASCII_STRETCH_RE

    plain = re.compile(rb"([\x00-\x7f]{4})[\x00-\x7f]{8,}([\x00-\x7f]{4})")
    assert _ASCII_STRETCH_RE.sub(b" ", data) == plain.sub(rb"\1 \2", data)


@settings(max_examples=1500, deadline=None)
@given(
    st.lists(st.sampled_from(list("aéÃÂô©€’«»\u00a0\u0080\u00bfõÁ中") + ["Ã©", "â€™", "Ã\u00a0"]), max_size=30).map(
        "".join
    )
    | st.text(max_size=40)
)
def test_mojibake_pair_in_utf8_bytes_is_the_pair_in_text(text):
    from pipeline.decode import MOJIBAKE_UTF8_RE

    data = text.encode("utf-8", "surrogatepass")
    assert bool(MOJIBAKE_UTF8_RE.search(data)) == bool(MOJIBAKE_RE.search(text))


def test_plain_utf8_without_the_pair_is_left_as_it_is():
    for text in ("Le café « noir »\u00a0!", "naïve façade", "plain", "中文", "São Paulo ©"):
        got = decode(text.encode("utf-8"))
        assert (got.text, list(got.repairs)) == repair_mojibake(text, 3, text.encode("utf-8")) == (text, [])


def _decode_tolerant_reference(data: bytes, codec: str, max_invalid: float):
    """``_decode_tolerant`` as it was written first: invalid sequences counted by two decodes."""
    from pipeline.decode import _decode_counting, _high_bytes

    try:
        return data.decode(codec), 0
    except UnicodeDecodeError:
        pass
    allowed = max(2, max_invalid * _high_bytes(data))
    if len(data.decode(codec, "replace")) - len(data.decode(codec, "ignore")) > allowed:
        return None
    text, counter = _decode_counting(data, codec)
    return None if counter.dropped > allowed else (text, counter.dropped)


_CODEC_BYTES = st.lists(
    st.sampled_from(
        [
            b"a",
            b" ",
            b"\xe9",
            b"\x80",
            b"\xff",
            b"\x81\x40",
            b"\xa4\xa4",
            b"\x82\xcd",
            b"\xb0\xa1",
            b"\xc3\xa9",
            b"\x8e",
            b"\x84\x31\xa4\x37",
            b"\xa1",
            b"\xfe",
        ]
    ),
    max_size=40,
).map(b"".join)


@settings(max_examples=600, deadline=None)
@given(_CODEC_BYTES | st.binary(max_size=60), st.sampled_from([0.0, 0.02, 0.1, 0.5]))
def test_tolerant_decode_stops_early_with_the_same_answer(data, max_invalid):
    from pipeline.config import DecodeConfig
    from pipeline.decode import _decode_tolerant

    for codec in DecodeConfig().detect_encodings:
        assert _decode_tolerant(data, codec, max_invalid) == _decode_tolerant_reference(data, codec, max_invalid)


@settings(max_examples=1500, deadline=None)
@given(
    st.lists(
        st.sampled_from(["Ã©", "â€™", "a", "word ", "x" * 70, "é", "中", "α", "ɐ", "\u0085", "Å“", "–°", "’»", ". "]),
        max_size=40,
    ).map("".join)
    | st.text(max_size=120)
)
def test_badness_of_a_long_text_is_its_regex_count(text):
    from pipeline.decode import _BADNESS_RE, badness

    assert badness(text) == len(_BADNESS_RE.findall(text))


@settings(max_examples=600, deadline=None)
@given(
    _CODEC_BYTES
    | st.binary(max_size=80)
    | st.lists(st.sampled_from([b"le ", b"\xe9t\xe9 ", b"\xee\xf2\xe0", b"\xe1\xe5"]), max_size=30).map(b"".join)
)
def test_single_byte_code_pages_count_their_bytes_as_the_regexes_count_the_text(data):
    from pipeline.config import DecodeConfig
    from pipeline.decode import _LANGUAGE_OF, _decode_tolerant, _language_score, _single_byte_counts, codec_name

    for codec in DecodeConfig().detect_encodings:
        language = _LANGUAGE_OF[codec_name(codec)]
        got = _decode_tolerant(data, codec, 0.5)
        if got is None:
            continue
        for floor in (0.0, 0.3, 0.9):
            expected = _language_score(got[0], language, got[1], 1, floor)
            assert _language_score(got[0], language, got[1], 1, floor, data, codec) == expected
        if _single_byte_counts(codec, language) is not None:  # one character a byte, or none
            assert len(got[0]) == len(data) - got[1]


@pytest.mark.parametrize(
    "text, declared",
    [("юя", "cp1251"), ("юяab, 2016", "cp1251"), ("яю мир", "cp1251"), ("ţ˙ab", "cp1250")],
)
def test_a_declared_text_that_begins_with_the_bytes_of_a_utf16_bom_is_that_text(text, declared):
    """FE FF is "юя" in cp1251: with the charset declared and no UTF-16 after them (no NUL byte,
    which UTF-16 of a digit, a space or a new line has), those bytes are text, not a BOM; reading
    them as one gave an empty text or invented Han characters."""
    got = decode(text.encode(declared), declared=declared)
    assert (got.text, got.encoding) == (text, declared)
    assert any("not as a UTF-16 BOM" in r for r in got.repairs)


@pytest.mark.parametrize(
    "bom, codec, text", [(b"\xff\xfe", "utf-16-le", "Привет, мир 2016"), (b"\xfe\xff", "utf-16-be", "新闻 2016\n")]
)
def test_a_real_utf16_bom_still_wins_over_a_declared_code_page(bom, codec, text):
    got = decode(bom + text.encode(codec), declared="cp1251")
    assert got.text == text and got.encoding.startswith("utf-16")


def test_a_damaged_utf16_file_or_one_without_nul_bytes_keeps_its_bom_over_a_declared_code_page():
    """A stray last byte (or a lone surrogate) does not make a UTF-16 file code-page text full of
    NULs; UTF-16 of Chinese with its punctuation (。 is 30 02) has control bytes no code page's
    text holds."""
    damaged = decode(b"\xff\xfe" + "Moscow news 2016\n".encode("utf-16-le") + b"\n", declared="windows-1252")
    assert damaged.encoding == "utf-16le-bom" and damaged.text.startswith("Moscow news 2016\n")
    assert "\x00" not in damaged.text
    chinese = decode(b"\xfe\xff" + "新闻报道。中国经济".encode("utf-16-be"), declared="windows-1251")
    assert (chinese.text, chinese.encoding) == ("新闻报道。中国经济", "utf-16be-bom")
