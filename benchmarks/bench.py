"""news-etl throughput benchmark: the I/O floor, an obvious hand-written pipeline, the datatrove peer
(datatrove_peer.py, in its own virtualenv) and news-etl, the last two with one worker and with all
cores, measured in one sitting on one generated landing zone.

    ./dev bench                         # 100,000 articles
    ./dev bench --articles 20000 --rounds 2   # quicker; the contenders alternated twice
    ./dev bench --landing DIR           # reuse a landing zone built before (--keep)
    ./dev bench memory | scale          # peak RSS at N and 3 x N; a million articles over 30 dates

The landing zone: N articles of 2-10 KB over several days (SRC/YYYY-MM-DD/), text taken from the
corpora in ../shared/corpora when present (paragraphs recombined, so every article is new) or
generated from a word list written here; an encoding mix (UTF-8, UTF-8 with BOM, cp1252, latin-1,
UTF-16, mojibake) and the header dialects of the spine issue.

Prints articles/s, MB/s, peak RSS (the whole process tree) and seconds per stage for each, the
ratios news-etl / floor, news-etl / hand-written and news-etl / datatrove, the share of wall time spent in Great
Expectations, whether one worker and all cores wrote the same rows; and writes it all as JSON in
benchmarks/results/. Not part of the test suite: numbers live here, not in timed tests.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import random
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import psutil
import pyarrow as pa
import pyarrow.parquet as pq

REPO = Path(__file__).resolve().parent.parent
CORPORA = REPO.parent / "shared" / "corpora"

WORDS = (
    "council budget minister school hospital river bridge election vote market price harbour train station "
    "farmers harvest weather storm police court judge company profit workers union strike city town village "
    "library museum festival season team match goal players coach museum report study students teachers "
    "le la les de des du et un une est que qui dans pour pas sur au avec ce il elle sont par plus conseil ville "
    "marché prix élection école hôpital rivière pont gouvernement ministre syndicat grève récolte tempête"
).split()

ENCODINGS = [("utf-8", 70), ("utf-8-bom", 8), ("cp1252", 8), ("latin-1", 5), ("utf-16", 4), ("mojibake", 5)]
FR_MONTHS = "janvier février mars avril mai juin juillet août septembre octobre novembre décembre".split()


def paragraphs_pools(rng: random.Random) -> list[list[str]]:
    """One pool of paragraphs per corpus, so that each article stays in one language."""
    pools: list[list[str]] = []
    for folder in ("fr-press/files", "en-bbc/files"):
        root = CORPORA / folder
        if not root.is_dir():
            continue
        pool: list[str] = []
        for path in sorted(root.rglob("*.txt")):
            text = path.read_text(encoding="utf-8", errors="replace")
            if text.startswith("<"):
                text = text.split("\n", 1)[-1]
            pool += [p.strip() for p in text.replace("\r", "").split("\n") if len(p.strip()) > 80]
        if len(pool) > 1000:
            pools.append(pool)
    if not pools:  # no corpora: sentences from the word list
        pools.append(
            [" ".join(rng.choice(WORDS) for _ in range(rng.randint(25, 70))).capitalize() + "." for _ in range(20000)]
        )
    return pools


def header(kind: int, day: dt.date, rng: random.Random, title: str) -> str:
    if kind == 0:
        return f" date {day:%Y-%m} Réagissez\n\n"
    if kind == 1:
        return (
            f'<ARTICLE url="https://news.example/{day:%Y/%m/%d}/a{rng.randint(0, 10**9)}"'
            f' date="{day.day}-{day.month}-{day.year}">\n{title}\n'
        )
    if kind == 2:
        return f"Date: {day:%a, %d %b %Y} 10:{rng.randint(10, 59)}:00 +0100\nTitle: {title}\n\n"
    if kind == 3:
        return f"Publié le {day.day} {FR_MONTHS[day.month - 1]} {day.year} à 10h30\n\n{title}\n\n"
    if kind == 4:
        return f"date {day.isoformat()}T08:{rng.randint(10, 59)}:00+01:00\n\n{title}\n\n"
    return f"{title}\n\n"


def encode(text: str, how: str) -> bytes:
    if how == "utf-8":
        return text.encode("utf-8")
    if how == "utf-8-bom":
        return b"\xef\xbb\xbf" + text.encode("utf-8")
    if how == "utf-16":
        return text.encode("utf-16")
    if how == "mojibake":
        return text.encode("utf-8").decode("cp1252", errors="replace").encode("utf-8")
    plain = text.translate(
        str.maketrans(
            {
                "’": "'",
                "‘": "'",
                "“": '"',
                "”": '"',
                "–": "-",
                "—": "-",
                "…": "...",
                "œ": "oe",
                "Œ": "OE",
                "€": "EUR",
                "\u202f": " ",
                "\u2009": " ",
            }
        )
    )
    return plain.encode(how, errors="replace")


def build_landing(root: Path, n: int, seed: int = 20161207, days: int | None = None) -> dict:
    rng = random.Random(seed)
    pools = paragraphs_pools(rng)
    days = days or max(1, n // 10000)
    first = dt.date(2016, 12, 1)
    choices = [e for e, w in ENCODINGS for _ in range(w)]
    total = 0
    t0 = time.perf_counter()
    for i in range(n):
        day = first + dt.timedelta(days=i % days)
        target = rng.randint(2000, 10000)
        paras, size = [], 0
        pool = pools[i % len(pools)]
        while size < target:
            p = rng.choice(pool)
            paras.append(p)
            size += len(p) + 2
        title = " ".join(paras[0].split()[:8]).rstrip(".,;:")
        text = header(i % 6, day, rng, title) + "\n\n".join(paras) + f"\n\n({i})\n"
        data = encode(text, rng.choice(choices))
        folder = root / day.isoformat()
        folder.mkdir(parents=True, exist_ok=True)
        (folder / f"article-{i:07d}.txt").write_bytes(data)
        total += len(data)
    return {
        "articles": n,
        "bytes": total,
        "days": days,
        "seconds_to_build": round(time.perf_counter() - t0, 1),
        "text": "corpora paragraphs" if (CORPORA / "fr-press").is_dir() else "generated",
    }


class PeakRSS:
    """Peak resident memory of a process tree: the sum of each process's RSS, sampled every 50 ms
    (the figure the targets use; news-etl's steps also report the kernel's high-water mark of
    their own process, and the higher of the two counts), and the sum of their PSS, sampled every
    0.5 s (reading smaps costs more), which counts the pages processes share (libarrow, numpy, ...)
    once."""

    def __init__(self, pid: int):
        self.pid, self.peak, self.peak_pss, self._stop = pid, 0, 0, threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self):
        try:
            proc = psutil.Process(self.pid)
        except psutil.NoSuchProcess:
            return
        tick = 0
        while not self._stop.is_set():
            try:
                procs = [proc, *proc.children(recursive=True)]
                self.peak = max(self.peak, sum(p.memory_info().rss for p in procs))
                if tick % 10 == 0:
                    self.peak_pss = max(self.peak_pss, sum(p.memory_full_info().pss for p in procs))
            except (psutil.NoSuchProcess, psutil.AccessDenied, AttributeError):
                pass
            tick += 1
            time.sleep(0.05)

    def stop(self) -> int:
        self._stop.set()
        self.thread.join()
        return self.peak


def timed(cmd: list[str], env: dict | None = None) -> tuple[float, int, int, str]:
    """Seconds, peak RSS and peak PSS (bytes) and stdout of a command."""
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    rss = PeakRSS(proc.pid)
    out, err = proc.communicate()
    peak = rss.stop()
    seconds = time.perf_counter() - t0
    if proc.returncode != 0:
        raise SystemExit(f"benchmark step failed ({' '.join(cmd[:4])}...):\n{err[-3000:]}")
    return seconds, peak, rss.peak_pss, out


# ---------------------------------------------------------------------------------------------
# The contenders, each run as its own process (`bench.py --step NAME`) so that memory is its own.


def step_floor(src: Path, out: Path) -> dict:
    """Read every file, write its bytes as a zstd Parquet column partitioned by day."""
    writers: dict[str, pq.ParquetWriter] = {}
    schema = pa.schema([("path", pa.string()), ("raw", pa.large_binary())])
    n = 0
    stages = {"read": 0.0, "write": 0.0}
    for day in sorted(p for p in src.iterdir() if p.is_dir()):
        paths, blobs = [], []
        t0 = time.perf_counter()
        for f in sorted(day.iterdir()):
            paths.append(f.name)
            blobs.append(f.read_bytes())
            n += 1
            if len(paths) == 2000:
                stages["read"] += time.perf_counter() - t0
                t0 = time.perf_counter()
                _floor_write(writers, out, day.name, schema, paths, blobs)
                stages["write"] += time.perf_counter() - t0
                paths, blobs = [], []
                t0 = time.perf_counter()
        stages["read"] += time.perf_counter() - t0
        if paths:
            t0 = time.perf_counter()
            _floor_write(writers, out, day.name, schema, paths, blobs)
            stages["write"] += time.perf_counter() - t0
    t0 = time.perf_counter()
    for w in writers.values():
        w.close()
    stages["write"] += time.perf_counter() - t0
    return {"articles": n, "stage_seconds": {k: round(v, 3) for k, v in stages.items()}}


def _floor_write(writers, out, day, schema, paths, blobs):
    if day not in writers:
        (out / f"day={day}").mkdir(parents=True, exist_ok=True)
        writers[day] = pq.ParquetWriter(out / f"day={day}" / "part.parquet", schema, compression="zstd")
    writers[day].write_table(pa.table({"path": paths, "raw": pa.array(blobs, pa.large_binary())}, schema=schema))


def step_handwritten(src: Path, out: Path, limit: int) -> dict:
    """UTF-8 or charset-normalizer, ftfy on every article, dateparser on the header's date, a
    language detector, pandas to Parquet: what one writes in an afternoon."""
    import dateparser
    import ftfy
    import pandas as pd
    import py3langid
    from peer_steps import decode, header_date_text  # shared with the datatrove peer

    files = sorted(p for day in sorted(src.iterdir()) if day.is_dir() for p in day.iterdir())[:limit]
    rows = []
    stages = dict.fromkeys(("read", "decode", "ftfy", "dates", "language", "write"), 0.0)
    for f in files:
        t0 = time.perf_counter()
        raw = f.read_bytes()
        t1 = time.perf_counter()
        text = decode(raw)
        t2 = time.perf_counter()
        text = ftfy.fix_text(text)
        t3 = time.perf_counter()
        found = header_date_text(text)
        date = dateparser.parse(found) if found else None
        t4 = time.perf_counter()
        lang = py3langid.classify(text[:400])[0]
        t5 = time.perf_counter()
        rows.append(
            {
                "path": f.name,
                "day": f.parent.name,
                "text": text,
                "language": lang,
                "published": pd.Timestamp(date) if date else pd.NaT,
            }
        )
        for stage, a, b in (
            ("read", t0, t1),
            ("decode", t1, t2),
            ("ftfy", t2, t3),
            ("dates", t3, t4),
            ("language", t4, t5),
        ):
            stages[stage] += b - a
    t0 = time.perf_counter()
    df = pd.DataFrame(rows)
    df["published"] = pd.to_datetime(df["published"], utc=True, errors="coerce")
    df.to_parquet(out, partition_cols=["day"], compression="zstd")
    stages["write"] = time.perf_counter() - t0
    return {
        "articles": len(files),
        "dated": int(df["published"].notna().sum()),
        "stage_seconds": {k: round(v, 3) for k, v in stages.items()},
    }


def step_news_etl(src: Path, out: Path, workers: int) -> dict:
    from pipeline.config import RunConfig
    from pipeline.phases.memory import own_process
    from pipeline.run import run

    own_process()  # as the news-etl command does: this process is the run's

    report = run(RunConfig(source=str(src), output=str(out), workers=workers))
    detail = json.loads(report.to_json())
    # The kernel's high-water mark of this (the coordinating) process: exact, where sampling
    # every 50 ms can miss a short peak. With one worker it is the whole run's peak.
    import resource

    detail["coordinator_max_rss_mb"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)
    return detail


# ---------------------------------------------------------------------------------------------
# The peer engine (datatrove, in its own virtualenv), the alternation of the contenders, and the
# figures over rounds.

DATATROVE_PYTHON = REPO / ".venv-datatrove" / "bin" / "python"


def alternation(args, cores: int, src: Path, files: int, me: list[str]):
    """(round, name, step, articles, command(out)) for every run, the contenders alternated: floor,
    hand-written, datatrove 1 worker, news-etl 1 worker, datatrove all cores, news-etl all cores;
    then again for each further round."""

    def own(step, *extra):
        return lambda out: me + ["--step", step, "--src", str(src), "--out", str(out), *extra]

    def datatrove(workers, n):
        return lambda out: [
            str(DATATROVE_PYTHON),
            str(REPO / "benchmarks" / "datatrove_peer.py"),
            "--src",
            str(src),
            "--out",
            str(out),
            "--workers",
            str(workers),
            *(["--limit", str(n)] if n < files else []),
        ]

    if not DATATROVE_PYTHON.exists():
        raise SystemExit(
            f"bench: no {DATATROVE_PYTHON.relative_to(REPO)}: run the benchmark with ./dev bench, which "
            "builds that virtualenv from benchmarks/datatrove.lock"
        )
    n_dt = min(files, args.datatrove) if args.datatrove else files
    plan = [
        ("floor", "floor", files, own("floor")),
        (
            "handwritten",
            "handwritten",
            min(files, args.handwritten),
            own("handwritten", "--handwritten", str(args.handwritten)),
        ),
        ("datatrove 1 worker", "datatrove", n_dt, datatrove(1, n_dt)),
        ("news-etl 1 worker", "news-etl", files, own("news-etl", "--workers", "1")),
        (f"datatrove {cores} workers", "datatrove", n_dt, datatrove(cores, n_dt)),
        (f"news-etl {cores} workers", "news-etl", files, own("news-etl", "--workers", str(cores))),
    ]
    for rnd in range(1, args.rounds + 1):
        for name, step, n, command in plan:
            yield rnd, name, step, n, command


def add_round(result: dict, earlier: dict | None) -> None:
    """Keep every round's seconds, articles/s and peak RSS in result["rounds"]; the contender's
    seconds and articles/s become the mean over rounds, its peak RSS the highest."""
    rounds = (earlier or {}).get("rounds", []) + [
        {k: result[k] for k in ("seconds", "articles_per_s", "mb_per_s", "peak_rss_mb", "peak_pss_mb")}
    ]
    result["rounds"] = rounds
    for k in ("seconds", "articles_per_s", "mb_per_s"):
        result[k] = round(sum(r[k] for r in rounds) / len(rounds), 2)
    for k in ("peak_rss_mb", "peak_pss_mb"):
        result[k] = max(r[k] for r in rounds)


def peer_ratios(results: dict, cores: int) -> dict:
    """news-etl against the datatrove peer at one worker and at all cores, and the peer's scaling."""

    def name(tool, w):
        return f"{tool} {w} worker{'s' if w > 1 else ''}"

    out = {
        f"news-etl / datatrove, {name('', w).strip()}": round(
            results[name("news-etl", w)]["articles_per_s"] / results[name("datatrove", w)]["articles_per_s"], 2
        )
        for w in (1, cores)
    }
    out[f"datatrove {cores} workers / 1 worker"] = round(
        results[name("datatrove", cores)]["articles_per_s"] / results["datatrove 1 worker"]["articles_per_s"], 2
    )
    return out


