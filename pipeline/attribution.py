"""Attribution: who wrote an article, where it appeared, what it is called, what it is about.

In:  the raw values a reader found (author fields, a site name, a title, keyword strings) and the
     site names the document states (og:site_name, the JSON-LD publisher, its source name).
Out: values you can trust, or nothing: ``authors`` (names only, split, in the source's spelling),
     ``source_name`` (a publication, never a year or a URL), a title without the site's suffix
     (only when the suffix is a site name the document states), ``topics`` split into keywords.

Policy: a value is dropped rather than repaired when it is not what its column means (a weekday
as an author, a URL as a publication): null is better than wrong. Nothing is re-spelled: a name
keeps its case and punctuation; only a leading "By"/"Von"/"Par" and e-mail or web addresses
inside it are taken out.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

# Words that name a role, a desk or a form field, not a person (English, German, French, Spanish,
# Italian, Dutch; as seen in bylines and author meta tags). A name made only of these words (and
# short all-capital abbreviations such as a site's initials) is not an author.
ROLE_WORDS = frozenset(
    """
staff writer writers editor editors editorial contributor contributors contributing correspondent
correspondents reporter reporters columnist author authors admin administrator webmaster team
newsroom desk redaktion redakteur redakteurin autor autorin online news newsdesk wire wires
rédaction redaction journaliste auteur équipe equipe redacción redaccion redactor redazione
redactie guest gastautor gastbeitrag anonymous unknown name by von par por the and of de der
agency agencies md phd dr prof press presse web digital red redakcja noticias sekretariat secretariat
""".split()
)

WEEKDAYS_MONTHS = frozenset(
    """
