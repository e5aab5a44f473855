"""Data Docs page views whose Jinja templates compile once per machine, not per run.

GX builds a fresh Jinja environment for every page view of every Data Docs build, so
each run's checkpoint re-parsed and re-compiled the same ~120 templates (~0.4 s of the
checks phase). These views are GX's own (same templates, filters and output) with a
bytecode cache on disk, which Jinja keys by template name and checks against the
template source, so an upgraded GX recompiles what changed. Named by the site
configuration in expectations/context.py; GX imports this module when it builds Data
Docs.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import Any

from great_expectations.render.view import DefaultJinjaIndexPageView, DefaultJinjaPageView
from jinja2 import FileSystemBytecodeCache


@cache
def _bytecode_cache(directory: str) -> FileSystemBytecodeCache:
    Path(directory).mkdir(parents=True, exist_ok=True)
    return FileSystemBytecodeCache(directory)


class _CachedTemplates:
    """Gives a GX Jinja view's environment the shared bytecode cache of
    `bytecode_cache_dir` (a key of the view's site configuration)."""

    env: Any

    def __init__(self, *args: Any, bytecode_cache_dir: str, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.env.bytecode_cache = _bytecode_cache(bytecode_cache_dir)


class CachedPageView(_CachedTemplates, DefaultJinjaPageView):
    """DefaultJinjaPageView (suite and validation pages) with compiled templates cached."""


class CachedIndexPageView(_CachedTemplates, DefaultJinjaIndexPageView):
    """DefaultJinjaIndexPageView (the site's index) with compiled templates cached."""
