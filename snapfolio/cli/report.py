"""`snapfolio report`: one self-contained HTML file per portfolio and session.

Reads the marts (SQL in `sql/report_*.sql`), draws the charts with Plotly and renders
`templates/report.html.j2` with Jinja2 (autoescape on: portfolio names, symbols and
reasons are user strings). The plotly.js bundle is inlined once in the page head, each
figure is a `<div>` plus a small inline script, so the file needs no network to view:
no script, style, font or image is fetched from anywhere.

Plotly rather than Matplotlib-to-SVG, measured on the same one-year, 8-position report:
Plotly's file is 5.06 MB, of which 4.82 MB is the plotly.js bundle (a constant: the
charts' data and the tables add ~0.24 MB); the same nine charts as Matplotlib SVG are
0.41 MB (~0.45 MB with the tables). The constant 4.8 MB buys hover values, zoom and
legend toggles on every chart (a risk user reads a year of daily numbers by hovering),
one pure-Python dependency instead of matplotlib's compiled stack (pillow, fonttools,
kiwisolver, contourpy), and the page still opens instantly from disk and prints
(Plotly draws SVG).
"""

from __future__ import annotations

import math
import os
import re
import tempfile
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pandas as pd
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from snapfolio.core.sql import sql_text

MARTS = (
    "marts.fct_portfolio_snapshots", "marts.fct_portfolio_risk",
    "marts.fct_portfolio_factor_exposures", "marts.fct_portfolio_sector_exposures",
    "marts.fct_position_correlations", "marts.fct_portfolio_stress_results",
    "marts.fct_position_risk", "marts.fct_position_values",
)
FACTOR_ORDER = ("market_beta", "ir_beta", "value", "growth", "momentum", "quality", "size",
                "low_vol")
TOP_POSITIONS = 15
COLORS = {"pos": "#1a7f37", "neg": "#cf222e", "line": "#0969da", "muted": "#8c959f",
          "accent": "#8250df", "warm": "#bc4c00"}


class ReportError(ValueError):
    """Nothing to report (no stored session ≤ --as-of, marts not built): exit 2."""


@dataclass
class ReportData:
    name: str
    portfolio_id: int
    session: date
    requested_as_of: date | None
    history: pd.DataFrame
    factors: pd.DataFrame
    sectors: pd.DataFrame
    correlations: pd.DataFrame
    stress: pd.DataFrame
    positions: pd.DataFrame
    unavailable: list[dict]
    last_run: dict | None
    latest_session: date | None = None


def safe_file_name(name: str) -> str:
    """A portfolio name made safe as a file name (letters, digits, `._-`; others → `_`)."""
    cleaned = re.sub(r"[^A-Za-z0-9._-]+", "_", name).strip("._") or "portfolio"
    return cleaned[:80]


def default_out(home: Path, name: str, session: date) -> Path:
    return Path(home) / "reports" / f"{safe_file_name(name)}-{session.isoformat()}.html"


def _frame(conn: sa.Connection, name: str, params: dict) -> pd.DataFrame:
    result = conn.execute(sql_text(__file__, name), params)
    return pd.DataFrame(result.fetchall(), columns=list(result.keys()))


def load_report(engine: Engine, name: str, portfolio_id: int, as_of: date | None) -> ReportData:
    """Everything the report shows, for the last stored session ≤ as_of."""
    with engine.connect() as conn:
        missing = [t for t in MARTS
                   if conn.execute(sa.text("select to_regclass(:t)"), {"t": t}).scalar() is None]
        if missing:
            raise ReportError(f"{missing[0]} does not exist yet: run `snapfolio run` first")
        latest = conn.execute(sql_text(__file__, "report_session"),
                              {"pid": portfolio_id, "as_of": None}).scalar()
        session = conn.execute(sql_text(__file__, "report_session"),
                               {"pid": portfolio_id, "as_of": as_of}).scalar()
        if session is None:
            if latest is None:
                raise ReportError(f"portfolio {name!r} has no stored session yet: "
                                  "run `snapfolio run` first")
            raise ReportError(f"portfolio {name!r} has no stored session on or before "
                              f"{as_of.isoformat()} (latest stored session {latest})")
        params = {"pid": portfolio_id, "d": session}
        data = ReportData(
            name=name, portfolio_id=portfolio_id, session=session, requested_as_of=as_of,
            history=_frame(conn, "report_history", params),
            factors=_frame(conn, "report_factors", params),
            sectors=_frame(conn, "report_sectors", params),
            correlations=_frame(conn, "report_correlations", params),
            stress=_frame(conn, "report_stress", params),
            positions=_frame(conn, "report_positions", params),
            unavailable=[dict(r) for r in conn.execute(
                sql_text(__file__, "report_unavailable"), {"pid": portfolio_id}).mappings()],
            last_run=next((dict(r) for r in conn.execute(
                sql_text(__file__, "report_last_run"), {"name": name}).mappings()), None),
            latest_session=latest,
        )
    return data