monday tuesday wednesday thursday friday saturday sunday mon tue tues wed thu thur thurs fri sat sun
montag dienstag mittwoch donnerstag freitag samstag sonnabend sonntag
lundi mardi mercredi jeudi vendredi samedi dimanche
lunes martes miércoles miercoles jueves viernes sábado sabado domingo
january february march april may june july august september october november december
jan feb mar apr jun jul aug sep sept oct nov dec
januar februar märz april mai juni juli august oktober dezember
janvier février fevrier mars avril juin juillet août aout septembre octobre novembre décembre
""".split()
)

_ADDRESS = re.compile(
    r"\S+@\S+|(?:https?://|www\.)\S+|\S+\.(?:com|net|org|de|fr|co\.uk|uk|be|ch|at|it|es|nl|info|ca|au)\b\S*", re.I
)
_WEB_ADDRESS = re.compile(
    r"(?<![@\w.-])(?:https?://|www\.)?[\w-]+(?:\.[\w-]+)*\.(?:com|net|org|de|fr|uk|be|ch|at|it|es|nl|info|ca|au)\b",
    re.I,
)
_BY = re.compile(r"^(?:(?:and|und|et|y|&)\s+)?(?:by|von|par|por|door)\s+|^(?:and|und|et|y|&)\s+", re.I)
_SPLIT = re.compile(r"\s*(?:[,;/|]|\s&\s|\s(?:and|und|et|y|e|en)\s)\s*")
_DIGITS = re.compile(r"\d")
_DATEISH = re.compile(r"\d{1,4}\s*[./-]\s*\d{1,2}|\b(?:1[89]|20)\d\d\b|^[\W\d_]+$")
_TOKEN = re.compile(r"[^\W\d_]+(?:[-'’.][^\W\d_]+)*\.?", re.U)
# Domain endings that, as the last word of a "name", show the name was made from a domain
# ("Www Proplanta De", "Vkavanagh Com").
_TLDS = frozenset("com net org de fr uk be ch at it es nl info ca au eu io co".split())
MAX_NAME_WORDS = 6  # "Fox News View author archive Get author RSS feed" is a menu, not a name


def _tokens(name: str) -> list[str]:
    return _TOKEN.findall(name)


def author_name(value: str, site_words: frozenset[str] = frozenset()) -> str | None:
    """One author's name as the source spells it, or None when the value is no person's name
    (``site_words``: the words of the site's names, which with a role make a desk: "Redacción
    Trome")."""
    name = " ".join(_ADDRESS.sub(" ", value).split())
    name = _BY.sub("", name).strip(" \t-–—:·|,;()[]")
    if not name or _DATEISH.search(name):  # a date or a year is not a name ("Happyface313" is)
        return None
    words = _tokens(name)
    if not words or len(name.split()) > MAX_NAME_WORDS:
        return None
    lower = [w.rstrip(".").casefold() for w in words]
    if lower[0] == "www" or (len(lower) > 1 and lower[-1] in _TLDS):
        return None
    if all(w in WEEKDAYS_MONTHS for w in lower):
        return None
    roles = [w in ROLE_WORDS for w in lower]
    if any(roles) and all(
        r or w.casefold() in site_words or (len(w) <= 3 and w.isupper()) for r, w in zip(roles, words)
    ):
        return None  # "Staff Writer", "Redaktion", "CH Contributor" (a role and initials)
    return name


def authors(values: Iterable[str], sites: Iterable[str | None] = ()) -> tuple[str, ...]:
    """Split "A and B", "A, B", "A; B", "A & B" (and the German, French, Spanish, Dutch "and"),
    keep each part that is a person's name, once, in order; the publication itself (one of
    ``sites``, the names the document gives its site) is its source, not an author."""
    out: list[str] = []
    # A bare domain is no publication's name here: a personal site's domain is its author's name.
    sites = [s for s in sites if s and not re.fullmatch(r"(?:www\.)?[\w-]+(?:\.[\w-]+)+", s.strip())]
    seen: set[str] = {_site_key(s) for s in sites}
    site_words = frozenset(w.casefold() for s in sites for w in _tokens(s))
    for value in values:
        if _WEB_ADDRESS.search(value or "") and _SPLIT.search(value):
            continue  # "hessenschau.de, Frankfurt, Germany": a site and its place, not names
        for part in _SPLIT.split(value or ""):
            name = author_name(part, site_words)
            if name and _site_key(name) not in seen:
                seen.add(_site_key(name))
                out.append(name)
    return tuple(out)


_COPYRIGHT = re.compile(r"^\s*(?:©|\(c\)|copyright)", re.I)


def source_name(value: str | None) -> str | None:
    """The publication's name, or None when the value is a year, a date, a URL, an e-mail
    address, a handle or a copyright line."""
    if not value:
        return None
    name = " ".join(value.split())
    if not name or _COPYRIGHT.match(name) or "://" in name or "@" in name or name.startswith("www."):
        return None
    if not re.search(r"[^\W\d_]", name):  # "2015", "01.09.2010": no letter at all
        return None
    words = [w.casefold() for w in _tokens(name)]
    if words and all(w.rstrip(".") in WEEKDAYS_MONTHS for w in words) and _DIGITS.search(name) is None:
        return None  # "Jan"
    return name


def _site_key(name: str) -> str:
    """A site name compared loosely: case, spaces, punctuation, "www." and the domain ending."""
    name = name.casefold().strip()
    name = re.sub(r"^(?:https?://)?(?:www\.)?", "", name)
    name = re.sub(r"\.(?:co\.uk|com\.au|com|net|org|de|fr|co|uk|be|ch|at|it|es|nl|info|ca)$", "", name)
    return re.sub(r"[\W_]+", "", name)


_SUFFIX = re.compile(r"^(?P<title>.+?)(?:\s+(?:[-–—:·•»]|::)\s+|\s*[|｜]\s*)(?P<site>[^-|｜–—:·•»]+?)\s*$")
_PREFIX = re.compile(r"^\s*(?P<site>[^-|｜–—:·•»]+?)(?:\s+(?:[-–—·•»]|::)\s+|\s*[|｜]\s*)(?P<title>.+)$")


def title_without_site(title: str | None, sites: Iterable[str | None]) -> str | None:
    """The title without a leading or trailing site name ("... - Telegraph", "Le Monde | ..."),
    only when that name is one of ``sites`` (the names the document states); else unchanged."""
    if not title:
        return title
    keys = {_site_key(s) for s in sites if s and s.strip()}
    keys.discard("")
    if not keys:
        return title
    for pattern in (_SUFFIX, _PREFIX):
        m = pattern.match(title)
        if m and _site_key(m.group("site")) in keys and len(m.group("title").strip()) >= 3:
            return m.group("title").strip()
    return title


def keywords(values: Iterable[str]) -> tuple[str, ...]:
    """Topics, categories, tags: a "a, b; c" string becomes its keywords, each once, in order."""
    out: list[str] = []
    seen: set[str] = set()
    for value in values:
        for part in re.split(r"[,;]", value or ""):
            part = " ".join(part.split())
            if part and part.casefold() not in seen:
                seen.add(part.casefold())
                out.append(part)
    return tuple(out)
