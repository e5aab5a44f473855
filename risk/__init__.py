"""Vectorized risk computations SQL cannot do well (HAR fits, back-casts, correlations,
factor covariances): pure numpy over all portfolios and sessions of a run at once."""