def print_table(results: dict, rounds: int) -> None:
    """One line a contender; with several rounds, seconds and articles/s as lowest-highest."""

    def span(r, k, fmt):
        lo, hi = min(x[k] for x in r["rounds"]), max(x[k] for x in r["rounds"])
        return format(lo, fmt) if rounds == 1 or format(lo, fmt) == format(hi, fmt) else f"{lo:{fmt}}-{hi:{fmt}}"

    print(
        f"{'':<22} {'articles':>9} {'seconds':>11} {'articles/s':>13} {'MB/s':>8}"
        f" {'peak RSS MB':>12} {'peak PSS MB':>12}"
    )
    for name, r in results.items():
        print(
            f"{name:<22} {r['articles']:>9,} {span(r, 'seconds', '.1f'):>11} {span(r, 'articles_per_s', ',.0f'):>13} "
            f"{r['mb_per_s']:>8.1f} {r['peak_rss_mb']:>12,.0f} {r['peak_pss_mb']:>12,.0f}"
        )
    fewer = [
        f"{name} ran on its first {r['articles']:,}"
        for name, r in results.items()
        if r["articles"] < max(x["articles"] for x in results.values())
    ]
    if fewer:
        print("(" + "; ".join(fewer) + " articles: --handwritten, --datatrove)")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--articles", type=int, help="articles in the landing zone (100,000; --scale: 1,000,000)")
    ap.add_argument(
        "--handwritten",
        type=int,
        default=3000,
        help="articles for the hand-written pipeline (it runs at a few hundred a second)",
    )
    ap.add_argument("--datatrove", type=int, default=0, help="articles for the datatrove peer (default 0: all of them)")
    ap.add_argument(
        "--rounds",
        type=int,
        default=1,
        help="run the contenders in turn this many times (alternated), and give each one's range",
    )
    ap.add_argument("--landing", type=Path, help="reuse this landing zone instead of building one")
    ap.add_argument("--keep", action="store_true", help="keep the landing zone and outputs")
    ap.add_argument("--results", type=Path, default=REPO / "benchmarks" / "results")
    ap.add_argument(
        "--memory",
        action="store_true",
        help="instead: news-etl's peak RSS (one worker) at N and at 3 x N articles, and its growth",
    )
    ap.add_argument(
        "--scale",
        action="store_true",
        help="instead: news-etl with all cores over N articles (1,000,000) spread over --days dates",
    )
    ap.add_argument("--days", type=int, default=30, help="dates of the --scale landing zone (30)")
    ap.add_argument("--step", help=argparse.SUPPRESS)
    ap.add_argument("--src", type=Path, help=argparse.SUPPRESS)
    ap.add_argument("--out", type=Path, help=argparse.SUPPRESS)
    ap.add_argument("--workers", type=int, default=0, help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.articles is None:
        args.articles = 1_000_000 if args.scale else 100_000

    if args.step:  # a contender, in its own process
        fn = {
            "floor": lambda: step_floor(args.src, args.out),
            "handwritten": lambda: step_handwritten(args.src, args.out, args.handwritten),
            "news-etl": lambda: step_news_etl(args.src, args.out, args.workers),
        }[args.step]
        print(json.dumps(fn(), default=str), flush=True)
        # As the news-etl command ends (pipeline.cli.entry): without the interpreter's teardown,
        # where a native thread pool still running can abort the process (SIGABRT, "terminate
        # called without an active exception", apache/arrow issue 34314) after the work is done.
        sys.stderr.flush()
        os._exit(0)

    if args.memory:
        return memory_growth(args)
    if args.scale:
        return scale(args)
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    work = Path(tempfile.mkdtemp(prefix="news-etl-bench-"))
    src = args.landing or work / "landing"
    info = {
        "machine": {
            "cores": cores,
            "python": sys.version.split()[0],
            "memory_gb": round(psutil.virtual_memory().total / 2**30, 1),
        },
        "when": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
    }
    try:
        if not args.landing:
            print(f"building a landing zone of {args.articles:,} articles ...", flush=True)
            info["landing"] = build_landing(src, args.articles)
        else:  # a landing zone built before: read it once, so the floor (run first) is not the
            # only contender that pays for a cold page cache
            print("reading the landing zone once (page cache) ...", flush=True)
            for d in src.iterdir():
                for p in d.iterdir() if d.is_dir() else ():
                    p.read_bytes()
        files = sum(1 for d in src.iterdir() if d.is_dir() for _ in d.iterdir())
        nbytes = sum(p.stat().st_size for d in src.iterdir() if d.is_dir() for p in d.iterdir())
        info.setdefault("landing", {}).update({"articles": files, "bytes": nbytes})
        me = [sys.executable, str(Path(__file__).resolve())]
        results = {}
        for rnd, name, step, n, command in alternation(args, cores, src, files, me):
            out = work / f"out-{name.replace(' ', '-')}-{rnd}"
            shutil.rmtree(work / f"out-{name.replace(' ', '-')}-{rnd - 1}", ignore_errors=True)  # keep the last round's
            print(f"running {name} on {n:,} articles{f' (round {rnd})' if args.rounds > 1 else ''} ...", flush=True)
            seconds, peak, pss, stdout = timed(command(out))
            detail = json.loads(stdout.strip().splitlines()[-1])
            mb = nbytes * n / files / 1e6
            earlier = results.pop(name, None)
            results[name] = {
                "articles": n,
                "seconds": round(seconds, 2),
                "articles_per_s": round(n / seconds, 1),
                "mb_per_s": round(mb / seconds, 2),
                "peak_rss_mb": round(peak / 2**20, 1),
                "peak_pss_mb": round(pss / 2**20, 1),
            }
            results[name]["stage_seconds"] = detail.get("stage_seconds", {})
            if "coordinator_max_rss_mb" in detail:  # a peak the 50 ms sampling missed still counts
                results[name]["coordinator_max_rss_mb"] = detail["coordinator_max_rss_mb"]
                results[name]["peak_rss_mb"] = max(results[name]["peak_rss_mb"], detail["coordinator_max_rss_mb"])
            if step in ("handwritten", "datatrove"):
                results[name]["dated"] = detail.get("dated")
            if step == "news-etl":
                stages = detail.get("stage_seconds", {})
                gx_work = sum(v for k, v in stages.items() if k in ("validate rows", "validate batches", "data docs"))
                gx_import = sum(v for k, v in stages.items() if k in ("gx import", "gx import (background)"))
                results[name].update(
                    {
                        "gx_share_of_wall": round((gx_work + gx_import) / seconds, 4),
                        # the throughput issue's measure: row + batch validation + Data Docs
                        "gx_share_of_wall_without_import": round(gx_work / seconds, 4),
                        "articles_written": detail["articles_written"],
                        "quarantined": detail["quarantined"],
                        "duplicates": detail["duplicates"],
                        "output": str(out),
                    }
                )
            add_round(results[name], earlier)
        one, many = results["news-etl 1 worker"], results[f"news-etl {cores} workers"]

        def rows(path):
            t = pq.read_table(Path(path) / "articles", columns=["article_id", "content_sha256"])
            return sorted(zip(t.column("article_id").to_pylist(), t.column("content_sha256").to_pylist()))

        info["same_rows_one_vs_all_cores"] = rows(one["output"]) == rows(many["output"])
        info["results"] = results
        info["ratios"] = {
            "news-etl 1 worker / floor": round(one["articles_per_s"] / results["floor"]["articles_per_s"], 3),
            "news-etl 1 worker / hand-written": round(
                one["articles_per_s"] / results["handwritten"]["articles_per_s"], 2
            ),
            f"news-etl {cores} workers / 1 worker": round(many["articles_per_s"] / one["articles_per_s"], 2),
            **peer_ratios(results, cores),
        }
    finally:
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)
        else:
            print(f"kept {work}")
    print()
    print_table(info["results"], args.rounds)
    for name, r in info["results"].items():
        if "stage_seconds" in r:
            gx = (
                f"GX seconds / wall seconds {r['gx_share_of_wall']:.1%} with its import, "
                f"{r.get('gx_share_of_wall_without_import', 0):.1%} without (rows + batches + Data Docs; "
                "thread seconds, some overlapping the article work); "
                if "gx_share_of_wall" in r
                else ""
            )
            print(f"\n{name}: {gx}stages (s): " + ", ".join(f"{k} {v:.1f}" for k, v in r["stage_seconds"].items()))
    print()
    if args.rounds > 1:
        print(f"ratios of the mean articles/s over {args.rounds} rounds")
    for k, v in info["ratios"].items():
        print(f"{k}: {v}")
    print(f"same rows with 1 worker and all cores: {info['same_rows_one_vs_all_cores']}")
    save_results(args.results, f"bench-{info['landing']['articles']}", info)
    return 0


