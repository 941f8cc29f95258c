"""Write the sample landing zone (samples/landing/) used by the demo, the DAG's defaults and tests.

Every article here was written for news-etl; the places and people are invented. The files cover
the header dialects, every encoding decode handles, compression and archives, a dateless article,
a duplicate, and bad files (empty, binary, truncated, not an article, an unsafe archive member).

    python samples/make_landing.py            # (re)writes samples/landing/
    python samples/make_landing.py --check    # exit 1 if samples/landing/ differs

The output is byte-for-byte deterministic (fixed gzip/zip/tar timestamps).
"""

from __future__ import annotations

import argparse
import gzip
import io
import sys
import tarfile
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent / "landing"
EPOCH = 1480896000  # 2016-12-05T00:00:00Z, for archive member times

FR_BUDGET = """Le conseil municipal de Valmont a adopté lundi soir, après plus de quatre heures de débat, un budget de 48 millions d’euros pour l’année 2017, en hausse de 3 % par rapport à l’exercice précédent.

La majorité a défendu « un budget de responsabilité » qui ne touche pas aux taux d’imposition locaux. L’opposition a dénoncé « des promesses sans financement » et voté contre l’ensemble du texte.

Les écoles d’abord

Près d’un tiers des investissements iront à la rénovation de trois groupes scolaires construits dans les années 1970. « Nos enfants méritent des classes chauffées l’hiver et ventilées l’été », a déclaré l’adjointe chargée de l’éducation, Mme Laure Desmarais.

Le chantier le plus important, celui de l’école des Tilleuls, doit commencer au printemps et durer dix-huit mois. Les élèves seront accueillis pendant les travaux dans des bâtiments modulaires installés sur le terrain de sport voisin.

Une dette sous surveillance

L’endettement de la commune atteindra 61 millions d’euros à la fin de l’année. Le maire assure que la capacité de désendettement restera inférieure à huit ans, un seuil que la chambre régionale des comptes juge prudent.
"""

FR_MARCHE = """Marché de Noël : les chalets ouvrent sous la pluie
Malgré une averse continue, plusieurs milliers de visiteurs ont arpenté lundi les allées du marché de Noël installé sur la place du Théâtre, à Saint-Aubin-sur-Loire.
Quatre-vingt-dix chalets proposent cette année des produits régionaux, des jouets en bois et des décorations faites à la main. Les organisateurs ont réduit de moitié le nombre de stands de vêtements importés, une demande répétée des artisans locaux.
« Nous voulions un marché qui ressemble à la région », explique Gérard Vasseur, président de l’association des commerçants. Le vin chaud, lui, reste servi à 2,50 € le gobelet.
Le marché restera ouvert tous les jours jusqu’au 31 décembre, de 11 heures à 21 heures.
"""

EN_COUNCIL = """The county council approved a revised transport plan on Monday that shifts almost a fifth of the road maintenance budget to bus services and cycle lanes over the next four years.

Councillors voted 31 to 18 in favour after a debate that ran past midnight. Supporters said the plan would cut journey times on the busiest routes into the city centre, while opponents warned that rural roads were already in poor repair.

"We cannot keep patching potholes on roads that fewer people use every year," said Helen Marsh, who chairs the transport committee. Critics pointed to a survey showing that two thirds of residents in outlying villages still depend on their cars.

The first new bus routes are expected to start running in April.
"""

FR_GREVE = """Publié le 5 décembre 2016 à 10h30

Grève des transports : un trafic très perturbé mardi

La circulation des trains régionaux sera fortement réduite mardi en raison d’un mouvement social lancé par trois syndicats de cheminots, qui protestent contre la suppression de postes de contrôleurs.

Selon la direction régionale, un train sur trois circulera sur les lignes principales et aucun sur les petites lignes de montagne. Des cars de substitution seront mis en place entre les gares les plus fréquentées.

Les syndicats réclament l’ouverture de négociations avant la fin de l’année. « Nous ne pouvons pas accepter des trains sans personnel à bord », affirme un représentant syndical, qui n’exclut pas de prolonger le mouvement jusqu’à la fin de la semaine.
"""

