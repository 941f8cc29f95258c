"""HTML pages: the article's text and metadata, without menus, ads, banners and comments.

In:  the bytes of a saved web page (for the charset it declares) and their decoded text.
Out: one ``Parsed`` (format ``html``): body = the main text, header = title, authors,
     description, site name, canonical URL, publication date, categories; or a ``Rejected``
     when no article text can be found (an index page, a redirect stub, a page cut before its body).

Decoding: the page's declared charset (``<meta charset>``, ``http-equiv``) is evidence, weighed
by ``decode.decode``: valid UTF-8 wins over any declaration, a declared legacy charset wins over
our guess, and which won is recorded in ``repairs``. Pages that lie about their charset (declare
UTF-8, are Latin-1) or carry mojibake come out clean.

Main text: trafilatura, the field's reference extractor, run on our decoded text (so it never
has to guess the charset), comments excluded. Date: the page's own structured metadata first
(JSON-LD ``datePublished``, ``article:published_time``, ``<time datetime>`` in the article and
similar meta tags), read with our date parser, which keeps their full precision
(``date_source = header``); then htmldate (day precision, ``date_source = htmldate``) as the
fallback, without the URL (``dates.resolve`` reads it, ``date_source = url``) and without its
bare-year guesses (``_htmldate``).
"""

from __future__ import annotations

import html
import json
import logging
import re

from .. import attribution
from ..config import DateConfig
from ..dates import ParsedDate, parse_date, stated_in_page
from .base import Header, Parsed, Rejected, read_date

_CHARSET = re.compile(rb"""<meta[^>]+?charset\s*=\s*["']?\s*([A-Za-z0-9_\-:.]+)""", re.I)
_JSONLD = re.compile(r"""<script[^>]+type\s*=\s*["']application/ld\+json["'][^>]*>(.*?)</script>""", re.I | re.S)
_META = re.compile(
    r"""<meta\s+[^>]*?(?:property|name|itemprop)\s*=\s*["']([^"']+)["'][^>]*?content\s*=\s*["']([^"']*)["']""", re.I
)
_META_REV = re.compile(
    r"""<meta\s+[^>]*?content\s*=\s*["']([^"']*)["'][^>]*?(?:property|name|itemprop)\s*=\s*["']([^"']+)["']""", re.I
)
_CANONICAL = re.compile(
    r"""<link[^>]+rel\s*=\s*["']canonical["'][^>]*href\s*=\s*["']([^"']+)["']|<link[^>]+href\s*=\s*["']([^"']+)["'][^>]*rel\s*=\s*["']canonical["']""",
    re.I,
)
_PUBLISHED_META = (
    "article:published_time",
    "og:article:published_time",
    "datepublished",
    "publishdate",
    "pubdate",
    "publish-date",
    "publication_date",
    "date.issued",
    "dc.date.issued",
    "dcterms.date",
    "dc.date",
    "sailthru.date",
    "parsely-pub-date",
    "article.published",
    "published_time",
    "date",
    "og:published_time",
)

# Dates in the names of images, scripts and other assets are file dates, never publication dates;
# htmldate's extensive search reads the whole serialised page, attributes included (an image
# Klopfgeist-01.09.10-150x150.png gave 2010-09-01), so the copy it searches has them blanked:
# src/srcset-like attributes, links to asset files, image meta tags and non-canonical <link>s.
_ASSET_EXTENSIONS = r"(?:jpe?g|png|gif|webp|avif|svg|ico|bmp|tiff?|css|js|mjs|woff2?|ttf|otf|mp3|mp4|webm)"
_ASSET_SRC = re.compile(
    r"""(\s(?:src|srcset|data-src|data-srcset|data-lazy-src|data-original|poster)\s*=\s*)(["'])[^"'<>]*\2""", re.I
)
_ASSET_HREF = re.compile(r"""(\shref\s*=\s*)(["'])[^"'<>]*?\.""" + _ASSET_EXTENSIONS + r"""(?:[?#][^"'<>]*)?\2""", re.I)
_ASSET_TAG = re.compile(
    r"""<meta\s[^>]*?(?:og|twitter):image[^>]*>|<link\s(?![^>]*rel\s*=\s*["']?canonical)[^>]*>""", re.I
)


def without_asset_urls(text: str) -> str:
    """The page with the URLs of its images, scripts and other assets blanked (for htmldate)."""
    return _ASSET_HREF.sub(r"\1\2\2", _ASSET_SRC.sub(r"\1\2\2", _ASSET_TAG.sub("", text)))


