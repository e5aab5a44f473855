"""Shared helpers: session/entity lookup, left-padded window gathers, chunking."""

from __future__ import annotations

import time
from collections.abc import Iterator

import numpy as np
import pandas as pd

SQRT_252 = float(np.sqrt(252.0))
KEY = ["portfolio_id", "snapshot_date"]
CHUNK_CELLS = 1_000_000  # cells per chunk: ~8 MB work arrays stay cache- and page-friendly


class Laps:
    """Seconds per step of the risk phase (its stats say where the time goes)."""

    def __init__(self) -> None:
        self.timings: dict[str, float] = {}
        self._last = time.perf_counter()

    def __call__(self, name: str) -> None:
        now = time.perf_counter()
        self.timings[name] = round(self.timings.get(name, 0.0) + now - self._last, 3)
        self._last = now


def session_index(returns: pd.DataFrame) -> pd.Index:
    """The returns frame's session axis, checked to be unique and sorted."""
    index = pd.Index(returns.index)
    if not (index.is_unique and index.is_monotonic_increasing):
        raise ValueError("returns index must be unique, sorted sessions")
    return index


def show(label) -> str:
    """A key for an error message: strings quoted, dates and numbers plain."""
    if isinstance(label, np.generic):
        label = label.item()
    return repr(label) if isinstance(label, str) else str(label)


def positions_of(index: pd.Index, labels, what: str) -> np.ndarray:
    """Integer positions of ``labels`` in ``index``; one clear error for an unknown one."""
    pos = index.get_indexer(pd.Index(labels))
    if (pos < 0).any():
        bad = pd.Index(labels)[pos < 0][0]
        raise KeyError(f"{what} {show(bad)} not in the returns frame")
    return pos.astype(np.int64)


def entity_matrix(returns: pd.DataFrame) -> np.ndarray:
    """(entities, sessions) float64, C-contiguous along sessions."""
    return np.ascontiguousarray(returns.to_numpy(dtype=np.float64, na_value=np.nan).T)


def left_padded(mat: np.ndarray, width: int, fill: float = np.nan) -> np.ndarray:
    """``mat`` with ``width - 1`` fill columns prepended: window of d = [d, d + width)."""
    pad = np.full((mat.shape[0], width - 1), fill)
    return np.concatenate([pad, mat], axis=1)


def gather_windows(padded: np.ndarray, rows: np.ndarray, ends: np.ndarray,
                   width: int) -> np.ndarray:
    """(N, width) copies of the windows of ``width`` sessions ending on ``ends``."""
    view = np.lib.stride_tricks.sliding_window_view(padded, width, axis=1)
    return view[rows, ends]


def chunks(n: int, cells_per_item: int) -> Iterator[slice]:
    """Slices over ``n`` items so that one chunk gathers at most ~CHUNK_CELLS cells."""
    step = max(1, CHUNK_CELLS // max(1, cells_per_item))
    for start in range(0, n, step):
        yield slice(start, min(n, start + step))


def target_positions(returns: pd.DataFrame, targets: pd.DataFrame,
                     entity_col: str = "portfolio_id",
                     date_col: str = "snapshot_date") -> tuple[np.ndarray, np.ndarray]:
    """(entity row, session position) of every target row."""
    sessions = session_index(returns)
    rows = positions_of(pd.Index(returns.columns), targets[entity_col], entity_col)
    ends = positions_of(sessions, targets[date_col], date_col)
    return rows, ends


def group_of(keys: pd.DataFrame, rows: pd.DataFrame, what: str) -> np.ndarray:
    """Position of each (portfolio_id, snapshot_date) of ``rows`` among ``keys``."""
    index = pd.MultiIndex.from_frame(keys[KEY])
    if not index.is_unique:
        raise ValueError(f"duplicate (portfolio_id, snapshot_date) in {what}")
    g = index.get_indexer(pd.MultiIndex.from_frame(rows[KEY]))
    if (g < 0).any():
        bad = rows.iloc[int(np.flatnonzero(g < 0)[0])]
        raise KeyError(f"row of portfolio {show(bad['portfolio_id'])} on "
                       f"{show(bad['snapshot_date'])} has no row in {what}")
    return g.astype(np.int64)


def padded_buffer(lead: tuple[int, ...], t: int, width: int) -> tuple[np.ndarray, np.ndarray]:
    """A zero buffer for ``window_sums`` (whole blocks of ``width`` sessions) and its
    view where the t sessions go."""
    nb = max(1, -(-t // width))
    buf = np.zeros((*lead, nb * width))
    return buf, buf[..., :t]


def window_sums(buf: np.ndarray, t: int, width: int) -> np.ndarray:
    """Sums over the ``width`` sessions ending on each of the t sessions of ``buf`` (from
    ``padded_buffer``; windows clipped at the start), in place, from prefix sums
    restarted every ``width`` sessions: a window is the head of its block plus the rest
    of the block before, so the rounding never depends on the history length."""
    *lead, length = buf.shape
    blocks = buf.reshape(*lead, length // width, width)
    np.cumsum(blocks, axis=-1, out=blocks)  # inclusive prefix within each block
    # Session k·width + o: block k up to o, plus block k − 1 after o (its total minus
    # its prefix up to o); block 0 holds the clipped windows already. The right-hand
    # side is evaluated before the in-place add.
    blocks[..., 1:, :] += blocks[..., :-1, -1:] - blocks[..., :-1, :]
    return buf[..., :t]
