"""The one owner of sector names: the 11 GICS sectors and the Yahoo-style aliases.

DESIGN "Sectors": Yahoo's names are mapped (Technology -> Information Technology, ...),
the GICS names pass, any other name is an error. Providers, `snapfolio symbols load`
and the profile store all call `gics_sector`, so a name means the same everywhere.
"""

from __future__ import annotations

GICS_SECTORS = (
    "Communication Services",
    "Consumer Discretionary",
    "Consumer Staples",
    "Energy",
    "Financials",
    "Health Care",
    "Industrials",
    "Information Technology",
    "Materials",
    "Real Estate",
    "Utilities",
)

ALIASES = {
    "Technology": "Information Technology",
    "Healthcare": "Health Care",
    "Financial Services": "Financials",
    "Consumer Cyclical": "Consumer Discretionary",
    "Consumer Defensive": "Consumer Staples",
    "Basic Materials": "Materials",
}

_BY_KEY = {" ".join(n.split()).casefold(): n for n in GICS_SECTORS}
_BY_KEY.update({" ".join(k.split()).casefold(): v for k, v in ALIASES.items()})


class UnknownSectorError(ValueError):
    """A sector name that is neither a GICS sector nor one of the mapped aliases."""

    def __init__(self, name: str) -> None:
        self.name = name
        super().__init__(f"unknown sector {name!r} (expected one of the 11 GICS sectors: "
                         f"{', '.join(GICS_SECTORS)}; or {', '.join(ALIASES)})")


def gics_sector(name: str) -> str:
    """'Technology' -> 'Information Technology'; a GICS name -> itself; else UnknownSectorError.

    Case and runs of whitespace are forgiven ('health  care'), nothing else is.
    """
    key = " ".join(str(name).split()).casefold()
    try:
        return _BY_KEY[key]
    except KeyError:
        raise UnknownSectorError(str(name)) from None