def memory_growth(args) -> int:
    """Peak RSS of news-etl with one worker at N and 3 x N articles (the same generator, so the
    larger landing zone has the same mix, over three times the days)."""
    work = Path(tempfile.mkdtemp(prefix="news-etl-bench-memory-"))
    me = [sys.executable, str(Path(__file__).resolve())]
    info: dict = {"when": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"), "runs": {}}
    try:
        for n in (args.articles, 3 * args.articles):
            src = work / f"landing-{n}"
            print(f"building a landing zone of {n:,} articles ...", flush=True)
            landing = build_landing(src, n)
            print(f"running news-etl 1 worker on {n:,} articles ...", flush=True)
            seconds, peak, _, stdout = timed(
                me + ["--step", "news-etl", "--src", str(src), "--out", str(work / f"out-{n}"), "--workers", "1"]
            )
            detail = json.loads(stdout.strip().splitlines()[-1])
            sampled = round(peak / 2**20, 1)
            info["runs"][n] = {
                "landing": landing,
                "seconds": round(seconds, 1),
                "articles_per_s": round(n / seconds, 1),
                "peak_rss_mb": max(sampled, detail["coordinator_max_rss_mb"]),
                "peak_rss_sampled_mb": sampled,
                "peak_rss_kernel_mb": detail["coordinator_max_rss_mb"],
                "articles_written": detail["articles_written"],
                "stage_seconds": detail.get("stage_seconds", {}),
            }
            shutil.rmtree(work / f"out-{n}", ignore_errors=True)
            shutil.rmtree(src, ignore_errors=True)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    small, large = (info["runs"][n] for n in (args.articles, 3 * args.articles))
    info["growth"] = round(large["peak_rss_mb"] / small["peak_rss_mb"] - 1, 4)
    print(
        f"\n{'':<14} {'articles':>9} {'seconds':>9} {'articles/s':>11} {'peak RSS MB':>12} {'sampled':>8} {'kernel':>8}"
    )
    for n, r in info["runs"].items():
        print(
            f"{'news-etl 1 w':<14} {n:>9,} {r['seconds']:>9.1f} {r['articles_per_s']:>11,.0f}"
            f" {r['peak_rss_mb']:>12,.0f}"
            f" {r['peak_rss_sampled_mb']:>8,.0f} {r['peak_rss_kernel_mb']:>8,.0f}"
        )
    print(f"peak RSS growth from {args.articles:,} to {3 * args.articles:,} articles: {info['growth']:+.1%}")
    save_results(args.results, f"memory-{args.articles}", info)
    return 0


def scale(args) -> int:
    """news-etl with all cores over one landing zone of N articles spread over --days dates: wall
    time, articles/s and peak RSS (the process tree sampled every 50 ms, or the coordinating
    process's kernel high-water mark where that is higher)."""
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    work = Path(tempfile.mkdtemp(prefix="news-etl-bench-scale-"))
    me = [sys.executable, str(Path(__file__).resolve())]
    n = args.articles
    info: dict = {
        "when": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "machine": {"cores": cores, "memory_gb": round(psutil.virtual_memory().total / 2**30, 1)},
    }
    try:
        src = args.landing or work / "landing"
        if not args.landing:
            print(f"building a landing zone of {n:,} articles over {args.days} dates ...", flush=True)
            info["landing"] = build_landing(src, n, days=args.days)
        n = sum(1 for d in src.iterdir() if d.is_dir() for _ in d.iterdir())
        dates = sum(1 for d in src.iterdir() if d.is_dir())
        print(f"running news-etl {cores} workers on {n:,} articles ...", flush=True)
        seconds, peak, pss, stdout = timed(
            me + ["--step", "news-etl", "--src", str(src), "--out", str(work / "out"), "--workers", str(cores)]
        )
        detail = json.loads(stdout.strip().splitlines()[-1])
        sampled = round(peak / 2**20, 1)
        info["run"] = {
            "articles": n,
            "dates": dates,
            "workers": cores,
            "seconds": round(seconds, 1),
            "articles_per_s": round(n / seconds, 1),
            "peak_rss_mb": max(sampled, detail["coordinator_max_rss_mb"]),
            "peak_rss_sampled_mb": sampled,
            "peak_rss_kernel_mb": detail["coordinator_max_rss_mb"],
            "peak_pss_mb": round(pss / 2**20, 1),
            "articles_written": detail["articles_written"],
            "quarantined": detail["quarantined"],
            "duplicates": detail["duplicates"],
            "stage_seconds": detail.get("stage_seconds", {}),
        }
    finally:
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)
        else:
            print(f"kept {work}")
    r = info["run"]
    print(f"\nnews-etl, {cores} workers, {n:,} articles over {r['dates']} dates")
    print(
        f"wall time {r['seconds']:,.1f} s ({r['seconds'] / 60:.1f} min); {r['articles_per_s']:,.0f} articles/s; "
        f"peak RSS {r['peak_rss_mb']:,.0f} MB (sampled {r['peak_rss_sampled_mb']:,.0f}, "
        f"kernel {r['peak_rss_kernel_mb']:,.0f}); "
        f"peak PSS {r['peak_pss_mb']:,.0f} MB"
    )
    print(f"written {r['articles_written']:,}, quarantined {r['quarantined']:,}, duplicates {r['duplicates']:,}")
    print("stages (s): " + ", ".join(f"{k} {v:.1f}" for k, v in r["stage_seconds"].items()))
    save_results(args.results, f"scale-{n}", info)
    return 0


def save_results(folder: Path, stem: str, info: dict) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{stem}-{dt.datetime.now():%Y%m%dT%H%M%S}.json"
    path.write_text(json.dumps(info, indent=2, default=str))
    print(f"written: {path.relative_to(REPO) if path.is_relative_to(REPO) else path}")
    return path


if __name__ == "__main__":
    sys.exit(main())