# ---------------------------------------------------------------- formatting helpers

def _num(value: Any) -> float | None:
    if value is None:
        return None
    try:
        f = float(value)
    except (TypeError, ValueError):
        return None
    return None if math.isnan(f) else f


def money(value: Any, signed: bool = False) -> str:
    f = _num(value)
    if f is None:
        return "—"
    text = f"{abs(f):,.0f}"
    sign = "−" if f < 0 else ("+" if signed and f > 0 else "")
    return f"{sign}{text}"


def pct(value: Any, digits: int = 2, signed: bool = False) -> str:
    f = _num(value)
    if f is None:
        return "—"
    sign = "−" if f < 0 else ("+" if signed and f > 0 else "")
    return f"{sign}{abs(f) * 100:.{digits}f} %"


def plain(value: Any, digits: int = 2) -> str:
    f = _num(value)
    if f is None:
        return "—"
    return f"{'−' if f < 0 else ''}{abs(f):,.{digits}f}"


def stamp(value: Any) -> str:
    if not isinstance(value, datetime):
        return "—"
    if value.tzinfo is not None:
        value = value.astimezone(UTC)
    return value.strftime("%Y-%m-%d %H:%M UTC")


def tone(value: Any) -> str:
    f = _num(value)
    return "" if f is None or f == 0 else ("pos" if f > 0 else "neg")


# ---------------------------------------------------------------- charts

def _layout(fig, title: str, height: int = 340, **kwargs) -> None:
    fig.update_layout(
        title={"text": title, "x": 0.01, "font": {"size": 13, "color": "#59636e"}},
        height=height, margin={"l": 60, "r": 20, "t": 40, "b": 40},
        template="plotly_white", hovermode="x unified",
        legend={"orientation": "h", "y": -0.18, "x": 0},
        font={"family": "system-ui, -apple-system, Segoe UI, Helvetica, Arial, sans-serif",
              "size": 12},
        **kwargs,
    )


def _nullable(series: pd.Series) -> list:
    return [None if v is None or (isinstance(v, float) and math.isnan(v)) else float(v)
            for v in series]


