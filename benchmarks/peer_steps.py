"""What the benchmark's two peers (the hand-written pipeline in bench.py and the datatrove pipeline in
datatrove_peer.py) do the same way: decode an article's bytes and find the text of its header's date.

In: an article's bytes, or its decoded text. Out: its text; the string to hand dateparser (or None).
Standard library and charset-normalizer only, so that both virtualenvs (the project's and
.venv-datatrove) import it.
"""

from __future__ import annotations

import re

# The header's date as an obvious pipeline finds it: a date="..." attribute, a "Date:" line, the
# value after a leading "date", a "Publié le ..." phrase; else the first line. Handing dateparser
# the date alone, not the whole line, is what its documentation shows (a non-date line costs it
# tens of milliseconds while it tries every language).
HEADER_DATE = re.compile(r'date="([^"]+)"|^Date:[ \t]*(.+)$|^[ \t]*date[ \t]+(\S+)|^Publié le (.+)$', re.M)


def decode(raw: bytes) -> str:
    """UTF-8, else charset-normalizer's best guess, else latin-1 (which decodes any bytes)."""
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        from charset_normalizer import from_bytes

        best = from_bytes(raw).best()
        return str(best) if best else raw.decode("latin-1")


def header_date_text(text: str) -> str | None:
    """The header's date (at most 60 characters) from the first 300 characters, else the first line;
    None for an empty article."""
    head = text.lstrip()[:300]
    if not head:
        return None
    m = HEADER_DATE.search(head)
    found = next((g for g in m.groups() if g), None) if m else None
    return (found or head.split("\n", 1)[0])[:60]
