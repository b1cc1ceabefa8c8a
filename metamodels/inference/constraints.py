"""Linear hypotheses ``L b = q`` from the forms statsmodels accepts."""
from __future__ import annotations

import numpy as np

__all__ = ["linear_constraints"]


def linear_constraints(r_matrix, names, q_matrix=None):
    """``(L, q)`` of a linear hypothesis on coefficients ``names``.

    Parameters
    ----------
    r_matrix : str, list of str, tuple ``(L, q)`` or array_like
        ``"Days = 0"``, ``"a = b, c = 0"``, ``["a = 0", "b = 0"]``, a pair
        ``(L, q)`` or the matrix ``L`` itself (one row per restriction).
    names : sequence of str
        Coefficient names (as in ``params.index``).
    q_matrix : array_like, optional
        Right-hand side when ``r_matrix`` is a matrix (zeros by default).

    Returns
    -------
    L : ndarray (m, p)
    q : ndarray (m,)
    """
    names = [str(n) for n in names]
    if isinstance(r_matrix, str) or (isinstance(r_matrix, (list, tuple)) and r_matrix
                                     and all(isinstance(r, str) for r in r_matrix)):
        from patsy import DesignInfo
        try:
            lc = DesignInfo(names).linear_constraint(r_matrix)
        except Exception as exc:   # patsy raises its own error types
            raise ValueError(f"cannot parse the hypothesis {r_matrix!r}: {exc}; coefficient "
                             f"names are {names}") from exc
        return np.asarray(lc.coefs, dtype=float), np.asarray(lc.constants, dtype=float)[:, 0]
    if isinstance(r_matrix, tuple) and len(r_matrix) == 2 and q_matrix is None:
        r_matrix, q_matrix = r_matrix
    L = np.atleast_2d(np.asarray(r_matrix, dtype=float))
    if L.ndim != 2 or L.shape[1] != len(names):
        raise ValueError(f"r_matrix must have {len(names)} columns (one per coefficient: "
                         f"{names}), got shape {np.shape(r_matrix)}")
    q = np.zeros(L.shape[0]) if q_matrix is None else np.asarray(q_matrix, dtype=float).ravel()
    if q.shape[0] != L.shape[0]:
        raise ValueError(f"q_matrix has {q.shape[0]} values for {L.shape[0]} restrictions")
    return L, q