def build_figures(data: ReportData) -> list[tuple[str, str, Any]]:
    """(anchor, section title, plotly figure or None) for each chart the data supports."""
    import plotly.graph_objects as go
    from plotly.subplots import make_subplots

    h = data.history
    dates = [d.isoformat() for d in h["snapshot_date"]]
    figs: list[tuple[str, str, Any]] = []

    fig = make_subplots(rows=2, cols=1, shared_xaxes=True, row_heights=[0.68, 0.32],
                        vertical_spacing=0.06)
    fig.add_trace(go.Scatter(x=dates, y=_nullable(h["equity"]), name="equity",
                             line={"color": COLORS["line"], "width": 2}), row=1, col=1)
    fig.add_trace(go.Scatter(x=dates, y=_nullable(h["drawdown"]), name="drawdown",
                             fill="tozeroy", line={"color": COLORS["neg"], "width": 1}),
                  row=2, col=1)
    fig.update_yaxes(title_text="equity", tickformat=",.0f", row=1, col=1)
    fig.update_yaxes(title_text="drawdown", tickformat=".0%", row=2, col=1)
    _layout(fig, "Equity and drawdown", height=440)
    figs.append(("equity", "Equity curve and drawdown", fig))

    pnl = _nullable(h["daily_pnl"])
    fig = go.Figure(go.Bar(x=dates, y=pnl, name="daily P&L",
                           marker_color=[COLORS["pos"] if (v or 0) >= 0 else COLORS["neg"]
                                         for v in pnl]))
    fig.update_traces(marker_line_width=0)
    fig.update_yaxes(tickformat=",.0f")
    _layout(fig, "Daily P&L", bargap=0)  # ~250 bars: no gaps, or thin bars vanish in print
    figs.append(("pnl", "Daily P&L", fig))

    fig = go.Figure()
    for col, label, color, dash in (
            ("realized_vol_21d", "realized 21d", COLORS["muted"], "solid"),
            ("realized_vol_63d", "realized 63d", COLORS["line"], "solid"),
            ("har_vol_1d", "HAR forecast 1d", COLORS["warm"], "dot"),
            ("har_vol_21d", "HAR forecast 21d", COLORS["accent"], "dash")):
        fig.add_trace(go.Scatter(x=dates, y=_nullable(h[col]), name=label,
                                 line={"color": color, "dash": dash, "width": 1.6}))
    fig.update_yaxes(tickformat=".0%", title_text="annualized")
    _layout(fig, "Realized vs HAR-forecast volatility")
    figs.append(("vol", "Realized vs forecast volatility", fig))

    f = data.factors
    if not f.empty:
        fig = go.Figure()
        factors = [x for x in FACTOR_ORDER if x in set(f["factor"])] + sorted(
            set(f["factor"]) - set(FACTOR_ORDER))
        for factor in factors:
            rows = f[f["factor"] == factor]
            fig.add_trace(go.Scatter(x=[d.isoformat() for d in rows["snapshot_date"]],
                                     y=_nullable(rows["dollar_exposure"]), name=factor,
                                     line={"width": 1.5}))
        fig.update_yaxes(tickformat=",.0f", title_text="dollar exposure")
        _layout(fig, "Factor dollar exposures over time", height=380)
        figs.append(("factors", "Factor exposures over time", fig))

        today = f[f["snapshot_date"] == data.session].set_index("factor").reindex(factors)
        fig = make_subplots(rows=1, cols=2, subplot_titles=("beta", "dollar exposure"),
                            shared_yaxes=True, horizontal_spacing=0.06)
        beta = _nullable(today["beta"])
        dollars = _nullable(today["dollar_exposure"])
        fig.add_trace(go.Bar(y=factors, x=beta, orientation="h", name="beta",
                             marker_color=[COLORS["pos"] if (v or 0) >= 0 else COLORS["neg"]
                                           for v in beta]), row=1, col=1)
        fig.add_trace(go.Bar(y=factors, x=dollars, orientation="h", name="dollar exposure",
                             marker_color=[COLORS["pos"] if (v or 0) >= 0 else COLORS["neg"]
                                           for v in dollars]), row=1, col=2)
        fig.update_yaxes(autorange="reversed")
        fig.update_xaxes(tickformat=",.0f", row=1, col=2)
        _layout(fig, f"Factor exposures on {data.session}", showlegend=False)
        fig.update_layout(hovermode="closest")
        figs.append(("factors-today", "Today's factor exposures", fig))

    s = data.sectors
    if not s.empty:
        fig = go.Figure()
        fig.add_trace(go.Bar(y=list(s["sector"]), x=_nullable(s["long_value"]), name="long",
                             orientation="h", marker_color=COLORS["pos"]))
        fig.add_trace(go.Bar(y=list(s["sector"]), x=_nullable(s["short_value"]), name="short",
                             orientation="h", marker_color=COLORS["neg"]))
        fig.add_trace(go.Scatter(y=list(s["sector"]), x=_nullable(s["net_exposure"]),
                                 name="net", mode="markers",
                                 marker={"color": "#24292f", "symbol": "diamond", "size": 9}))
        fig.update_layout(barmode="relative")
        fig.update_yaxes(autorange="reversed")
        fig.update_xaxes(tickformat=",.0f")
        _layout(fig, f"Sector exposures on {data.session}",
                height=max(260, 60 + 34 * len(s)))
        fig.update_layout(hovermode="y unified")
        figs.append(("sectors", "Sector exposures", fig))

    c = data.correlations
    if not c.empty:
        symbols = sorted(set(c["symbol_a"]) | set(c["symbol_b"]))
        index = {sym: i for i, sym in enumerate(symbols)}
        z: list[list[float | None]] = [[1.0 if i == j else None for j in range(len(symbols))]
                                       for i in range(len(symbols))]
        for a, b, rho in zip(c["symbol_a"], c["symbol_b"], c["correlation"], strict=True):
            z[index[a]][index[b]] = z[index[b]][index[a]] = float(rho)
        text = [["" if v is None else f"{v:.2f}" for v in row] for row in z]
        fig = go.Figure(go.Heatmap(z=z, x=symbols, y=symbols, zmin=-1, zmax=1,
                                   colorscale="RdBu", reversescale=True, text=text,
                                   texttemplate="%{text}" if len(symbols) <= 20 else None,
                                   hovertemplate="%{y} / %{x}: %{z:.3f}<extra></extra>"))
        fig.update_yaxes(autorange="reversed")
        side = min(620, 160 + 34 * len(symbols))
        _layout(fig, f"Return correlations (90 sessions ending {data.session})", height=side)
        fig.update_layout(hovermode="closest")
        figs.append(("correlations", "Correlation heatmap", fig))

    st = data.stress
    if not st.empty:
        labels = [n if isinstance(n, str) and n else sid
                  for n, sid in zip(st["name"], st["scenario_id"], strict=True)]
        fig = go.Figure()
        fig.add_trace(go.Bar(y=labels, x=_nullable(st["direct_pnl"]), name="direct",
                             orientation="h", marker_color=COLORS["muted"]))
        fig.add_trace(go.Bar(y=labels, x=_nullable(st["correlated_pnl"]), name="correlated",
                             orientation="h", marker_color=COLORS["accent"]))
        fig.update_layout(barmode="group")
        fig.update_yaxes(autorange="reversed")
        fig.update_xaxes(tickformat=",.0f", title_text="P&L")
        _layout(fig, f"Stress tests on {data.session} (worst first)",
                height=max(300, 70 + 28 * len(st)))
        fig.update_layout(hovermode="y unified")
        figs.append(("stress", "Stress tests", fig))

    p = data.positions
    if not p.empty:
        top = p.head(TOP_POSITIONS)
        equity = _num(h["equity"].iloc[-1]) if not h.empty else None
        weights = [None if not equity or equity <= 0 else float(mv) / equity
                   for mv in top["market_value"]]
        labels = [f"{sym} #{pid}" if list(top["symbol"]).count(sym) > 1 else sym
                  for sym, pid in zip(top["symbol"], top["position_id"], strict=True)]
        fig = go.Figure()
        fig.add_trace(go.Bar(y=labels, x=weights, name="weight (MV / equity)",
                             orientation="h", marker_color=COLORS["line"]))
        fig.add_trace(go.Bar(y=labels, x=_nullable(top["risk_contribution"]),
                             name="risk contribution", orientation="h",
                             marker_color=COLORS["warm"]))
        fig.update_layout(barmode="group")
        fig.update_yaxes(autorange="reversed")
        fig.update_xaxes(tickformat=".0%")
        _layout(fig, f"Largest positions: weight and share of risk ({data.session})",
                height=max(300, 70 + 30 * len(top)))
        fig.update_layout(hovermode="y unified")
        figs.append(("positions", "Concentration and largest positions", fig))
    return figs


