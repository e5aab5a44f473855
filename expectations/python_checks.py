"""The gate's one check that SQL cannot compute: factor covariance matrices PSD.

The check stays a GX expectation like every other one (same suite, checkpoint, Data
Docs and report): `FactorCovariancePsdExpectation` is an `UnexpectedRowsExpectation`
whose SQL (`sql/factor_covariance_psd.sql`) gathers every in-scope session's 8 x 8
matrix into ONE row, and whose `_validate` — the documented extension point of that
expectation — turns them into the offending rows in numpy, all sessions at once
(`covariance_offenders`: one `eigvalsh` over an (n, 8, 8) stack, no loop over sessions).

GX is imported by this module, so it is imported only where GX already is
(`expectations.context.ensure_checkpoint`), never at CLI start.
"""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np
from great_expectations.expectations import UnexpectedRowsExpectation

SIZE = 8
SYMMETRY_TOLERANCE = 1e-12  # relative: |S_ab - S_ba| <= 1e-12 * max(|S_ab|, |S_ba|)
EIGENVALUE_TOLERANCE = 1e-12  # absolute: smallest eigenvalue >= -1e-12


def covariance_offenders(gathered: dict[str, Any] | None) -> list[dict[str, Any]]:
    """Offending rows (`n`, `detail`, ...) from the one row of factor_covariance_psd.sql.

    Per session, at most one row, for the first problem found in this order: incomplete
    (not the 64 ordered pairs of 8 factors), not finite, not symmetric, not PSD.
    """
    if not gathered or not gathered.get("as_of_dates"):
        return []
    dates = [str(d) for d in gathered["as_of_dates"]]
    complete = np.asarray(gathered["complete"], dtype=bool)
    used_by = list(gathered["used_by"])
    factors = np.asarray(gathered["factors"], dtype=object).reshape(len(dates), SIZE)
    matrices = np.asarray(gathered["covariances"], dtype=float).reshape(len(dates), SIZE, SIZE)

    finite = np.isfinite(matrices).all(axis=(1, 2))
    safe = np.where(finite[:, None, None], matrices, 0.0)
    transposed = np.swapaxes(safe, 1, 2)
    gap = np.abs(safe - transposed)
    allowed = SYMMETRY_TOLERANCE * np.maximum(np.abs(safe), np.abs(transposed))
    excess = np.where(gap > allowed, gap, 0.0).reshape(len(dates), -1)
    symmetric = ~(excess > 0).any(axis=1)
    worst_pair = excess.argmax(axis=1)
    worst_gap = gap.reshape(len(dates), -1)[np.arange(len(dates)), worst_pair]
    smallest = np.linalg.eigvalsh((safe + transposed) / 2)[:, 0]  # ascending
    psd = smallest >= -EIGENVALUE_TOLERANCE

    offenders: list[dict[str, Any]] = []
    for i in np.flatnonzero(~(complete & finite & symmetric & psd)):  # offenders only
        if not complete[i]:
            problem = "is not a complete 8 x 8 matrix (64 ordered pairs of the same 8 factors)"
        elif not finite[i]:
            problem = "has a non-finite entry"
        elif not symmetric[i]:
            a, b = divmod(int(worst_pair[i]), SIZE)
            problem = (f"is not symmetric (|S_ab - S_ba| = {worst_gap[i]:.3g} "
                       f"for {factors[i, a]}/{factors[i, b]})")
        else:
            problem = (f"is not positive semi-definite "
                       f"(smallest eigenvalue {smallest[i]:.3g} < -{EIGENVALUE_TOLERANCE:g})")
        offenders.append({
            "as_of_date": dates[i],
            "n": 1,
            "smallest_eigenvalue": float(smallest[i]) if complete[i] and finite[i] else None,
            "detail": f"{used_by[i]}: factor covariance of {dates[i]} {problem}",
        })
    return offenders


class FactorCovariancePsdExpectation(UnexpectedRowsExpectation):
    """An UnexpectedRowsExpectation whose offending rows are computed in numpy."""

    python_check: ClassVar[str] = "factor_covariance_psd"

    def _validate(self, metrics: dict, runtime_configuration: dict | None = None,
                  execution_engine: Any = None) -> dict[str, Any]:
        gathered = metrics["unexpected_rows_query.table"]
        offenders = covariance_offenders(gathered[0] if gathered else None)
        return {
            "success": not offenders,
            "result": {
                "observed_value": len(offenders),
                "details": {"unexpected_rows": offenders},
            },
        }


PYTHON_EXPECTATIONS: dict[str, type[UnexpectedRowsExpectation]] = {
    FactorCovariancePsdExpectation.python_check: FactorCovariancePsdExpectation,
}
