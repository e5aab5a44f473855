"""The Data Docs index lists the latest validations in plain HTML (GX's own table needs
JavaScript from public CDNs, which an offline machine cannot load)."""

from __future__ import annotations

import json

from expectations.offline_index import END, START, write_offline_index


def test_static_index_lists_validations_once_with_status(tmp_path):
    gx = tmp_path / "gx"
    site = gx / "uncommitted" / "data_docs" / "local_site"
    for run, ok in (("run_a", True), ("run_b", False)):
        result = gx / "uncommitted" / "validations" / "snapfolio_marts" / run / f"2026112{len(run)}T{run}"
        result.mkdir(parents=True)
        (result / "asset.json").write_text(json.dumps(
            {"success": ok, "statistics": {"successful_expectations": 4 if ok else 3,
                                           "evaluated_expectations": 4}}))
        page = site / "validations" / "snapfolio_marts" / run / result.name / "asset.html"
        page.parent.mkdir(parents=True)
        page.write_text("<html></html>")
    index = site / "index.html"
    index.write_text("<html><body class='x'><div id='gx'></div></body></html>")
    assert write_offline_index(gx, index) == 2
    assert write_offline_index(gx, index) == 2  # refreshed, not appended
    text = index.read_text()
    assert text.count(START) == 1 and text.count(END) == 1
    assert "run run_a · snapfolio_marts · passed (4/4 expectations)" in text
    assert "run run_b · snapfolio_marts · FAILED (3/4 expectations)" in text
    assert 'href="validations/snapfolio_marts/run_a/' in text
    assert text.index("<body class='x'>") < text.index(START) < text.index("<div id='gx'>")
