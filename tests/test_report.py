"""`snapfolio report` end to end: a year of a small long/short book through the flow's own
code (batch_helpers.run_batch, real dbt), the report written by the CLI as a user runs it,
then opened in headless Chromium driven over the Chrome DevTools protocol.

Chromium (tests/chromium.py) is Debian's `chromium` package, installed when missing and
possible, else the browser test is skipped with the reason.
`SNAPFOLIO_REPORT_SCREENSHOT=docs/report.png` also saves the full-page screenshot there.
"""

from __future__ import annotations

import html
import os
import re
import subprocess
import sys
from dataclasses import dataclass, replace
from datetime import date
from html.parser import HTMLParser
from pathlib import Path

import pytest

from tests.chromium import DevTools, pytest_browser

REPO = Path(__file__).resolve().parent.parent
NAME = "Core & Satellite <demo>"
AS_OF = date(2025, 11, 28)
THANKSGIVING = date(2025, 11, 27)  # not a session: --as-of reports 2025-11-26
BOOK = """\
Symbol,Quantity,Entry Price Per Share,Entry Date,Investment Class,Investment Subtype,Underlying Symbol,Strike Price,Expiration Date,Option Type,Exit Date,Exit Price Per Share
AAPL,400,190.00,2024-11-29,PUBLIC,STOCK,,,,,,
MSFT,150,420.00,2024-11-29,PUBLIC,STOCK,,,,,,
JPM,300,240.00,2024-11-29,PUBLIC,STOCK,,,,,,
XOM,500,118.00,2024-11-29,PUBLIC,STOCK,,,,,,
JNJ,350,150.00,2024-11-29,PUBLIC,STOCK,,,,,,
SPY,100,600.00,2024-11-29,PUBLIC,ETF,,,,,,
TSLA,-120,340.00,2024-11-29,PUBLIC,STOCK,,,,,,
GGIPX,2000,25.00,2024-11-29,PRIVATE,PRIVATE_EQUITY,,,,,,
"""
FRESH = "fresh"  # three sessions by AS_OF: most risk numbers are still NULL
FRESH_BOOK = BOOK.splitlines()[0] + """
AAPL,10,230.00,2025-11-25,PUBLIC,STOCK,,,,,,
XOM,20,118.00,2025-11-25,PUBLIC,STOCK,,,,,,
"""


def snapfolio(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "snapfolio", *args], check=False,
                          capture_output=True, text=True, timeout=300,
                          env={**os.environ, "PYTHONPATH": str(REPO)})


@dataclass
class Book:
    db: object
    portfolio_id: int
    home: Path


@pytest.fixture(scope="module")
def book(test_database, tmp_path_factory) -> Book:
    import batch_helpers

    from snapfolio.core.settings import load_settings

    db = test_database
    db.reset()
    settings = replace(load_settings(), price_provider="synthetic:unavailable=GGIPX",
                       chunk_sessions=5000)
    csv = tmp_path_factory.mktemp("report") / "book.csv"
    csv.write_text(BOOK)
    pid = batch_helpers.store_file(db.engine, csv, NAME).portfolio_id
    fresh = csv.with_name("fresh.csv")
    fresh.write_text(FRESH_BOOK)
    batch_helpers.store_file(db.engine, fresh, FRESH)
    summary = batch_helpers.run_batch(db.engine, settings, db.url, as_of=AS_OF)
    assert summary.error is None, summary.error
    return Book(db=db, portfolio_id=pid, home=db.home)


@pytest.fixture(scope="module")
def rendered(book: Book) -> tuple[Path, str]:
    proc = snapfolio("report", "--portfolio", NAME)
    assert proc.returncode == 0, proc.stderr
    path = Path(proc.stdout.strip())
    return path, path.read_text(encoding="utf-8")


# ---------------------------------------------------------------- the file itself

class _Refs(HTMLParser):
    """Every URL a tag could fetch: script/img/iframe/source src, link href, css url()."""

    def __init__(self) -> None:
        super().__init__()
        self.refs: list[str] = []
        self.inline_scripts = 0

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        for key in ("src", "srcset", "data", "poster"):
            if a.get(key):
                self.refs.append(f"{tag}[{key}]={a[key]}")
        if tag == "link" and a.get("href"):
            self.refs.append(f"link[href]={a['href']}")
        if tag == "script" and not a.get("src"):
            self.inline_scripts += 1
        if a.get("style") and "url(" in a["style"]:
            self.refs.append(f"{tag}[style]={a['style']}")


def test_default_path_is_sanitized_and_the_file_is_self_contained(book, rendered) -> None:
    path, text = rendered
    assert path == book.home / "reports" / f"Core_Satellite_demo-{AS_OF}.html"
    parser = _Refs()
    parser.feed(text)
    assert parser.refs == []  # no <script src>, <link href>, <img src> at all: all inline
    assert parser.inline_scripts >= 7  # plotly.js once + one per chart
    assert text.count("Plotly.newPlot") >= 6
    # plotly.js is inlined exactly once (its license banner opens the bundle)
    assert text.count("plotly.js v") == 1
    styles = re.findall(r"<style>(.*?)</style>", text, flags=re.DOTALL)
    assert styles and not any(re.search(r"url\(|@import", s) for s in styles)
    # user strings escaped: the name never appears as markup
    assert "<demo>" not in text and html.escape(NAME) in text


