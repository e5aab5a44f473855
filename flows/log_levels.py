"""One owner for lowering our loggers' levels during a run: the run-message capture
(flows/messages.py) and the Prefect API handler (flows/prefect_server.py) both need
the packages' INFO lines while a run goes, and both used to save and restore the
levels on their own, one nested inside the other."""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterable, Iterator
from contextlib import contextmanager

_lock = threading.Lock()
_holders: dict[str, int] = {}  # logger name -> blocks currently holding it lowered
_original: dict[str, int] = {}  # logger name -> its level before the first block


@contextmanager
def levels_at_most(level: int, names: Iterable[str]) -> Iterator[None]:
    """While the block runs, each named logger passes records of `level` and up (its
    level is lowered when its effective level is above). Blocks may nest and overlap
    across threads (two runs in one process): the loggers get their original levels
    back when the last block holding them ends."""
    names = list(dict.fromkeys(names))
    with _lock:
        for name in names:
            logger = logging.getLogger(name)
            if not _holders.get(name):
                _original[name] = logger.level
            _holders[name] = _holders.get(name, 0) + 1
            if logger.getEffectiveLevel() > level:
                logger.setLevel(level)
    try:
        yield
    finally:
        with _lock:
            for name in names:
                _holders[name] -= 1
                if not _holders[name]:
                    logging.getLogger(name).setLevel(_original.pop(name))
                    del _holders[name]