# A page these libraries cannot read is a quarantine row with our reason ("no article text found in
# the HTML page"); their own ERROR lines about it ("empty HTML tree", "parsed tree length: 1") would
# only repeat it, unattributed, on the run's terminal and in the task log.
for _name in ("trafilatura", "htmldate", "courlan", "justext"):
    logging.getLogger(_name).setLevel(logging.CRITICAL)


def _states_new_year(text: str, year: str) -> bool:
    """Whether the page writes the 1st of January of ``year`` (2020-01-01, 2020年1月1日, 1.1.2020,
    1 January 2020, Jan. 1, 2020), the day htmldate gives when all it found is a bare year."""
    y = re.escape(year)
    return bool(
        re.search(
            rf"(?<!\d){y}\s*[-/.年]\s*0?1\s*[-/.月]\s*0?1(?!\d)|(?<![\d.])0?1\s*[-/.]\s*0?1\s*[-/.]\s*{y}(?!\d)"
            rf"|(?<!\d)1(?:st|er|\.)?\s+(?:jan\w*|janv\w*|jän\w*)\.?,?\s+{y}|jan\w*\.?\s+1(?:st)?,?\s+{y}",
            text,
            re.I,
        )
    )


_INVISIBLE = re.compile(r"<(script|style|noscript)\b.*?</\1\s*>|<!--.*?-->", re.I | re.S)
_TAG = re.compile(r"<[^>]*>")


def _visible(text: str) -> str:
    """The page's visible text, roughly: no scripts, styles, comments or tags; entities for spaces."""
    return re.sub(r"&nbsp;|&#160;|\s+", " ", _TAG.sub(" ", _INVISIBLE.sub(" ", text[:300_000])))


def _htmldate(text: str, dates: DateConfig, warnings: list[str]) -> dict:
    """``Header`` date keywords for a page without JSON-LD or meta dates: a publication stamp its
    visible text states (``dates.stated_in_page``: ``发布时间：2005-05-13 14:15``, ``2005-02-06
    13:26更新``; ``date_source = dateline``), else htmldate's (``date_source = htmldate``).

    Not given the URL: a date in the URL is read by ``dates.resolve`` and labelled ``url``. When
    htmldate finds only a year (a copyright line, ``© 2006``, a bare ``2020``) it returns the 1st
    of January; that day is kept only when the page writes it, otherwise the page states no
    publication date and none is taken (over html-zh and html-trafilatura, none of the 15 pages
    where htmldate gave YYYY-01-01 was published that day, and 10 were not published that year or
    state no date: a year's precision would still mislead)."""
    import htmldate

    stamp = stated_in_page(_visible(text), dates)
    if stamp is not None:
        return {"date": stamp, "date_text": None, "date_source": "dateline"}
    try:
        found = htmldate.find_date(without_asset_urls(text), url=None, original_date=True, extensive_search=True)
    except Exception:  # htmldate raises on odd trees; the dateline and URL remain
        return {}
    if found and found.endswith("-01-01") and not _states_new_year(text, found[:4]):
        warnings.append(
            f"htmldate gave {found}, a bare year (the page does not write that day): not taken as the publication date"
        )
        return {}
    date = read_date(found, dates)
    return {**date, "date_source": "htmldate"} if date else {}


def declared_charset(data: bytes) -> str | None:
    m = _CHARSET.search(data[:8192])
    return m.group(1).decode("ascii", "replace") if m else None


def _jsonld_objects(text: str):
    for block in _JSONLD.findall(text):
        try:
            data = json.loads(block.strip())
        except (json.JSONDecodeError, ValueError):
            continue
        stack = [data]
        while stack:
            obj = stack.pop()
            if isinstance(obj, list):
                stack.extend(obj)
            elif isinstance(obj, dict):
                yield obj
                if "@graph" in obj:
                    stack.append(obj["@graph"])


_ARTICLE_TYPES = re.compile(r"Article|Posting|Report|BlogPosting|NewsArticle|WebPage", re.I)


def _meta(text: str) -> dict[str, str]:
    out: dict[str, str] = {}
    head = text[:300_000]
    for name, content in _META.findall(head):
        out.setdefault(name.lower(), content)
    for content, name in _META_REV.findall(head):
        out.setdefault(name.lower(), content)
    return out


