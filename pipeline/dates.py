"""Dates: normalize publication dates to UTC with an honest precision.

In:  the raw header date (``2016-12``, ``8-1-2019``, ISO 8601, RFC 2822, ``15 novembre 2016``,
     ``Dec. 7, 2016``, ``2005年5月7日``, ``2020年2月15日（土）14時30分``, ``2020년 2월 15일``,
     ``2020.02.15.`` ...), a dateline (``Publié le 3 décembre 2016 à 10h30``, ``发布时间：2005-05-07``),
     the article URL (``/2018/11/17/``, ``/201901/11/``, ``/2018-11-17/``, ``-20181117``), the
     landing date, a ``DateConfig``.
Out: a ``DateResult``: ``published_at`` (UTC, truncated to its precision), ``date_precision``
     (year, month, day, minute, second), ``date_source`` (``SOURCES``: header, htmldate, dateline, url,
     or none) and warnings (a header date that could not be read is said, never silently replaced).

Only a date the document states is a publication date: when it states none, ``published_at`` and
``date_precision`` are null and ``date_source`` is ``none``. The landing date is never a publication
date (it is when the file reached us); it stays in its own column, ``landing_date``, and only bounds
what is plausible (a stated date more than ``max_future_days`` after it is refused).

Parsing is by compiled patterns for the dialects news files use; no general-purpose date guesser
runs, so nothing fills in a day or a time that the source did not give: ``2016-12`` is a month
and is stored as 2016-12-01T00:00Z with precision ``month``. Dates without a time are not shifted
by time zones (a day is a day); times without a zone are read in ``DateConfig.default_timezone``.

Not here: dates mentioned in the prose ("on Friday"), which are not publication dates; dates in
the names of images, scripts and other assets (``Klopfgeist-01.09.10.png``, an upload folder
``/uploads/2011/08/``), which are file dates: ``date_in_url`` refuses such URLs.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from email.utils import parsedate_tz
from functools import lru_cache
from zoneinfo import ZoneInfo

from .config import DateConfig

PRECISIONS = ("year", "month", "day", "minute", "second")
# Where published_at came from: the document's header (a header line, an SGML or JSON field, a feed
# item's date, an HTML page's JSON-LD or meta tags); htmldate (an HTML page without such metadata,
# whose date htmldate found in its markup or text); a dateline in the text; the article's URL; or
# none: the document states no date, published_at is null (the landing date is in landing_date).
SOURCES = ("header", "htmldate", "dateline", "url", "none")
UTC = dt.UTC

MONTHS: dict[str, int] = {}
for _num, _names in enumerate(
    [
        "january jan janvier janv janv. januar jänner enero gennaio",
        "february feb février fevrier févr fevr fév fev februar febrero febbraio",
        "march mar mars märz maerz marzo",
        "april apr avril avr abril aprile",
        "may mai mayo maggio",
        "june jun juin juni junio giugno",
        "july jul juillet juil juli julio luglio",
        "august aug août aout augusto agosto",
        "september sep sept septembre septiembre settembre",
        "october oct octobre oktober octubre ottobre",
        "november nov novembre noviembre",
        "december dec décembre decembre déc dezember diciembre dicembre",
    ],
    start=1,
):
    for _n in _names.split():
        MONTHS[_n.rstrip(".")] = _num

WEEKDAYS = (
    "monday tuesday wednesday thursday friday saturday sunday mon tue tues wed thu thur thurs fri sat sun "
    "lundi mardi mercredi jeudi vendredi samedi dimanche "
    "montag dienstag mittwoch donnerstag freitag samstag sonntag"
).split()

ZONES = {
    "z": 0,
    "utc": 0,
    "gmt": 0,
    "ut": 0,
    "wet": 0,
    "bst": 60,
    "cet": 60,
    "cest": 120,
    "met": 60,
    "mest": 120,
    "eet": 120,
    "eest": 180,
    "msk": 180,
    "est": -300,
    "edt": -240,
    "cst": -360,
    "cdt": -300,
    "mst": -420,
    "mdt": -360,
    "pst": -480,
    "pdt": -420,
    "jst": 540,
    "ist": 330,
}

_MON = "(?P<mon>" + "|".join(sorted((re.escape(m) for m in MONTHS), key=len, reverse=True)) + r")\.?"
_WD = "(?:(?:" + "|".join(sorted(WEEKDAYS, key=len, reverse=True)) + r")\.?,?\s+)?"
_ZONE = (
    r"(?:\s*(?P<tz>Z|[+-]\d{2}(?::?\d{2})?|(?:UTC|GMT)(?:[+-]\d{1,2}(?::?\d{2})?)?|"
    + "|".join(z.upper() for z in ZONES if z not in ("z", "utc", "gmt"))
    + r")\b)?"
)
_TIME = (
    r"(?:(?:\s*[,T]\s*|\s+(?:à|a|at|um|-|–)?\s*)(?P<H>\d{1,2})\s*(?:[:h]|heures?)\s*(?P<M>\d{2})?"
    r"(?::(?P<S>\d{2})(?:[.,]\d+)?)?(?:\s*(?P<ampm>[ap]\.?m\.?))?" + _ZONE + ")?"
)
_END = r"(?![\w])"

# Chinese, Japanese and Korean: 2005年5月7日, 2020年2月15日（土）14時30分, 2020년 2월 15일 (토) 오후 2:30.
# A weekday in brackets (or 星期六, 土曜日, 토요일) may follow the day; a time as 14:30[:15] or
# 14時30分[15秒] / 14时30分 / 14点30分 / 14시 30분, with 上午/下午, 午前/午後, 오전/오후 for a.m./p.m.
# No word boundary after it: these scripts put no space after a date (2005年5月7日电); 年 月 日 end
# each number.
_CJK_WEEKDAY = (
    r"(?:\s*[（(]\s*(?:(?:星期|礼拜|禮拜|周|週)?[一二三四五六日天]|[月火水木金土日](?:曜日?)?|[월화수목금토일](?:요일)?)\s*[)）]"
    r"|\s*(?:(?:星期|礼拜|禮拜|周|週)[一二三四五六日天]|[月火水木金土日]曜日|[월화수목금토일]요일))?"
)
_CJK_TIME = (
    r"(?:\s*(?P<half>上午|下午|午前|午後|오전|오후)?\s*(?P<H>\d{1,2})\s*(?:[:：]\s*(?P<M>\d{2})(?:\s*[:：]\s*(?P<S>\d{2}))?"
    r"|[時时点點시]\s*(?:(?P<M2>\d{1,2})\s*[分분](?:\s*(?P<S2>\d{1,2})\s*[秒초])?)?)" + _ZONE + ")?"
)
_HALF_DAY = {"上午": "am", "午前": "am", "오전": "am", "下午": "pm", "午後": "pm", "오후": "pm"}

PATTERNS: list[tuple[str, re.Pattern[str]]] = [
    (
        "cjk",
        re.compile(
            r"(?P<y>\d{4})\s*[年년]\s*(?P<m>\d{1,2})\s*[月월](?:\s*(?P<d>\d{1,2})\s*[日号號일]"
            + _CJK_WEEKDAY
            + _CJK_TIME
            + ")?"
        ),
    ),
    # Year first with dots, as Korean and Chinese sites write it: 2020.02.15., 2020. 2. 15. 14:30.
    # Day precision at least: a lone 2020.02 is a number as often as a month.
    (
        "dotted",
        re.compile(
            r"(?P<y>\d{4})\.\s?(?P<m>\d{1,2})\.\s?(?P<d>\d{1,2})(?!\d)\.?"
            r"(?:(?:\s*T\s*|\s+)(?P<H>\d{1,2}):(?P<M>\d{2})(?::(?P<S>\d{2})(?:[.,]\d+)?)?" + _ZONE + r")?(?![\d])"
        ),
    ),
    # ISO 8601: 2016, 2016-12, 2016-12-07, 2016-12-07T10:30[:00[.123]][Z|+01:00]
    (
        "iso",
        re.compile(
            r"(?P<y>\d{4})(?:(?P<sep>[-/])(?P<m>\d{1,2})(?:(?P=sep)(?P<d>\d{1,2})"
            r"(?:(?:T|\s+)(?P<H>\d{1,2}):(?P<M>\d{2})(?::(?P<S>\d{2})(?:[.,]\d+)?)?"
            + _ZONE
            + ")?)?)?"
            + r"(?![\d]|\.\d)",
            re.I,
        ),
    ),
    # RFC 2822: Wed, 07 Dec 2016 10:30:00 +0100
    (
        "rfc2822",
        re.compile(
            r"(?:[A-Za-z]{3},\s*)?\d{1,2}\s+[A-Za-z]{3}\s+\d{4}\s+\d{1,2}:\d{2}(?::\d{2})?\s*(?:[+-]\d{4}|[A-Z]{1,5})?"
            + _END
        ),
    ),
    # numeric day first (8-1-2019, 08/01/2019, 8.1.2019), month first where the numbers say so
    (
        "numeric",
        re.compile(r"(?P<a>\d{1,2})(?P<sep>[-/.])(?P<b>\d{1,2})(?P=sep)(?P<y>\d{4})" + _TIME + r"(?![\d])", re.I),
    ),
    # 15 novembre 2016, samedi 17 novembre 2018 à 10h30, 1er décembre 2016, 7 Dec. 2016 10:30 GMT
    (
        "dmy",
        re.compile(
            _WD + r"(?P<d>\d{1,2})(?:er|st|nd|rd|th|\.)?(?:\s+|-)" + _MON + r",?(?:\s+|-)(?P<y>\d{4})" + _TIME + _END,
            re.I,
        ),
    ),
    # Dec. 7, 2016 / December 7th, 2016 10:30 AM EST
    ("mdy", re.compile(_WD + _MON + r"\s+(?P<d>\d{1,2})(?:st|nd|rd|th)?,?\s+(?P<y>\d{4})" + _TIME + _END, re.I)),
    # décembre 2016, December 2016
    ("my", re.compile(_MON + r"\s+(?P<y>\d{4})" + _END, re.I)),
]

# A dateline: a line that is only a publication date, possibly introduced.
_DATELINE_LEAD = re.compile(
    r"^\s*(?:(?:publié|publiée|mis à jour|mise à jour|modifié|posted|published|updated|last updated|"
    r"date|veröffentlicht|aktualisiert|stand)\s*(?:le|on|am|:)?\s*:?\s*"
    # 发布时间：, 發佈時間：, 更新时间：, 日期：, 公開日：, 投稿日：, 입력 :, 기사입력 ...
    r"|(?:发布时间|發佈時間|發布時間|发表时间|發表時間|发布日期|發佈日期|发表于|發表於|更新时间|更新時間|时间|時間|日期|"
    r"公開日時?|投稿日時?|掲載日時?|更新日時?|配信日時?|기사입력|입력|수정|등록일?|작성일|게재일?)\s*[:：]?\s*)",
    re.I,
)
_DATELINE_TAIL = " .,;|-–—\u3000，。、"

_URL_PATTERNS = [
    # /2018/11/17/
    (re.compile(r"/(?P<y>(?:19|20)\d{2})/(?P<m>\d{1,2})/(?P<d>\d{1,2})(?=/|$|[-_.])"), "day"),
    # /2018-11-17/, -2018-11-17-
    (re.compile(r"(?<![\d])(?P<y>(?:19|20)\d{2})-(?P<m>\d{2})-(?P<d>\d{2})(?![\d])"), "day"),
    # -17-11-2018-
    (re.compile(r"(?<![\d])(?P<d>\d{1,2})-(?P<m>\d{1,2})-(?P<y>(?:19|20)\d{2})(?![\d])"), "day"),
    # /201901/11/ (lapresse.ca and other year-month folders)
    (re.compile(r"/(?P<y>(?:19|20)\d{2})(?P<m>[01]\d)/(?P<d>[0-3]\d)(?=/)"), "day"),
    # a 20181117 slug: exactly 8 digits between non-digits, and (checked by _build) a real calendar
    # day, so that a product number or a phone number is not read as a date
    (re.compile(r"(?<![\d])(?P<y>(?:19|20)\d{2})(?P<m>[01]\d)(?P<d>[0-3]\d)(?![\d])"), "day"),
    # /2018/11/
    (re.compile(r"/(?P<y>(?:19|20)\d{2})/(?P<m>[01]?\d)(?=/)"), "month"),
]
# The URL of an image, a script, a style sheet, a font or a media file: its dates are upload
# folders and file names (/uploads/2011/08/Klopfgeist-01.09.10.png), never publication dates.
_ASSET_URL = re.compile(
    r"\.(?:jpe?g|png|gif|webp|avif|svg|ico|bmp|tiff?|css|js|mjs|woff2?|ttf|otf|eot|mp3|mp4|m4a|webm|ogg|wav)(?:[?#].*)?$",
    re.I,
)


@dataclass(frozen=True, slots=True)
class ParsedDate:
    value: dt.datetime  # UTC, truncated to precision
    precision: str
    end: int  # characters of the input that the date used
    offset_minutes: int | None = None  # the source's UTC offset, when it gave a time with a zone


@dataclass(frozen=True, slots=True)
class DateResult:
    published_at: dt.datetime | None
    precision: str | None
    source: str | None
    warnings: tuple[str, ...] = ()
    offset_minutes: int | None = None  # published_at + offset = the source's local time


@lru_cache(maxsize=32)
def _zone(name: str) -> dt.tzinfo:
    return UTC if name.upper() == "UTC" else ZoneInfo(name)


def _tz_offset(tz: str | None) -> dt.tzinfo | None:
    if not tz:
        return None
    t = tz.strip().lower()
    if t in ZONES:
        return dt.timezone(dt.timedelta(minutes=ZONES[t]))
    m = re.fullmatch(r"(?:utc|gmt)?([+-])(\d{1,2}):?(\d{2})?", t)
    if m:
        minutes = int(m.group(2)) * 60 + int(m.group(3) or 0)
        return dt.timezone(dt.timedelta(minutes=minutes if m.group(1) == "+" else -minutes))
    return None


def truncate(value: dt.datetime, precision: str) -> dt.datetime:
    if precision == "year":
        return value.replace(month=1, day=1, hour=0, minute=0, second=0, microsecond=0)
    if precision == "month":
        return value.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    if precision == "day":
        return value.replace(hour=0, minute=0, second=0, microsecond=0)
    if precision == "minute":
        return value.replace(second=0, microsecond=0)
    return value.replace(microsecond=0)


def _build(y, m, d, H, M, S, ampm, tz, config: DateConfig) -> tuple[dt.datetime, str, int | None] | None:
    try:
        year = int(y)
        if m is None:
            return dt.datetime(year, 1, 1, tzinfo=UTC), "year", None
        month = int(m)
        if d is None:
            return dt.datetime(year, month, 1, tzinfo=UTC), "month", None
        day = int(d)
        if H is None:
            return dt.datetime(year, month, day, tzinfo=UTC), "day", None
        hour, minute = int(H), int(M or 0)
        if ampm:
            pm = ampm.lower().startswith("p")
            if hour > 12:
                return None
            hour = (hour % 12) + (12 if pm else 0)
        second = int(S) if S is not None else 0
        precision = "second" if S is not None else "minute"
        zone = _tz_offset(tz) if tz else None
        if tz and zone is None:
            return None
        local = dt.datetime(year, month, day, hour, minute, second, tzinfo=zone or _zone(config.default_timezone))
        # The offset is recorded only when the source stated a zone; an assumed default zone is not the source's.
        return local.astimezone(UTC), precision, (int(local.utcoffset().total_seconds() // 60) if zone else None)
    except (ValueError, OverflowError):
        return None


def parse_date(text: str, config: DateConfig = DateConfig()) -> ParsedDate | None:
    """Parse a date at the start of ``text`` (leading spaces allowed); None if there is none."""
    s = text.lstrip()
    offset = len(text) - len(s)
    for kind, pattern in PATTERNS:
        m = pattern.match(s)
        if not m:
            continue
        g = m.groupdict()
        if kind == "rfc2822":
            parts = parsedate_tz(m.group(0))
            if not parts:
                continue
            y, mo, d, H, M, S, *_rest, off = parts
            has_seconds = m.group(0).count(":") >= 2
            try:
                zone = dt.timezone(dt.timedelta(seconds=off or 0))
                value = dt.datetime(y, mo, d, H, M, S, tzinfo=zone).astimezone(UTC)
            except ValueError:
                continue
            built = (value, "second" if has_seconds else "minute", off // 60 if off is not None else None)
        elif kind == "numeric":
            a, b = int(g["a"]), int(g["b"])
            day_first = config.day_first
            if a > 12 and b <= 12:
                day_first = True
            elif b > 12 and a <= 12:
                day_first = False
            d, mo = (a, b) if day_first else (b, a)
            built = _build(g["y"], mo, d, g["H"], g["M"], g["S"], g["ampm"], g["tz"], config)
        elif kind == "cjk":
            ampm = _HALF_DAY.get(g["half"]) if g["half"] else None
            minute = g["M"] if g["M"] is not None else (g["M2"] or ("0" if g["H"] is not None else None))
            second = g["S"] if g["S"] is not None else g["S2"]
            built = _build(g["y"], g["m"], g["d"], g["H"], minute, second, ampm, g["tz"], config)
        elif kind in ("dmy", "mdy", "my"):
            mo = MONTHS.get(g["mon"].lower().rstrip("."))
            if mo is None:
                continue
            built = _build(
                g["y"], mo, g.get("d"), g.get("H"), g.get("M"), g.get("S"), g.get("ampm"), g.get("tz"), config
            )
        else:
            built = _build(
                g["y"], g.get("m"), g.get("d"), g.get("H"), g.get("M"), g.get("S"), None, g.get("tz"), config
            )
        if built is None:
            # The text states a date that does not exist (2019-13-45, 2005年2月30日): no other
            # pattern may read a part of it (the year alone) instead.
            return None
        value, precision, tz_minutes = built
        if value.year < config.min_year:
            continue
        return ParsedDate(truncate(value, precision), precision, offset + m.end(), tz_minutes)
    return None


def parse_dateline(line: str, config: DateConfig = DateConfig()) -> ParsedDate | None:
    """A line that is only a (possibly introduced) publication date, e.g. ``Publié le 3 décembre
    2016 à 10h30`` or ``Dec. 7, 2016``; None for any line that says more than a date."""
    lead = _DATELINE_LEAD.match(line)
    rest = line[lead.end() :] if lead else line
    parsed = parse_date(rest, config)
    if parsed is None:
        return None
    tail = rest[parsed.end :].strip(_DATELINE_TAIL)
    if tail:
        return None
    if not lead and parsed.precision == "year":
        return None  # a lone number is not a dateline
    return parsed


# A publication stamp inside a page's visible text: a date introduced as a dateline is
# (发布时间：2005-05-13 14:15, 时间：2004年10月21日14:18, Published: 6 December 2016), or followed by
# a word that says it is the publication (2005-02-06 13:26更新, 2005年8月12日16:12:21 ... 发表).
_STAMP_LEAD = re.compile(
    r"(?<![^\W\d_])(?:(?:published|posted|publié le|publiée le|veröffentlicht am|veröffentlicht)\s*(?:on|:)?\s*"
    r"|(?:发布时间|發佈時間|發布時間|发表时间|發表時間|发布日期|發佈日期|发表于|發表於|更新时间|更新時間|时间|時間|日期|"
    r"公開日時?|投稿日時?|掲載日時?|配信日時?|기사입력|입력|등록일?|작성일|게재일?)\s*[:：]\s*)",
    re.I,
)
_STAMP_DATE = re.compile(r"(?<!\d)(?:19|20)\d{2}\s*[-年./]")
_STAMP_WORD = re.compile(r"\s*(?:更新|发表|發表|发布|發佈|發布|公開|配信|입력|게재)")
_STAMP_BY = re.compile(r"于\s*$|於\s*$")  # 本贴由 X 于2005年8月12日16:12:21 ... 发表


def stated_in_page(visible: str, config: DateConfig = DateConfig()) -> ParsedDate | None:
    """The first publication stamp in a page's visible text (tags removed), of at least day
    precision; None when the page states none. Dates in the prose or in lists of other stories
    are not stamps: only a date introduced by a dateline lead or followed by a publication word is."""
    for m in _STAMP_LEAD.finditer(visible):
        parsed = parse_date(visible[m.end() : m.end() + 60], config)
        if parsed and parsed.precision not in ("year", "month"):
            return parsed
    for m in _STAMP_DATE.finditer(visible):
        parsed = parse_date(visible[m.start() : m.start() + 60], config)
        if not parsed or parsed.precision in ("year", "month"):
            continue
        after = visible[m.start() + parsed.end : m.start() + parsed.end + 80]
        if _STAMP_WORD.match(after) or (
            _STAMP_BY.search(visible[max(0, m.start() - 3) : m.start()]) and re.search(r"发表|發表", after)
        ):
            return parsed
    return None


def date_in_url(url: str | None, config: DateConfig = DateConfig()) -> ParsedDate | None:
    if not url:
        return None
    path = re.sub(r"^[a-z]+://[^/]+", "", url)
    if _ASSET_URL.search(path):
        return None
    for pattern, _precision in _URL_PATTERNS:
        for m in pattern.finditer(path):
            g = m.groupdict()
            built = _build(g["y"], g["m"], g.get("d"), None, None, None, None, None, config)
            if built and built[0].year >= config.min_year:
                return ParsedDate(built[0], built[1], m.end())
    return None


def _plausible(value: dt.datetime, landing: dt.date | None, config: DateConfig) -> bool:
    if landing is None:
        return value.year <= 2100
    return value.date() <= landing + dt.timedelta(days=config.max_future_days)


def resolve(
    header_date: ParsedDate | str | None,
    dateline: ParsedDate | None,
    url: str | None,
    landing: dt.date | None,
    config: DateConfig = DateConfig(),
    header_text: str | None = None,
    header_source: str = "header",
) -> DateResult:
    """The publication date by precedence: header, dateline, URL; else none (null).

    ``header_date`` is the reader's parsed header date (None when its words, ``header_text``,
    could not be read); a string is parsed here. ``header_source`` names who found it (``header``,
    or ``htmldate`` for an HTML page's fallback). ``landing`` only bounds what is plausible: it is
    never returned as a publication date."""
    if isinstance(header_date, str):
        header_text, header_date = header_date, parse_date(header_date, config) if header_date else None
    warnings: list[str] = []
    if header_text or header_date:
        parsed, header_text = header_date, header_text or ""
        if parsed and _plausible(parsed.value, landing, config):
            return DateResult(parsed.value, parsed.precision, header_source, (), parsed.offset_minutes)
        if parsed:
            warnings.append(f"header date {header_text.strip()!r} is after the landing date {landing}; ignored")
        else:
            warnings.append(f"header date {header_text.strip()!r} could not be read; ignored")
    if dateline and _plausible(dateline.value, landing, config):
        return DateResult(dateline.value, dateline.precision, "dateline", tuple(warnings), dateline.offset_minutes)
    parsed = date_in_url(url, config)
    if parsed and _plausible(parsed.value, landing, config):
        return DateResult(parsed.value, parsed.precision, "url", tuple(warnings))
    return DateResult(None, None, "none", tuple(warnings))