FR_FESTIVAL = """Le festival des lumières attire une foule record

Pour sa dixième édition, le festival des lumières de Belcourt a accueilli plus de 120 000 visiteurs au cours de son premier week-end, selon les chiffres communiqués par la mairie.

Les façades de la cathédrale et de l’hôtel de ville ont été transformées en écrans géants pour des projections imaginées par des étudiants des beaux-arts. Une installation sonore, près du pont de pierre, a provoqué de longues files d’attente jusqu’à minuit.

Les commerçants du centre-ville se disent satisfaits, même si certains regrettent la fermeture des rues à la circulation dès le milieu de l’après-midi.
"""

EN_PORT = """Port expansion wins final approval

The harbour authority has granted final approval to a £240 million expansion of the container terminal, ending a planning dispute that lasted almost three years.

The project will add two deep-water berths and is expected to create around 600 permanent jobs once completed in 2020. Environmental groups had objected to the dredging of the estuary, which is home to several protected bird species.

Under the final agreement, the operator will fund a new wetland reserve twice the size of the area affected and publish water quality measurements every month. "It is not everything we asked for, but it is far better than the original plan," said a spokesperson for the coalition of conservation charities.
"""

FR_BIBLIOTHEQUE = """La nouvelle médiathèque de Montclair ouvrira ses portes en février, avec six mois de retard sur le calendrier initial et un surcoût de 1,2 million d’euros.

Le bâtiment, conçu autour d’un ancien entrepôt de tissus, offrira 45 000 documents, un atelier numérique et une salle de spectacle de 150 places. Les élus assurent que l’œuvre de l’architecte a été respectée malgré les économies demandées en cours de chantier.

« Ce lieu doit être le cœur culturel du quartier », a insisté la directrice, Mme Odile Ferrand, lors d’une visite de presse. L’abonnement annuel coûtera 12 € pour les adultes et sera gratuit pour les moins de 18 ans.
"""

EN_DATELESS = """Volunteers clear riverbank after winter floods

More than two hundred volunteers spent the weekend clearing debris from the banks of the river after the floods that hit the valley last month.

Teams removed fallen trees, fencing and several tonnes of plastic waste caught in the undergrowth. The local angling club provided boats to reach stretches that could not be accessed on foot.

Organisers said they would return in the spring to plant willow cuttings that help to hold the soil in place.
"""

FR_ZIP = """Le club de basket de Rivesaltes remporte le derby

Porté par un public bouillant, le club de basket de Rivesaltes a dominé son voisin de Cabestany (81-67) samedi soir, au terme d’un match longtemps serré.

Les visiteurs menaient encore de quatre points à la mi-temps, avant qu’une série de trois paniers à trois points ne renverse la rencontre au début du troisième quart-temps. L’entraîneur a salué « l’état d’esprit d’un groupe qui ne lâche rien ».

Le club remonte à la deuxième place du classement avant de recevoir le leader la semaine prochaine.
"""

EN_ZIP = """Title: Library extends opening hours during exam season

The central library will stay open until ten o'clock every evening from January, after students collected more than three thousand signatures asking for longer hours.

The extension will be funded for an initial six months by the university and the city council together. Staff will be joined by trained student assistants on evening shifts.

Library managers said they would publish figures on evening use before deciding whether to make the change permanent.
"""

FR_ELECTIONS = """date 7 décembre 2016

Régionales : la liste d’union devance ses rivaux

À quatre mois du scrutin, un sondage publié mercredi place la liste d’union de la gauche et des écologistes en tête des intentions de vote, avec 31 % des suffrages, devant la droite (27 %) et le centre (19 %).

L’enquête, réalisée auprès de 1 200 personnes, montre aussi que près d’un électeur sur deux n’a pas encore fait son choix définitif. « Rien n’est joué », prévient le politologue Étienne Marchal, qui rappelle que les écarts restent dans la marge d’erreur.

Le thème des transports arrive en tête des préoccupations, devant l’emploi et la santé.
"""