def _stress_key(r: dict) -> tuple:
    """DESIGN: the lowest correlated P&L (direct where that is NULL); ties → smallest id."""
    return (r["correlated_pnl"] if r["correlated_pnl"] is not None else r["direct_pnl"],
            r["scenario_id"].encode())


def test_headline_numbers_match_the_marts(book, rendered) -> None:
    from snapfolio.cli.report import money, pct

    _, text = rendered
    db = book.db
    snaps = db.rows("select snapshot_date, equity, daily_pnl, daily_return, cumulative_pnl, "
                    "initial_equity from marts.fct_portfolio_snapshots where portfolio_id = :p "
                    "order by snapshot_date", p=book.portfolio_id)
    last = snaps[-1]
    assert last["snapshot_date"] == AS_OF
    # independent drawdown (DESIGN): equity / running max of equity − 1, max = min of those
    peak, drawdowns = float("-inf"), []
    for s in snaps:
        peak = max(peak, s["equity"])
        drawdowns.append(s["equity"] / peak - 1)
    stress = db.rows("select scenario_id, direct_pnl, correlated_pnl from "
                     "marts.fct_portfolio_stress_results where portfolio_id = :p and "
                     "snapshot_date = :d", p=book.portfolio_id, d=AS_OF)
    worst = min(stress, key=_stress_key)
    worst_pnl = worst["correlated_pnl"] if worst["correlated_pnl"] is not None else worst["direct_pnl"]
    cards = dict(re.findall(r'<div class="k">(.*?)</div><div class="v[^"]*"[^>]*>(.*?)</div>',
                            re.sub(r">\s+<", "><", text)))
    assert cards["Equity"] == money(last["equity"])
    assert cards["Daily P&amp;L"] == money(last["daily_pnl"], signed=True)
    assert cards["Cumulative P&amp;L"] == money(last["cumulative_pnl"], signed=True)
    assert cards["Return"] == pct(last["cumulative_pnl"] / last["initial_equity"], 2, True)
    assert cards["Drawdown"] == pct(drawdowns[-1], 2)
    assert f"max {pct(min(drawdowns), 2)}" in text
    assert cards["Worst stress"] == money(worst_pnl, signed=True)
    assert f"({worst['scenario_id']})" in text
    risk = db.rows("select realized_vol_63d, har_vol_21d, var_95_1d from marts.fct_portfolio_risk "
                   "where portfolio_id = :p and snapshot_date = :d", p=book.portfolio_id, d=AS_OF)[0]
    assert None not in risk.values()  # a year of data: every headline number is defined
    assert cards["Realized vol 63d"] == pct(risk["realized_vol_63d"], 1)
    assert cards["HAR vol 21d"] == pct(risk["har_vol_21d"], 1)
    assert cards["VaR 95 % 1d"] == pct(risk["var_95_1d"], 2)
    # stress table sorted worst first by the same rule
    ids = re.findall(r"Stress scenarios.*?</table>", text, flags=re.DOTALL)[0]
    names = {r["scenario_id"]: r["name"] for r in db.rows(
        "select distinct scenario_id, name from raw_seeds.stress_scenarios")}
    shown = re.findall(r"<tr><td>([^<]+)</td><td>", ids)
    ordered = sorted(stress, key=_stress_key)
    assert shown == [html.escape(names[r["scenario_id"]]) for r in ordered]
    # the unavailable fund and the gate's result are on the page
    assert re.search(r"<td>GGIPX</td><td>no data", text)
    assert 'id="gate-status">passed<' in text
    assert "run warning: symbol GGIPX unavailable" in text


def test_as_of_reports_the_last_stored_session_and_bad_input_exits_2(book, tmp_path) -> None:
    out = tmp_path / "old.html"
    proc = snapfolio("report", "--portfolio", NAME, "--as-of", THANKSGIVING.isoformat(),
                     "--out", str(out))
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == str(out)
    text = out.read_text()
    assert '<strong id="session">2025-11-26</strong>' in text
    # correlations are stored for the latest session only: said, not drawn
    assert 'id="chart-correlations"' not in text
    assert f"stored for the latest session only ({AS_OF})" in text
    equity = book.db.scalar("select equity from marts.fct_portfolio_snapshots where "
                            "portfolio_id = :p and snapshot_date = '2025-11-26'",
                            p=book.portfolio_id)
    from snapfolio.cli.report import money
    assert f'id="equity">{money(equity)}<' in text
    # a session after the last stored one: the last stored session, said so on the page
    proc = snapfolio("report", "--portfolio", NAME, "--as-of", "2025-12-05", "--out", str(out))
    assert proc.returncode == 0, proc.stderr
    text = out.read_text()
    assert f'<strong id="session">{AS_OF}</strong>' in text
    assert "(last stored session on or before 2025-12-05)" in text

    for args, needle in ((("--portfolio", NAME, "--as-of", "2024-01-02"), "no stored session"),
                         (("--portfolio", "nobody"), "unknown portfolio: nobody"),
                         (("--portfolio", NAME, "--as-of", "2025-13-01"), "--as-of")):
        bad = tmp_path / "bad.html"
        proc = snapfolio("report", *args, "--out", str(bad))
        assert proc.returncode == 2, (args, proc.stdout, proc.stderr)
        lines = proc.stderr.strip().splitlines()
        assert len(lines) == 1 and needle in lines[0], proc.stderr
        assert not bad.exists() and list(tmp_path.glob(".report-*")) == []


