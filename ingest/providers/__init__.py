"""Price providers: yfinance, yahooquery, polygon, fmp (real), csv:PATH, synthetic, chains.

Pick one with `provider_from_spec(os.environ["SNAPFOLIO_PRICE_PROVIDER"])`; `real` is
the default real chain (`real_chain_spec`). `provider_stats(provider)` says what each
provider did in the run; profiles come from `fetch_profiles` where a provider has it.
The keyed providers are imported only when their spec is used.
"""

from ingest.providers.base import (
    PRICE_COLUMNS,
    FetchResult,
    PriceProvider,
    ProviderAuthError,
    ProviderError,
    empty_prices,
    normalize_prices,
)
from ingest.providers.chain import ProviderChain
from ingest.providers.csv_file import CsvProvider
from ingest.providers.profiles import (
    ProfileProvider,
    ProfileResult,
    SymbolProfile,
    profiles_from,
)
from ingest.providers.registry import provider_from_spec, real_chain_spec
from ingest.providers.sectors import GICS_SECTORS, UnknownSectorError, gics_sector
from ingest.providers.stats import ProviderStats, provider_stats, served_summary
from ingest.providers.synthetic import SyntheticProvider
from ingest.providers.yfinance_provider import YFinanceProvider

__all__ = [
    "GICS_SECTORS",
    "PRICE_COLUMNS",
    "CsvProvider",
    "FetchResult",
    "PriceProvider",
    "ProfileProvider",
    "ProfileResult",
    "ProviderAuthError",
    "ProviderChain",
    "ProviderError",
    "ProviderStats",
    "SymbolProfile",
    "SyntheticProvider",
    "UnknownSectorError",
    "YFinanceProvider",
    "empty_prices",
    "gics_sector",
    "normalize_prices",
    "profiles_from",
    "provider_from_spec",
    "provider_stats",
    "real_chain_spec",
    "served_summary",
]