EN_TECH = """Dec. 7, 2016

Budget phone review: long battery life, middling camera

The latest budget handset from a mid-sized manufacturer offers a battery that comfortably lasts two days, a bright screen and a fingerprint reader that works reliably, for less than half the price of flagship models.

The camera is its weak point. Photos taken in daylight are sharp enough for social media, but indoor shots quickly become noisy and the portrait mode struggles with hair and glasses.

For buyers who mainly message, browse and stream music, it is one of the best value phones of the year.
"""

EN_TAR = """Title: Bakery celebrates one hundred years on the high street

A family bakery that has sold bread on the same corner of the high street since 1916 celebrated its centenary on Saturday with free cakes for the first hundred customers.

The business has passed through four generations of the same family. The current owner, who took over from her father twelve years ago, still uses the original brick oven for the traditional loaves sold at weekends.

Regular customers queued from seven in the morning, and the town band played outside until the last cake was gone.
"""

EN_WIRE = """Date: Thu, 08 Dec 2016 06:45:00 +0000
Title: Overnight storm closes coastal road

The coastal road between the two harbour towns was closed overnight after a storm brought down power lines and left debris across both carriageways.

Engineers expect to reopen one lane by midday. Drivers are advised to use the inland route, which adds around twenty minutes to the journey.
"""


EN_PARK = [
    "The borough council approved on Tuesday a plan to turn the disused railway yard behind the station into a "
    "park with playgrounds, allotments and a covered market, after three years of consultation with residents.",
    "The project will be paid for by the council and a regional regeneration fund. Work is expected to start in "
    "the spring and to last eighteen months, according to the planning documents published with the decision.",
    "Market traders welcomed the plan but asked for parking spaces nearby. \u201cPeople will still come by car on "
    "Saturdays,\u201d said the chair of the traders\u2019 association, who wants a review after the first year.",
]

FR_SALON = [
    "Le salon du livre jeunesse de Montreuil-sur-Lys a fermé ses portes dimanche soir après avoir accueilli "
    "près de 40 000 visiteurs en cinq jours, un record depuis sa création il y a vingt ans.",
    "Les organisateurs se félicitent de la présence de nombreuses classes venues de toute la région. Les "
    "ateliers d\u2019illustration, complets dès le premier jour, seront doublés l\u2019an prochain.",
]


def html_page(
    title: str,
    paragraphs: list[str],
    published: str,
    charset: str = "utf-8",
    site: str = "The Borough Courier",
    url: str = "https://courier.example/news/2016/12/09/railway-yard-park",
    lang: str = "en",
) -> str:
    body = "".join(f"<p>{p}</p>\n" for p in paragraphs)
    return f"""<!DOCTYPE html>
<html lang="{lang}"><head><meta charset="{charset}"><title>{title} | {site}</title>
<meta property="og:title" content="{title}"><meta property="og:site_name" content="{site}">
<meta name="author" content="Pat Quill"><link rel="canonical" href="{url}">
<meta property="article:published_time" content="{published}">
</head><body>
<nav><ul><li><a href="/">Home</a></li><li><a href="/news">News</a></li><li><a href="/sport">Sport</a></li></ul></nav>
<div class="cookie-banner">We use cookies to improve your experience. Accept all cookies</div>
<article><h1>{title}</h1>
{body}</article>
<aside class="share">Share on Facebook Share on Twitter</aside>
<section id="comments"><h2>Comments</h2><div class="comment"><p>About time! Will there be a skate park too, or only benches?</p></div></section>
<footer>Copyright 2016 {site}. All rights reserved.</footer>
</body></html>
"""


