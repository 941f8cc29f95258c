"""Dates: properties and precedence (golden cases are in test_golden.py)."""

from __future__ import annotations

import datetime as dt

from hypothesis import given, settings
from hypothesis import strategies as st

from pipeline.config import DateConfig
from pipeline.dates import PRECISIONS, UTC, parse_date, resolve, truncate

DATETIMES = st.datetimes(min_value=dt.datetime(1900, 1, 1), max_value=dt.datetime(2099, 12, 31),
                         timezones=st.sampled_from([UTC, dt.timezone(dt.timedelta(hours=2)),
                                                    dt.timezone(dt.timedelta(hours=-5, minutes=-30))]))


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


def test_precedence_header_dateline_url_landing():
    landing = dt.date(2019, 3, 1)
    url = "https://x.example/2018/11/17/story"
    dl = parse_date("2018-11-20")
    assert resolve("2018-11-25", dl, url, landing).source == "header"
    assert resolve(None, dl, url, landing).source == "dateline"
    assert resolve(None, None, url, landing).source == "url"
    r = resolve(None, None, None, landing)
    assert (r.source, r.precision, r.published_at) == ("landing", "day", dt.datetime(2019, 3, 1, tzinfo=UTC))
    assert resolve(None, None, None, None).published_at is None


def test_unreadable_or_future_header_dates_are_said_not_silently_replaced():
    landing = dt.date(2016, 12, 7)
    r = resolve("2016-13-45", None, None, landing)
    assert r.source == "landing" and "could not be read" in r.warnings[0]
    r = resolve("2031-01-01", None, None, landing)
    assert r.source == "landing" and "after the landing date" in r.warnings[0]
