"""Price providers: yfinance (real), csv:PATH, synthetic, and chains of them.

Pick one with `provider_from_spec(os.environ["SNAPFOLIO_PRICE_PROVIDER"])`.
"""

from ingest.providers.base import (
    PRICE_COLUMNS,
    FetchResult,
    PriceProvider,
    ProviderError,
    empty_prices,
    normalize_prices,
)
from ingest.providers.chain import ProviderChain
from ingest.providers.csv_file import CsvProvider
from ingest.providers.registry import provider_from_spec
from ingest.providers.synthetic import SyntheticProvider
from ingest.providers.yfinance_provider import YFinanceProvider

__all__ = [
    "PRICE_COLUMNS",
    "CsvProvider",
    "FetchResult",
    "PriceProvider",
    "ProviderChain",
    "ProviderError",
    "SyntheticProvider",
    "YFinanceProvider",
    "empty_prices",
    "normalize_prices",
    "provider_from_spec",
]