def jsonl_records() -> bytes:
    import json

    records = [
        {
            "title": "Harbour ferry returns after repairs",
            "maintext": (
                "The harbour ferry returned to service on Friday morning after six weeks in dry dock, where engineers replaced "
                "both propeller shafts and repainted the hull.\n\nCommuters had relied on a replacement bus that added forty "
                "minutes to the journey around the bay. The operator said timetables would be back to normal from Monday."
            ),
            "date_publish": "2016-12-09 07:10:00",
            "authors": ["Jo Lind"],
            "language": "en",
            "url": "https://wire.example/ferry",
            "source_domain": "wire.example",
            "image_url": "https://wire.example/ferry.jpg",
        },
        {
            "title": "La piscine municipale rouvre ses bassins",
            "maintext": (
                "Fermée depuis l\u2019été pour des travaux d\u2019isolation, la piscine municipale de Bréval a rouvert vendredi. "
                "Le bassin sportif a été entièrement carrelé à neuf et un toboggan attend les enfants.\n\nLes horaires d\u2019ouverture "
                "sont élargis le mercredi et le samedi, et les tarifs restent inchangés jusqu\u2019à la fin de l\u2019année."
            ),
            "date_publish": "2016-12-09",
            "authors": "Claire Morel",
            "language": "fr",
            "url": "https://fil.example/piscine",
            "source_domain": "fil.example",
        },
    ]
    lines = [json.dumps(r, ensure_ascii=False) for r in records]
    lines.insert(1, '{"title": "Cut off record", "maintext": "This line was cut by the crawler')
    return ("\n".join(lines) + "\n").encode("utf-8")


def rss_feed() -> bytes:
    """An RSS 2.0 feed of two items: one with its text in the description (escaped HTML), one
    with the full text in content:encoded and a summary in the description."""
    return b"""<?xml version="1.0" encoding="UTF-8"?>
<rss version="2.0" xmlns:dc="http://purl.org/dc/elements/1.1/" xmlns:content="http://purl.org/rss/1.0/modules/content/">
<channel>
<title>The Harbour Town Chronicle</title>
<link>https://chronicle.example/</link>
<description>News from Harbour Town</description>
<item>
<title>Ferry timetable changes in the new year</title>
<link>https://chronicle.example/2016/12/09/ferry-timetable</link>
<pubDate>Fri, 09 Dec 2016 17:45:00 +0100</pubDate>
<dc:creator>Nora Quill</dc:creator>
<category>Transport</category>
<guid isPermaLink="false">chronicle-4411</guid>
<description>&lt;p&gt;The harbour company will run two more crossings on weekdays from January, the port authority \
said on Friday, after a year in which the evening boats were full almost every night.&lt;/p&gt;&lt;p&gt;Fares stay \
the same &amp;amp; season tickets bought before the change remain valid until they expire.&lt;/p&gt;</description>
</item>
<item>
<title>Library opens on Sunday afternoons</title>
<link>https://chronicle.example/2016/12/08/library-sundays</link>
<pubDate>Thu, 08 Dec 2016 09:00:00 GMT</pubDate>
<author>desk@chronicle.example (Amos Reed)</author>
<description>The town library will open on Sunday afternoons.</description>
<content:encoded><![CDATA[<p>The town library will open on Sunday afternoons from next month, the council decided on \
Tuesday evening, answering a petition signed by more than a thousand residents.</p><p>Volunteers from the reading \
club will help the two librarians at the desk, and the children's corner will hold a story hour at three.</p>]]></content:encoded>
</item>
</channel>
</rss>
"""