def structured_date(text: str, meta: dict[str, str], dates: DateConfig) -> tuple[str, str, ParsedDate] | None:
    """(date text, where, parsed date) from JSON-LD or meta tags, if our parser reads it.

    The first candidate wins (JSON-LD before meta tags); when it is given in UTC and another
    candidate states the same instant with the publisher's own offset, that one is kept instead,
    so that ``utc_offset_minutes`` can give back the local day of publication.
    """
    candidates: list[tuple[str, str]] = []
    for obj in _jsonld_objects(text):
        kind = obj.get("@type")
        kinds = kind if isinstance(kind, list) else [kind]
        if any(isinstance(k, str) and _ARTICLE_TYPES.search(k) for k in kinds):
            value = obj.get("datePublished") or obj.get("dateCreated")
            if isinstance(value, str):
                candidates.append((value, "json-ld"))
    for key in _PUBLISHED_META:
        if meta.get(key):
            candidates.append((meta[key], f"meta {key}"))
    parsed = [(c, parse_date(c[0], dates)) for c in candidates]
    parsed = [(c, p) for c, p in parsed if p is not None]
    if not parsed:
        return None
    (first, p0) = parsed[0]
    if p0.precision in ("minute", "second") and not p0.offset_minutes:
        for c, p in parsed[1:]:
            if p.offset_minutes and abs((p.value - p0.value).total_seconds()) < 60:
                return c[0], c[1], p
    return first[0], first[1], p0


_AUTHOR_META = (
    "author",
    "article:author",
    "dc.creator",
    "dcterms.creator",
    "parsely-author",
    "sailthru.author",
    "byl",
    "twitter:creator:name",
)


def _names(value) -> list[str]:
    """Names in a JSON-LD author/publisher value: a string, a Person/Organization, or a list."""
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        name = value.get("name")
        return [name] if isinstance(name, str) else []
    if isinstance(value, list):
        return [n for v in value for n in _names(v)]
    return []


def _first_str(value) -> str | None:
    """A JSON-LD value that may be a string, a list, or an object with ``url``/``name``."""
    if isinstance(value, list):
        value = next((v for v in value if v), None)
    if isinstance(value, dict):
        value = value.get("url") or value.get("name")
    return value.strip() if isinstance(value, str) and value.strip() else None


def _as_spelled(name: str, page: str) -> str | None:
    """``name`` as the page writes it: its words in order, case aside, with one to three spaces,
    dots or apostrophes between them (not in a URL slug) ("Nicholas St Fleur" finds "Nicholas St.
    Fleur"); None when the page does not hold it."""
    words = re.findall(r"\w+", name)
    if not words:
        return None
    m = re.search(r"(?<![\w/.-])" + r"[\s.'’]{1,3}".join(map(re.escape, words)) + r"\.?(?![\w/-])", page, re.I)
    return " ".join(html.unescape(m.group(0)).split()) if m else None


# A Chinese byline in the article's text: 作者 (author), 记者 (reporter), 执笔人 (writer), 文/
# (text by), then one to five names of two to four Han characters, each followed by a space, a
# separator or a closing bracket ("（记者 胡晓蓉）", "作者：宋怡 杨志华"). A name glued to more
# text ("罗科苏盈发自北京") is no match: nothing is cut out of a run of characters. Editors
# (编辑, 责任编辑) are not authors; the keyword stands alone ("记者会上" is a press conference)
# or after 报/社/台/网 ("新京报记者", "总台记者"), and a space or colon follows it.
_CJK_BYLINE = re.compile(
    r"(?:(?:(?<![\u4e00-\u9fff])|(?<=[报社台网]))(?:作者|记者|执笔人|撰文)[\s:：\u3000]+|(?<![\u4e00-\u9fff])文[/／]\s*)"
    r"((?:[\u4e00-\u9fff]{2,4}(?:[ \u3000、，,]+|(?=[）)】\]|。\n]|$))){1,5})"
)


def _cjk_byline(body: str) -> list[str]:
    for part in (body[:3000], body[-1500:]):
        m = _CJK_BYLINE.search(part)
        if m:
            names = [n for n in re.split(r"[ \u3000、，,]+", m.group(1)) if n]
            # Several names only when the run ends the byline (a bracket, a full stop, the line's
            # end); else what follows a space may be a place ("记者 彭冲 山东冠县报道").
            ended = m.end() == len(part) or part[m.end()] in "）)】]|。\n"
            return names if ended else names[:1]
    return []


