"""A static list of the latest validations, written into the Data Docs index.

GX renders its index table with JavaScript from public CDNs; on a machine without
internet access the index page is empty. This block is plain HTML (links to the
validation pages, which render without scripts), so the latest runs are visible offline.
"""

from __future__ import annotations

import html
import json
import re
from pathlib import Path

START, END = "<!-- snapfolio-static-index -->", "<!-- /snapfolio-static-index -->"
LATEST = 50


def write_offline_index(gx_root: Path, index: Path) -> int:
    """Insert (or refresh) the static block after <body>; returns the entries listed."""
    if not index.exists():
        return 0
    site = index.parent
    results = sorted((gx_root / "uncommitted" / "validations").glob("*/*/*/*.json"),
                     key=lambda p: p.parent.name, reverse=True)[:LATEST]
    items = []
    for result in results:
        suite, run_name, run_time = result.parts[-4], result.parts[-3], result.parts[-2]
        page = site / "validations" / suite / run_name / run_time / f"{result.stem}.html"
        try:
            data = json.loads(result.read_text())
        except (OSError, ValueError):
            continue
        stats = data.get("statistics", {})
        status = "passed" if data.get("success") else "FAILED"
        link = html.escape(str(page.relative_to(site))) if page.exists() else None
        label = html.escape(f"{run_time} · run {run_name} · {suite} · {status} "
                            f"({stats.get('successful_expectations', '?')}/"
                            f"{stats.get('evaluated_expectations', '?')} expectations)")
        items.append(f'<li><a href="{link}">{label}</a></li>' if link else f"<li>{label}</li>")
    block = (f'{START}<section style="margin:1em"><h3>Latest validations</h3>'
             f"<ul>{''.join(items)}</ul></section>{END}")
    text = index.read_text()
    text = re.sub(re.escape(START) + ".*?" + re.escape(END), "", text, flags=re.DOTALL)
    text = re.sub(r"(<body[^>]*>)", lambda m: m.group(1) + block, text, count=1)
    index.write_text(text)
    return len(items)