def sgml_container() -> bytes:
    return (
        '<!DOCTYPE lewis SYSTEM "lewis.dtd">\n'
        '<REUTERS TOPICS="YES" NEWID="9001">\n<DATE> 9-DEC-2016 14:05:09.12</DATE>\n'
        "<TOPICS><D>grain</D><D>wheat</D></TOPICS>\n<PLACES><D>canada</D></PLACES>\n<TEXT>&#2;\n"
        "<TITLE>PRAIRIE WHEAT HARVEST BEST IN A DECADE</TITLE>\n<DATELINE>    WINNIPEG, Dec 9 - </DATELINE><BODY>Farmers on the prairies\n"
        "brought in the largest wheat harvest in ten years, the provincial grain board said, helped by\n"
        "a warm and dry autumn that let combines work until late November.\n"
        "    Prices fell slightly on the news, traders said.\n Reuter\n&#3;</BODY></TEXT>\n</REUTERS>\n"
        '<REUTERS TOPICS="NO" NEWID="9002">\n<DATE> 9-DEC-2016 15:40:00.00</DATE>\n<TEXT>&#2;\n'
        "<TITLE>CITY BUS FARES TO RISE IN JANUARY</TITLE>\n<BODY>Bus fares in the city will rise by five cents in January,\n"
        "the transit authority said, the first increase in four years, to pay for new low-floor buses.\n Reuter\n&#3;</BODY></TEXT>\n</REUTERS>\n"
        '<REUTERS TOPICS="NO" NEWID="9003">\n<DATE> 9-DEC-2016 16:02:00.00</DATE>\n<TEXT>&#2;\n'
        "<TITLE>MILL CLOSES</TITLE>\n<BODY>The paper mill announced that its last shift would"
    ).encode("ascii")


def mojibake(text: str, times: int = 1) -> bytes:
    """UTF-8 bytes read as cp1252 and saved as UTF-8, ``times`` over."""
    for _ in range(times):
        text = text.encode("utf-8").decode("cp1252", errors="replace")
    return text.encode("utf-8")


def gz(data: bytes) -> bytes:
    buf = io.BytesIO()
    with gzip.GzipFile(fileobj=buf, mode="wb", mtime=EPOCH, filename="") as fh:
        fh.write(data)
    return buf.getvalue()


