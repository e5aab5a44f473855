"""OCC option symbols (`IWM250920C00220000`): the one parser every module uses."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date

OPTION_RE = re.compile(r"^([A-Z.]{1,6})(\d{6})([CP])(\d{8})$")


@dataclass(frozen=True)
class OptionSpec:
    underlying: str
    expiration: date
    kind: str  # "C" or "P"
    strike: float


def parse_option_symbol(symbol: str) -> OptionSpec | None:
    """OCC symbol (root padded with spaces or not) -> OptionSpec, else None."""
    m = OPTION_RE.match(symbol.replace(" ", "").upper())
    if not m:
        return None
    yymmdd = m.group(2)
    try:
        expiry = date(2000 + int(yymmdd[:2]), int(yymmdd[2:4]), int(yymmdd[4:]))
    except ValueError:
        return None
    return OptionSpec(m.group(1), expiry, m.group(3), int(m.group(4)) / 1000.0)
