"""Dates: properties and precedence (golden cases are in test_golden.py)."""

from __future__ import annotations

import datetime as dt

from hypothesis import given, settings
from hypothesis import strategies as st

from pipeline.config import DateConfig
from pipeline.dates import PRECISIONS, UTC, parse_date, resolve, truncate

DATETIMES = st.datetimes(
    min_value=dt.datetime(1900, 1, 1),
    max_value=dt.datetime(2099, 12, 31),
    timezones=st.sampled_from(
        [UTC, dt.timezone(dt.timedelta(hours=2)), dt.timezone(dt.timedelta(hours=-5, minutes=-30))]
    ),
)


@given(DATETIMES)
@settings(max_examples=300, deadline=None)
def test_iso_round_trip_is_utc_and_idempotent(value):
    text = value.replace(microsecond=0).isoformat()
    first = parse_date(text)
    assert first is not None and first.precision == "second"
    assert first.value.utcoffset() == dt.timedelta(0)
    assert first.value == value.replace(microsecond=0).astimezone(UTC)
    again = parse_date(first.value.isoformat())
    assert again.value == first.value and again.precision == first.precision


@given(DATETIMES, st.sampled_from(PRECISIONS))
@settings(max_examples=200, deadline=None)
def test_truncate_is_idempotent(value, precision):
    once = truncate(value, precision)
    assert truncate(once, precision) == once


@given(st.text(max_size=60))
@settings(max_examples=500, deadline=None)
def test_any_text_parses_to_utc_or_nothing(text):
    got = parse_date(text)
    if got is not None:
        assert got.value.tzinfo is not None and got.value.utcoffset() == dt.timedelta(0)
        assert got.precision in PRECISIONS


def test_month_is_never_given_a_day():
    got = parse_date("2016-12")
    assert (got.value, got.precision) == (dt.datetime(2016, 12, 1, tzinfo=UTC), "month")


def test_time_without_zone_uses_the_configured_zone():
    got = parse_date("2016-12-07 10:30", DateConfig(default_timezone="Europe/Paris"))
    assert got.value == dt.datetime(2016, 12, 7, 9, 30, tzinfo=UTC)


def test_day_first_can_be_turned_off():
    assert parse_date("8-1-2019", DateConfig(day_first=False)).value.date() == dt.date(2019, 8, 1)


def test_precedence_header_dateline_url_then_none():
    landing = dt.date(2019, 3, 1)
    url = "https://x.example/2018/11/17/story"
    dl = parse_date("2018-11-20")
    assert resolve("2018-11-25", dl, url, landing).source == "header"
    assert resolve(None, dl, url, landing).source == "dateline"
    assert resolve(None, None, url, landing).source == "url"
    r = resolve(None, None, None, landing)  # the landing date is not a publication date
    assert (r.source, r.precision, r.published_at) == ("none", None, None)
    assert resolve(None, None, None, None) == resolve(None, None, None, landing)
    assert resolve("2018-11-25", None, None, landing, header_source="htmldate").source == "htmldate"


def test_unreadable_or_future_header_dates_are_said_not_silently_replaced():
    landing = dt.date(2016, 12, 7)
    r = resolve("2016-13-45", None, None, landing)
    assert (r.source, r.published_at) == ("none", None) and "could not be read" in r.warnings[0]
    r = resolve("2031-01-01", None, None, landing)
    assert (r.source, r.published_at) == ("none", None) and "after the landing date" in r.warnings[0]


# Chinese, Japanese and Korean forms, URL forms and asset names (golden cases in tests/golden/dates.json)

CJK_FORMS = [
    "{y}年{m}月{d}日 {H}:{M:02d}",
    "{y}年{m:02d}月{d:02d}日（土）{H}時{M}分",
    "{y}年{m}月{d}日 星期六 {H}点{M}分",
    "{y}년 {m}월 {d}일 {H}시 {M}분",
    "{y}.{m:02d}.{d:02d}. {H}:{M:02d}",
]


@given(DATETIMES, st.sampled_from(CJK_FORMS))
@settings(max_examples=300, deadline=None)
def test_cjk_forms_round_trip_to_the_minute(value, form):
    text = form.format(y=value.year, m=value.month, d=value.day, H=value.hour, M=value.minute)
    got = parse_date(text)
    assert got is not None and got.precision == "minute" and got.end == len(text)
    assert got.value == dt.datetime(value.year, value.month, value.day, value.hour, value.minute, tzinfo=UTC)


@given(st.integers(min_value=0, max_value=99_999_999), st.sampled_from(["/news/a-{}.html", "/{}/story", "/p?id={}"]))
@settings(max_examples=500, deadline=None)
def test_an_eight_digit_url_slug_is_a_date_only_when_it_is_a_calendar_day(number, form):
    from pipeline.dates import date_in_url

    digits = f"{number:08d}"
    got = date_in_url("https://www.example.org" + form.format(digits))
    try:
        day = dt.date(int(digits[:4]), int(digits[4:6]), int(digits[6:]))
        real = 1900 <= day.year <= 2099
    except ValueError:
        real = False
    assert (got is not None) == real
    if real:
        assert got.value.date() == day and got.precision == "day"


def test_lapresse_year_month_folder_gives_the_day():
    r = resolve(None, None, "https://www.lapresse.ca/actualites/201901/11/01-5210774-titre.php", dt.date(2026, 12, 1))
    assert (r.source, r.precision, r.published_at) == ("url", "day", dt.datetime(2019, 1, 11, tzinfo=UTC))


def test_a_date_in_an_image_name_is_not_the_page_date():
    """htmldate's extensive search read 2010-09-01 from an image named Klopfgeist-01.09.10; the
    HTML reader hands it the page with the URLs of images, scripts and style sheets blanked."""
    from pipeline.readers.html import read, without_asset_urls

    para = "<p>Die Geschichte einer Familie, die über Generationen geschwiegen hat, und eines Films darüber.</p>"
    page = (
        "<html><head><title>Die Geschichte</title>"
        "<link rel='stylesheet' href='/css/site.css?v=2015-01-13'>"
        "<meta property='og:image' content='https://www.example.de/uploads/2011/08/kopf.png'></head><body>"
        "<article><h1>Die Geschichte</h1>"
        + para
        * 4
        + "<a href='/film/klopfgeist-bild/'><img src='https://www.example.de/wp-content/uploads/2011/08/"
        "Klopfgeist-01.09.10-150x150.png' alt='Klopfgeist'></a>"
        "<script src='/js/app.js?v20210202'></script></article></body></html>"
    )
    blanked = without_asset_urls(page)
    assert "01.09.10" not in blanked and "2011/08" not in blanked and "2015-01-13" not in blanked
    assert "20210202" not in blanked and "klopfgeist-bild" in blanked and para in blanked
    parsed = read(page.encode(), page)
    assert parsed.header.date is None
    dated = page.replace("<article>", "<article><p class='date'>Veröffentlicht am 17.11.2018</p>")
    got = read(dated.encode(), dated).header.date
    assert (got.value.date(), got.precision) == (dt.date(2018, 11, 17), "day")