def figure_html(figs: list[tuple[str, str, Any]]) -> list[dict]:
    config = {"displaylogo": False, "responsive": True,
              "modeBarButtonsToRemove": ["select2d", "lasso2d"]}
    out = []
    for anchor, title, fig in figs:
        html = fig.to_html(full_html=False, include_plotlyjs=False, config=config,
                           div_id=f"chart-{anchor}")
        out.append({"anchor": anchor, "title": title, "html": html})
    return out


# ---------------------------------------------------------------- page

def _headline(data: ReportData) -> dict:
    h = data.history
    last = h.iloc[-1]
    f = data.factors
    today = f[(f["snapshot_date"] == data.session) & (f["factor"] == "market_beta")] \
        if not f.empty else f
    beta = _num(today["beta"].iloc[0]) if not today.empty else None
    initial = _num(last["initial_equity"])
    total_return = (_num(last["cumulative_pnl"]) / initial
                    if initial and _num(last["cumulative_pnl"]) is not None else None)
    worst = data.stress.iloc[0] if not data.stress.empty else None
    worst_name = last["worst_stress_scenario"] if isinstance(
        last["worst_stress_scenario"], str) else None
    if worst is not None and worst_name == worst["scenario_id"] and isinstance(worst["name"], str):
        worst_name = f"{worst['name']} ({worst_name})"
    return {
        "equity": _num(last["equity"]), "daily_pnl": _num(last["daily_pnl"]),
        "daily_return": _num(last["daily_return"]),
        "cumulative_pnl": _num(last["cumulative_pnl"]), "total_return": total_return,
        "initial_equity": initial,
        "realized_vol_63d": _num(last["realized_vol_63d"]),
        "har_vol_21d": _num(last["har_vol_21d"]), "var_95_1d": _num(last["var_95_1d"]),
        "cvar_95_1d": _num(last["cvar_95_1d"]),
        "drawdown": _num(last["drawdown"]), "max_drawdown": _num(last["max_drawdown"]),
        "market_beta": beta, "worst_stress_scenario": worst_name,
        "worst_stress_pnl": _num(last["worst_stress_pnl"]),
        "gross_exposure": _num(last["gross_exposure"]), "net_exposure": _num(last["net_exposure"]),
        "long_value": _num(last["long_value"]), "short_value": _num(last["short_value"]),
        "cash": _num(last["cash"]), "position_count": int(last["position_count"]),
        "is_complete": bool(last["is_complete"]),
        "hhi": _num(last["hhi"]), "effective_num_positions": _num(last["effective_num_positions"]),
        "top_3_weight": _num(last["top_3_weight"]), "top_10_weight": _num(last["top_10_weight"]),
        "avg_pairwise_correlation": _num(last["avg_pairwise_correlation"]),
        "correlation_effective_positions": _num(last["correlation_effective_positions"]),
        "holdings_vol_63d": _num(last["holdings_vol_63d"]),
        "first_session": h["snapshot_date"].iloc[0], "sessions": len(h),
    }