def test_a_young_portfolio_reports_what_is_defined(book, tmp_path) -> None:
    out = tmp_path / "fresh.html"
    proc = snapfolio("report", "--portfolio", FRESH, "--out", str(out))
    assert proc.returncode == 0, proc.stderr
    text = re.sub(r">\s+<", "><", out.read_text())
    sessions = book.db.scalar("select count(*) from marts.fct_portfolio_snapshots s join "
                              "raw.portfolios p using (portfolio_id) where p.name = :n", n=FRESH)
    assert sessions == 3  # 2025-11-25, 26 and 28 (27 is Thanksgiving)
    assert '<div class="k">HAR vol 21d</div><div class="v">—</div>' in text
    assert '<div class="k">VaR 95 % 1d</div><div class="v">—</div>' in text
    # symbol returns predate the entry, so the pair's 90-session correlation is defined
    assert 'id="chart-correlations"' in text and 'id="chart-equity"' in text


# ---------------------------------------------------------------- in a browser

@pytest.fixture
def browser(tmp_path):
    yield from pytest_browser(tmp_path)


def test_report_renders_offline_in_chromium(book, rendered, browser: DevTools, tmp_path) -> None:
    path, _ = rendered
    cdp = browser
    for domain in ("Network", "Runtime", "Log", "Page"):
        cdp.page(f"{domain}.enable")
    cdp.page("Page.navigate", url=path.as_uri())
    cdp.wait_for("Page.loadEventFired")
    cdp.drain(1.5)  # late console errors, deferred requests

    requests = [e["params"]["request"]["url"] for e in cdp.events
                if e.get("method") == "Network.requestWillBeSent"]
    assert requests and all(u.startswith(("file://", "data:", "blob:")) for u in requests), requests
    errors = [e for e in cdp.events
              if e.get("method") == "Runtime.exceptionThrown"
              or (e.get("method") == "Runtime.consoleAPICalled"
                  and e["params"]["type"] in ("error", "assert"))
              or (e.get("method") == "Log.entryAdded" and e["params"]["entry"]["level"] == "error")]
    assert errors == []

    charts = cdp.evaluate("""Array.from(document.querySelectorAll('.js-plotly-plot')).map(el => ({
        id: el.id, traces: (el.data || []).length,
        svg: el.querySelectorAll('svg.main-svg').length,
        height: el.getBoundingClientRect().height,
        drawn: el.querySelectorAll('.trace, .hm, .heatmaplayer image').length}))""")
    assert len(charts) >= 6, charts
    for chart in charts:
        assert chart["traces"] > 0 and chart["svg"] > 0 and chart["drawn"] > 0, chart
        assert chart["height"] > 200, chart
    assert cdp.evaluate("document.querySelectorAll('.plot-container').length") == len(charts)

    from snapfolio.cli.report import money

    equity = book.db.scalar("select equity from marts.fct_portfolio_snapshots where "
                            "portfolio_id = :p order by snapshot_date desc limit 1",
                            p=book.portfolio_id)
    assert cdp.evaluate("document.getElementById('portfolio-name').textContent") == NAME
    assert cdp.evaluate("document.title").startswith(NAME)
    assert cdp.evaluate("document.getElementById('equity').textContent") == money(equity)
    assert money(equity) in cdp.evaluate("document.body.innerText")

    # full-page screenshot (and the print layout renders to PDF without errors)
    size = cdp.page("Page.getLayoutMetrics")["cssContentSize"]
    cdp.page("Emulation.setDeviceMetricsOverride", width=1400,
             height=int(size["height"]), deviceScaleFactor=1, mobile=False)
    cdp.drain(0.5)
    shot = cdp.page("Page.captureScreenshot", format="png", captureBeyondViewport=True)
    import base64

    png = base64.b64decode(shot["data"])
    assert png[:8] == b"\x89PNG\r\n\x1a\n" and len(png) > 50_000
    target = os.environ.get("SNAPFOLIO_REPORT_SCREENSHOT")
    (Path(target) if target else tmp_path / "report.png").write_bytes(png)
    pdf = base64.b64decode(cdp.page("Page.printToPDF", printBackground=True,
                                    landscape=True)["data"])
    assert pdf[:5] == b"%PDF-"
