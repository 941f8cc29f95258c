"""Quality: is what a reader extracted an article at all?

In:  the title and the text an article would have (after clean and metadata), its word and
     character counts.
Out: None (an article), or the reason it is not: an HTTP error page ("HTTP Error 403", "404 Not
     Found", "Access denied"), a bot wall ("Are you a robot?", "Checking your browser",
     captcha) or a consent page ("We use cookies" as the main text). The step that calls it
     quarantines the document with that reason (stage ``quality``).

Only short texts are judged (``SHORT_WORDS``, ``SHORT_CHARS``): such pages are a few sentences,
and an article that mentions a 404 error or a cookie banner is longer, or says so in a sentence
rather than as its heading. An HTTP error must be the title or the text's first line; a bot wall
or consent sentence must open the text.
"""

from __future__ import annotations

import re

# Error, bot-wall and consent pages seen in crawls hold 2 to 80 words; the shortest news briefs
# of the corpora hold 40 to 120. Above this, a text is judged an article whatever it mentions.
SHORT_WORDS = 150
SHORT_CHARS = 1500  # the same for scripts written without spaces (about 150 words of English)
OPENING_CHARS = 400  # where a bot-wall or consent sentence stands when it is the page's text

_ERROR_LINE = re.compile(
    r"^\W*(?:(?:HTTP(?:/\d(?:\.\d)?)?\s*)?(?:Error|Fehler|Erreur)?\s*[:#]?\s*[45]\d\d\b.{0,60}"
    r"|(?:(?:Error|Fehler|Erreur)\s*[:#]?\s*)?(?:Not Found|Forbidden|Unauthorized"
    r"|Access Denied|Accès refusé|Zugriff verweigert"
    r"|Page Not Found|Seite nicht gefunden|Page introuvable|Página no encontrada|Service Unavailable"
    r"|Internal Server Error|Bad Gateway|Gateway Time-?out|Request Rejected)\b.{0,40})$",
    re.I,
)
_BOT_WALL = re.compile(
    r"are you a (?:robot|human)|checking (?:your|if the site connection is secure|the browser)|captcha"
    r"|verify (?:that )?you(?:'re| are) (?:a )?human|unusual traffic from your (?:computer|network)"
    r"|enable javascript and cookies to continue|attention required!? \| cloudflare|just a moment\.\.\."
    r"|kein roboter|pas un robot|please wait while we verify",
    re.I,
)
_CONSENT = re.compile(
    r"we use cookies|this (?:web)?site uses cookies|wir verwenden cookies|diese (?:web)?seite verwendet cookies"
    r"|diese website verwendet cookies|nous utilisons des cookies|ce site utilise des cookies|utilizamos cookies"
    r"|este sitio (?:web )?utiliza cookies|utilizziamo (?:i )?cookie|cookie[- ](?:consent|settings|einstellungen)"
    r"|accept (?:all )?cookies|alle cookies akzeptieren|tout accepter",
    re.I,
)


def not_an_article(
    title: str | None, text: str, word_count: int, char_count: int, body: str | None = None
) -> str | None:
    """Why this is no article (an error, bot-wall or consent page), or None. ``body``: the text
    as the reader gave it, before boilerplate lines (cookie lines among them) were dropped."""
    if word_count > SHORT_WORDS or char_count > SHORT_CHARS:
        return None
    first_line = text.lstrip().split("\n", 1)[0].strip()
    for line in (title or "", first_line):
        if line and len(line) <= 100 and _ERROR_LINE.match(line.strip()):
            return f"an HTTP error page, not an article: {line.strip()[:80]!r}"
    opening = "\n".join((title or "", text[:OPENING_CHARS], (body or "").lstrip()[:OPENING_CHARS]))
    m = _BOT_WALL.search(opening)
    if m:
        return f"a bot wall, not an article: {m.group(0)!r}"
    m = _CONSENT.search(opening)
    if m:
        return f"a cookie consent page, not an article: {m.group(0)!r}"
    return None