def _position_rows(data: ReportData, equity: float | None) -> list[dict]:
    rows = []
    for r in data.positions.head(TOP_POSITIONS).to_dict("records"):
        weight = (float(r["market_value"]) / equity) if equity and equity > 0 else None
        rows.append({**r, "weight": weight})
    return rows


def render_html(data: ReportData, generated_at: datetime | None = None) -> str:
    import plotly
    from jinja2 import Environment, FileSystemLoader, select_autoescape
    from plotly.offline import get_plotlyjs

    env = Environment(loader=FileSystemLoader(Path(__file__).resolve().parent / "templates"),
                      autoescape=select_autoescape(("html", "j2", "html.j2")),
                      trim_blocks=True, lstrip_blocks=True)
    env.filters.update(money=money, pct=pct, plain=plain, tone=tone, stamp=stamp)
    headline = _headline(data)
    charts = figure_html(build_figures(data))
    checks = (data.last_run or {}).get("checks") or None
    corr_note = None
    if data.correlations.empty:
        corr_note = (f"The correlation matrix is stored for the latest session only "
                     f"({data.latest_session}); `snapfolio export correlations --as-of "
                     f"{data.session}` computes it for this one."
                     if data.latest_session and data.latest_session != data.session
                     else "No pair of held symbols has a defined correlation "
                          "(at least 30 common returns in 90 sessions).")
    return env.get_template("report.html.j2").render(
        data=data, h=headline, charts=charts, checks=checks, corr_note=corr_note,
        positions=_position_rows(data, headline["equity"]),
        stress=data.stress.to_dict("records"), sectors=data.sectors.to_dict("records"),
        plotly_js=get_plotlyjs(), plotly_version=plotly.__version__,
        generated_at=(generated_at or datetime.now(UTC)).strftime("%Y-%m-%d %H:%M UTC"),
    )


def write_report(engine: Engine, home: Path, name: str, portfolio_id: int,
                 as_of: date | None, out: Path | None) -> tuple[Path, ReportData]:
    """Render and write atomically (a temporary file renamed over `out`): on any error
    nothing is written."""
    data = load_report(engine, name, portfolio_id, as_of)
    html = render_html(data)
    target = out if out is not None else default_out(home, name, data.session)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".report-", suffix=".html", dir=target.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(html)
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)  # mkstemp makes 0600: a report is a normal file
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return target, data
