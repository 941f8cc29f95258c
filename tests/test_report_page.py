"""The run report page (pipeline/report_page.py): OUT/_report/index.html over the 5 sample dates."""

from __future__ import annotations

import json
import re
from html.parser import HTMLParser

import pytest

from pipeline.cli import main
from pipeline.config import RunConfig
from pipeline.report_page import PAGE, collect, write_report_page
from pipeline.run import run

DATES = ["2016-12-05", "2016-12-06", "2016-12-07", "2016-12-08", "2016-12-09"]


@pytest.fixture(scope="module")
def output(samples, tmp_path_factory):
    """The sample landing zone published date by date (five runs), then 2016-12-07 rerun."""
    out = tmp_path_factory.mktemp("report")
    reports = {d: run(RunConfig(source=str(samples), output=str(out), date=d, workers=1)) for d in DATES}
    reports["2016-12-07"] = run(RunConfig(source=str(samples), output=str(out), date="2016-12-07", workers=1))
    return out, reports


@pytest.fixture(scope="module")
def page(output):
    path = write_report_page(output[0])
    assert path == str(output[0] / PAGE)
    return (output[0] / PAGE).read_text(encoding="utf-8")


def test_the_page_needs_no_network(page):
    assert "http" not in page.lower()
    assert (
        "<script" not in page.lower() and "<link" not in page.lower() and "@import" not in page and "url(" not in page
    )


def test_the_page_is_well_formed_html_with_one_plot_per_facet(page):
    class Tags(HTMLParser):
        def __init__(self):
            super().__init__()
            self.stack, self.svgs, self.captions = [], 0, []

        def handle_starttag(self, tag, attrs):
            if tag not in ("meta", "rect", "line", "br"):
                self.stack.append(tag)
            self.svgs += tag == "svg"

        def handle_endtag(self, tag):
            if tag in ("rect", "line"):
                return
            assert self.stack and self.stack[-1] == tag, (tag, self.stack[-5:])
            self.stack.pop()

        def handle_data(self, data):
            if self.stack and self.stack[-1] == "figcaption":
                self.captions.append(data)

    tags = Tags()
    tags.feed(page)
    assert tags.stack == []
    facets = [
        "Quarantine reasons",
        "Languages",
        "Date sources",
        "Date precisions",
        "Encodings",
        "Repairs (articles may have several)",
        "Words per article",
    ]
    # once over all dates, once per landing date
    assert [tags.captions.count(f) for f in facets] == [1 + len(DATES)] * len(facets)
    assert tags.svgs >= 1 + (1 + len(DATES)) * 5  # the outcomes plot, and the facets that have data


def test_counts_are_the_published_versions(output):
    out, reports = output
    data = collect(out)
    manifests = {d: json.loads((out / "_manifests" / f"{d}.json").read_text()) for d in DATES}
    assert list(data["dates"]) == DATES
    for d in DATES:
        assert data["dates"][d]["run_id"] == reports[d].run_id == manifests[d]["run_id"]
        assert data["dates"][d]["articles"] == reports[d].batches[d]["articles"]
        assert data["dates"][d]["quarantined"] == reports[d].batches[d]["quarantined"]
        assert data["dates"][d]["duplicates"] == reports[d].batches[d]["duplicates"]
    assert len(data["runs"]) == len(DATES) + 1  # the rerun replaced 2016-12-07's figures, not added to them
    total = sum(r.articles_written for r in reports.values())
    assert sum(data["overall"]["languages"].values()) == total
    assert sum(data["overall"]["word_counts"].values()) == total
    assert sum(data["overall"]["reasons"].values()) == sum(r.quarantined for r in reports.values())
    for d in DATES:  # per date, the facets add up to the date's articles
        assert sum(data["per_date"][d]["date_sources"].values()) == reports[d].articles_written


def test_the_page_shows_the_figures(output, page):
    out, reports = output
    d = "2016-12-07"
    b = reports[d].batches[d]
    summary = re.search(rf"<summary>{d}: ([^<]*)<", page).group(1)
    word = "duplicate" if b["duplicates"] == 1 else "duplicates"
    assert summary == f"{b['articles']} articles, {b['quarantined']} quarantined, {b['duplicates']} {word} "
    for r in reports.values():
        assert f"<code>{r.run_id}</code>" in page
        assert f'href="../_docs/{r.run_id}/index.html"' in page
    assert "expect_column_values_to_match_regex(text)" in page  # a quarantine reason of 2016-12-07
    assert "parse: JSON syntax error on line N, column N" in page  # positions folded into one bar


def test_cli_report_command(output, capsys, tmp_path):
    assert main(["report", "--output", str(output[0])]) == 0
    assert capsys.readouterr().out.strip() == str(output[0] / PAGE)
    assert main(["report", "--output", str(tmp_path / "none")]) == 1
    assert "news-etl: [report] no output folder at" in capsys.readouterr().err
    assert not (tmp_path / "none").exists()
