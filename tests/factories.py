"""Records for tests, written here (no corpus text)."""

from __future__ import annotations

import dataclasses
import datetime as dt

from pipeline.metadata import article_id, content_sha256, minhash
from pipeline.records import Article

TEXT = (
    "Le conseil municipal a adopté lundi soir le budget de la commune pour l’année prochaine, "
    "après un long débat sur les écoles et la dette."
)


def article(i: int = 0, **changes) -> Article:
    text = changes.pop("text", f"{TEXT} ({i})")
    path = f"2016-12-07/article-{i:04d}.txt"
    base = Article(
        article_id=article_id(path),
        source_uri=f"file:///landing/{path}",
        source_path=path,
        landing_date=dt.date(2016, 12, 7),
        format="text",
        url=None,
        source_name=None,
        title=f"Titre {i}",
        authors=[],
        description=None,
        topics=[],
        section=None,
        places=[],
        subheadings=[],
        text=text,
        language="fr",
        language_score=1.0,
        published_at=dt.datetime(2016, 12, 7, tzinfo=dt.UTC),
        date_precision="day",
        date_source="header",
        utc_offset_minutes=None,
        encoding="utf-8",
        repairs=[],
        undecodable_bytes=0,
        content_sha256=content_sha256(text),
        raw_sha256="0" * 64,
        word_count=len(text.split()),
        char_count=len(text),
        reading_time_minutes=-(-len(text.split()) // 200),
        image=None,
        license=None,
        hostname=None,
        quotes=[],
        warnings=[],
        minhash=minhash(text),
        extra={},
        pipeline_version="test",
    )
    return dataclasses.replace(base, **changes)