def _absolute(link: str | None, base: str | None) -> str | None:
    """A link as stated, made absolute against the page's URL when it is relative."""
    if not link:
        return None
    if base and not re.match(r"[A-Za-z][A-Za-z0-9+.-]*:|//", link):
        from urllib.parse import urljoin

        return urljoin(base, link)
    return link


def described(text: str, meta: dict[str, str]) -> dict:
    """What the page says about itself in JSON-LD and meta tags, as the source spells it: authors,
    site names (og:site_name, application-name, the JSON-LD publisher), section, image."""
    authors: list[str] = []
    sites: list[str] = []
    section = image = None
    for obj in _jsonld_objects(text):
        kind = obj.get("@type")
        kinds = kind if isinstance(kind, list) else [kind]
        if not any(isinstance(k, str) and _ARTICLE_TYPES.search(k) for k in kinds):
            continue
        authors += _names(obj.get("author"))
        sites += _names(obj.get("publisher"))
        section = section or _first_str(obj.get("articleSection"))
        image = image or _first_str(obj.get("image"))
    for key in _AUTHOR_META:
        value = html.unescape(meta.get(key) or "").strip()
        if value and "://" not in value:  # article:author is often the author's profile URL
            authors.append(value)
    for key in ("og:site_name", "application-name", "twitter:site:name"):
        if meta.get(key):
            sites.append(html.unescape(meta[key]).strip())
    section = section or html.unescape(meta.get("article:section") or "").strip() or None
    image = image or html.unescape(meta.get("og:image") or meta.get("og:image:url") or "").strip() or None
    return {"authors": authors, "sites": sites, "section": section, "image": image}


def read(data: bytes, text: str, dates: DateConfig = DateConfig(), url_hint: str | None = None) -> Parsed | Rejected:
    import trafilatura  # heavy: only pages pay for it

    truncated = not re.search(r"</(html|body)\s*>", text[-200_000:], re.I)
    meta = _meta(text)
    canonical = _CANONICAL.search(text[:300_000])
    url = (canonical.group(1) or canonical.group(2)) if canonical else meta.get("og:url") or url_hint
    doc = trafilatura.bare_extraction(text, url=url, with_metadata=True, include_comments=False, deduplicate=False)
    body = (doc.text if doc is not None else "") or ""
    if len(body.strip()) < 25:  # a menu word or two is what an index or error page leaves (CJK has no spaces)
        reason = "no article text found in the HTML page"
        if truncated:
            reason += " (the page looks truncated: no closing </body> or </html>)"
        elif 'http-equiv="refresh"' in text.lower() or "location.replace" in text:
            reason += " (a redirect stub)"
        return Rejected("html", reason)
    warnings: list[str] = []
    if truncated:
        warnings.append("HTML page has no closing </body> or </html>: it may be truncated")
    found = structured_date(text, meta, dates)
    date = {"date": found[2], "date_text": found[0]} if found else {}
    if not found:
        date = _htmldate(text, dates, warnings)
    said = described(text, meta)
    # Authors as the page spells them (JSON-LD, meta tags) when one is a name; else trafilatura's byline, which it
    # re-spells ("Dana A. Ford" becomes "Dana A Ford", "www.x.de" "Www X De"): each name is
    # taken back as the page writes it, or dropped when the page does not; else a Chinese byline
    # in the text.
    authors = (
        attribution.authors(said["authors"], said["sites"] + [doc.sitename])
        or [n for a in re.split(r";|,| and ", doc.author or "") if (n := _as_spelled(a, text))]
        or _cjk_byline(body)
    )
    extra = []
    if found:
        extra.append(("date_found_in", json.dumps(found[1])))
    header = Header(
        **date,
        title=doc.title or None,
        url=doc.url or url,
        source_name=said["sites"][0] if said["sites"] else doc.sitename or None,
        authors=tuple(authors),
        language=None,  # a page's declared language is often a site default: identify from text
        description=doc.description or None,
        topics=tuple(doc.categories or ()) + tuple(doc.tags or ()),
        section=said["section"],
        image=_absolute(said["image"] or doc.image, doc.url or url),
        license=doc.license or None,
        hostname=doc.hostname or None,
        # trafilatura's sitename counts only when a meta tag states it: it may come from the title
        site_names=tuple(said["sites"]) + ((doc.sitename,) if doc.sitename in meta.values() else ()),
        extra=tuple(extra),
    )
    # trafilatura writes one block (paragraph, heading, list item) a line: the output separates
    # paragraphs by a blank line.
    return Parsed("html", header, body.replace("\n", "\n\n"), None, tuple(warnings))