def zip_of(members: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        for name, data in members.items():
            info = zipfile.ZipInfo(name, date_time=(2016, 12, 6, 8, 0, 0))
            info.compress_type = zipfile.ZIP_DEFLATED
            zf.writestr(info, data)
    return buf.getvalue()


def tgz_of(members: dict[str, bytes]) -> bytes:
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w", format=tarfile.USTAR_FORMAT) as tf:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            info.mtime = EPOCH
            info.uname = info.gname = "news-etl"
            tf.addfile(info, io.BytesIO(data))
    return gz(raw.getvalue())


def files() -> dict[str, bytes]:
    binary = bytes((i * 73 + 41) % 256 for i in range(2048))  # deterministic noise with NULs
    full_gzip = gz(FR_FESTIVAL.encode("utf-8"))
    return {
        # 2016-12-05: the reference-article shape, pseudo-XML, UTF-16, gzip + BOM, an empty file
        "2016-12-05/valmont-budget.txt": (" date 2016-12 Réagissez\n\n" + FR_BUDGET).encode("utf-8"),
        "2016-12-05/marche-de-noel.txt": (
            '<ARTICLE url="https://journal.example/regions/2016/12/05/marche-de-noel" date="5-12-2016">\n' + FR_MARCHE
        ).encode("cp1252"),
        "2016-12-05/council-transport.txt": (
            "Date: Mon, 05 Dec 2016 09:15:00 +0000\nTitle: Council backs bus and cycle plan\n\n" + EN_COUNCIL
        ).encode("utf-16"),
        "2016-12-05/greve-transports.txt.gz": gz(b"\xef\xbb\xbf" + FR_GREVE.replace("\n", "\r\n").encode("utf-8")),
        "2016-12-05/empty.txt": b"",
        "2016-12-05/.DS_Store": b"\x00\x00\x00\x01Bud1",
        # 2016-12-06: latin-1, mojibake, iso-8859-15, a dateless article, binary, a zip
        "2016-12-06/festival-lumieres.txt": ("date 2016-12-06\n" + FR_FESTIVAL.replace("’", "'")).encode("latin-1"),
        "2016-12-06/port-expansion.txt": mojibake("Date: 2016-12-06T14:30:00+01:00\n\n" + EN_PORT),
        "2016-12-06/mediatheque.txt": (
            '<doc title="Médiathèque : ouverture en février" source="Le Courrier de Test">\n'
            + FR_BIBLIOTHEQUE.replace("’", "'")
        ).encode("iso-8859-15"),
        "2016-12-06/riverbank-volunteers.txt": EN_DATELESS.encode("utf-8"),
        "2016-12-06/scan.bin": binary,
        "2016-12-06/bundle.zip": zip_of(
            {
                "sport/derby-basket.txt": ("date 2016-12-05\n\n" + FR_ZIP).encode("utf-8"),
                "campus/library-hours.txt": EN_ZIP.encode("utf-16-le"),
            }
        ),
        # 2016-12-07: double mojibake, datelines, a duplicate, truncated gzip, not an article, unsafe tar
        "2016-12-07/regionales-sondage.txt": mojibake(FR_ELECTIONS, times=2),
        "2016-12-07/phone-review.txt": EN_TECH.encode("utf-8"),
        "2016-12-07/syndicated/phone-review-copy.txt": EN_TECH.encode("utf-8"),
        "2016-12-07/truncated.txt.gz": full_gzip[: len(full_gzip) // 2],
        "2016-12-07/readings.csv": b"station,date,value\nA1,2016-12-07,12.5\nA2,2016-12-07,13.1\nA3,2016-12-07,11.9\n",
        "2016-12-07/archive.tar.gz": tgz_of(
            {
                "bakery-centenary.txt": ("Date: 2016-12-07\n" + EN_TAR).encode("utf-8"),
                "../escape.txt": b"this member tries to leave the archive\n",
            }
        ),
        # 2016/12/08: the nested layout, RFC 2822 header
        "2016/12/08/coastal-road.txt": EN_WIRE.encode("utf-8"),
        # 2016-12-09: other formats, good and broken
        "2016-12-09/courier-railway-park.html": html_page(
            "Railway yard to become a park", EN_PARK, "2016-12-09T08:15:00+00:00"
        ).encode("utf-8"),
        "2016-12-09/salon-livre.html": html_page(
            "Salon du livre jeunesse : un record",
            FR_SALON,
            "2016-12-09T18:30:00+01:00",
            charset="utf-8",
            site="La Gazette de la Lys",
            url="https://gazette.example/culture/salon-livre",
            lang="fr",
        )
        .replace("\u2019", "'")
        .encode("latin-1"),  # declares UTF-8, is Latin-1: a page that lies
        "2016-12-09/cut-page.html": html_page("Cut", EN_PARK, "2016-12-09T08:15:00+00:00")
        .split("<body>")[0]
        .encode("utf-8"),
        "2016-12-09/crawl.jsonl": jsonl_records(),
        "2016-12-09/export.json": b'{"title": "Export", "maintext": "The export job stopped half way",\n  "date": ',
        "2016-12-09/wire.sgm": sgml_container(),
        "2016-12-09/chronicle.rss": rss_feed(),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="compare instead of writing")
    parser.add_argument("--out", type=Path, default=ROOT)
    args = parser.parse_args(argv)
    wanted = files()
    if args.check:
        bad = [
            rel
            for rel, data in wanted.items()
            if not (args.out / rel).is_file() or (args.out / rel).read_bytes() != data
        ]
        for rel in bad:
            print(f"differs: {rel}", file=sys.stderr)
        return 1 if bad else 0
    for rel, data in wanted.items():
        path = args.out / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
    print(f"wrote {len(wanted)} files under {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
