"""BivariateMeta: wide-format front end for two-outcome meta-analysis.

Each study reports up to two effects ``y_i = (y_i1, y_i2)`` with known within-study
covariance ``S_i``; the model is

.. math::

    y_i \\sim N(X_i b, S_i + \\Psi), \\qquad \\Psi = \\begin{pmatrix} \\tau_1^2 &
    \\rho\\tau_1\\tau_2 \\\\ \\rho\\tau_1\\tau_2 & \\tau_2^2 \\end{pmatrix},

studies reporting one outcome keep that outcome (no complete-case deletion).  Methods:
REML, ML (the shared engine), ``"fixed"`` (``Psi = 0``) and ``"MM"``, the matrix method of
moments of Jackson, White and Riley (2013, Biometrical Journal 55: 231-245), a
multivariate DerSimonian-Laird estimator.
"""
from __future__ import annotations

import warnings
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, Literal, NoReturn

import numpy as np
import pandas as pd
from statsmodels.base import wrapper as wrap
from statsmodels.base.model import LikelihoodModel, LikelihoodModelResults, LikelihoodResultsWrapper

from .._compat import cache_readonly
from ..summary import make_summary
from ..base.model import _check_method
from ..base.formula import warn_dropped
from ..base.pickling import FormulaPickleMixin
from ..base.results import InformationCriteriaMixin, ResultsConventions
from ..exceptions import BoundaryWarning
from ..core.likelihood import evaluate
from ..core.structures import get_structure, psd_structure
from ..core.random import RandomPart
from .equal_variance import EqualVarianceMeta
from ..core.known import KnownCovariance
from .model import MetaMixed
from .region import ConfidenceRegionMixin

if TYPE_CHECKING:
    from matplotlib.figure import Figure
    from numpy.typing import ArrayLike
    from statsmodels.iolib.summary2 import Summary

__all__ = ["BivariateMeta", "BivariateResults", "within_corr_sensitivity"]


def _within_cov(k, within_cov, within_corr):
    S = np.asarray(within_cov, dtype=float)
    if S.shape == (k, 2, 2):
        if within_corr is not None:
            raise ValueError("within_corr is only used with (k, 2) variances")
        return S
    if S.shape == (k, 2):
        if within_corr is None:
            raise ValueError("within_cov of shape (k, 2) holds variances: give within_corr= "
                             "(scalar or (k,) array; use within_corr_sensitivity for a grid)")
        r = np.broadcast_to(np.asarray(within_corr, dtype=float), (k,))
        if np.any(np.abs(r) >= 1):
            raise ValueError("within-study correlations must lie in (-1, 1)")
        c = r * np.sqrt(np.clip(S[:, 0], 0, None) * np.clip(S[:, 1], 0, None))
        out = np.empty((k, 2, 2))
        out[:, 0, 0], out[:, 1, 1] = S[:, 0], S[:, 1]
        out[:, 0, 1] = out[:, 1, 0] = np.nan_to_num(c)
        return out
    raise ValueError(f"within_cov must have shape ({k}, 2, 2) or ({k}, 2); got {S.shape}")


class BivariateMeta(FormulaPickleMixin, LikelihoodModel):
    r"""Bivariate random-effects meta-analysis of two outcomes per study (wide format).

    Each study reports up to two effects with a known within-study covariance matrix;
    the pooled effects of both outcomes and their between-study covariance ``Psi`` are
    estimated jointly, so that a study reporting one outcome still informs the other
    through the correlations (Riley 2009).  Studies reporting one outcome are kept (no
    complete-case deletion).  The fit runs :class:`~metamodels.MetaMixed` on the long
    form (REML / ML) or a closed-form estimator (``"fixed"``, ``"MM"``).  R: metafor's
    ``rma.mv(yi, V, mods = ~ outcome - 1, random = ~ outcome | study, struct = "UN")``,
    mvmeta's ``mvmeta``.

    Parameters
    ----------
    y : array_like
        Effects ``(k, 2)`` per study and outcome; NaN = outcome not reported.  Every
        study must report one outcome at least, every outcome must have two studies.
    within_cov : array_like
        Within-study covariance matrices ``(k, 2, 2)``, or variances ``(k, 2)`` with
        ``within_corr``.
    within_corr : float or array_like, optional
        Assumed within-study correlations, a scalar or ``(k,)`` in ``(-1, 1)``, used
        with variances (Riley 2009: often unknown; see :func:`within_corr_sensitivity`).
    exog : array_like, optional
        Study-level moderators ``(k, r)`` (no constant; each outcome gets its own
        intercept and moderator coefficients).
    names : pair of str, default ("y1", "y2")
        Outcome names (labels of ``params``).
    **kwargs
        Passed to statsmodels' :class:`~statsmodels.base.model.LikelihoodModel`.

    Raises
    ------
    ValueError
        Wrong shapes, a study with no outcome, non-positive within-study variances,
        correlations outside ``(-1, 1)`` or fewer than two studies for an outcome.

    See Also
    --------
    BivariateMeta.from_formula : Build from a wide data frame.
    metamodels.MetaMixed : The general long-format model.
    within_corr_sensitivity : Refit over assumed within-study correlations.

    Notes
    -----
    For study ``i``

    .. math::

        y_i \sim N(X_i b, S_i + \Psi), \qquad \Psi = \begin{pmatrix} \tau_1^2 &
        \rho\tau_1\tau_2 \\ \rho\tau_1\tau_2 & \tau_2^2 \end{pmatrix},

    with the rows and columns of the outcomes the study does not report left out.
    ``Psi`` is positive semi-definite by construction (variances >= 0, ``|rho| <= 1``).

    References
    ----------
    .. [1] Berkey CS, Hoaglin DC, Antczak-Bouckoms A, Mosteller F, Colditz GA (1998).
       Meta-analysis of multiple outcomes by regression with random effects. Statistics
       in Medicine 17, 2537-2550.
    .. [2] Riley RD (2009). Multivariate meta-analysis: the effect of ignoring
       within-study correlation. Journal of the Royal Statistical Society A 172,
       789-811.
    .. [3] Jackson D, White IR, Riley RD (2013). A matrix-based method of moments for
       fitting the multivariate random effects model for meta-analysis and
       meta-regression. Biometrical Journal 55, 231-245.

    Examples
    --------
    Berkey et al. (1998): attachment level (AL) and probing depth (PD) in five trials.

    >>> import numpy as np
    >>> import metamodels as mm
    >>> b = mm.datasets.load("berkey1998")
    >>> al, pd_ = b[b.outcome == "AL"], b[b.outcome == "PD"]
    >>> y = np.column_stack([al.yi, pd_.yi])
    >>> S = np.stack([[[a, c], [c, p]] for a, c, p in zip(al.v2i, pd_.v2i, pd_.v1i)])
    >>> res = mm.BivariateMeta(y, S, names=("AL", "PD")).fit()
    >>> print(res.params.round(4))
    AL   -0.3392
    PD    0.3534
    dtype: float64
    >>> print(res.tau2.round(4), round(res.rho_between, 3))
    [0.0327 0.0117] 0.609
    """

    def __init__(self, y: ArrayLike, within_cov: ArrayLike, within_corr: ArrayLike | None = None,
                 exog: ArrayLike | None = None, names: Sequence[str] = ("y1", "y2"),
                 **kwargs: Any) -> None:
        Y = np.asarray(y, dtype=float)
        if Y.ndim != 2 or Y.shape[1] != 2:
            raise ValueError(f"y must have shape (k, 2), got {Y.shape}")
        k = Y.shape[0]
        S = _within_cov(k, within_cov, within_corr)
        obs = np.isfinite(Y)
        if not obs.any(axis=1).all():
            raise ValueError("every study must report at least one outcome")
        for j in range(2):
            bad = obs[:, j] & ~(S[:, j, j] > 0)
            if bad.any():
                raise ValueError(f"within-study variances of {names[j]} must be positive "
                                 f"(studies {np.flatnonzero(bad)[:10].tolist()})")
        if (obs.sum(axis=0) < 2).any():
            raise ValueError("each outcome needs at least two studies")
        M = np.ones((k, 1)) if exog is None else np.column_stack([np.ones(k),
                                                                   np.asarray(exog, float)])
        mnames = ["Intercept"] if exog is None else ["Intercept"] + list(
            getattr(exog, "columns", [f"x{i + 1}" for i in range(M.shape[1] - 1)]))
        study, outcome = np.nonzero(obs)
        self.Y, self.S, self.obs, self.names = Y, S, obs, tuple(names)
        self.study, self.outcome = study, outcome
        n = study.size
        p = M.shape[1]
        X = np.zeros((n, 2 * p))
        for j in range(2):
            sel = outcome == j
            X[np.ix_(sel, np.arange(j * p, (j + 1) * p))] = M[study[sel]]
        xnames = [f"{names[j]}" if mn == "Intercept" else f"{names[j]}:{mn}"
                  for j in range(2) for mn in mnames]
        blocks = [S[i][np.ix_(obs[i], obs[i])] for i in range(k)]
        self.known = KnownCovariance.from_input(n, V=blocks)
        labels = getattr(y, "index", None)
        index = None if labels is None else pd.Index(labels)[study]
        super().__init__(pd.Series(Y[obs], index=index, name=f"{names[0]}, {names[1]}"),
                         pd.DataFrame(X, columns=xnames, index=index), missing="none", **kwargs)
        Z = np.zeros((n, 2))
        Z[np.arange(n), outcome] = 1.0
        # Psi = S C S with variances >= 0 and the correlation in [-1, 1]: PSD by construction
        self.random = [RandomPart("study", Z, study, psd_structure(get_structure("UN", 2)),
                                  tuple(names))]
        self.nobs = float(n)
        self.k_studies = k
        self.df_resid = float(n - X.shape[1])
        self.df_model = float(X.shape[1])

    design_info = None      # moderators' patsy design (from_formula)
    formula = None

    @classmethod
    def from_formula(cls, formula: str, data: pd.DataFrame, within_cov: Sequence[str] | ArrayLike,
                     within_corr: float | ArrayLike | str | None = None, subset: Any = None,
                     missing: Literal["drop", "raise"] = "drop",
                     **kwargs: Any) -> BivariateMeta:
        """Build from ``"y1 + y2 ~ moderators"`` on a wide data frame (one row per study).

        Parameters
        ----------
        formula : str
            Two outcome columns on the left (NaN = outcome not reported), study-level
            moderators on the right (``~ 1`` for none); every outcome gets its own
            intercept and moderator coefficients.
        data : pandas.DataFrame
            One row per study.
        within_cov : list of str or array_like
            Column names ``[var1, var2]`` (with ``within_corr``) or
            ``[var1, cov12, var2]``, or the ``(k, 2, 2)``/``(k, 2)`` array of the array
            interface (rows aligned with ``data``).
        within_corr : float, array_like or str, optional
            Within-study correlation(s) used with two variance columns: a scalar, a
            ``(k,)`` array or a column name.
        subset : array_like, optional
            Row selection applied with ``data.loc[subset]`` first.
        missing : {"drop", "raise"}, default "drop"
            Rows with a missing moderator are dropped (with a warning) or raise.
        **kwargs
            Passed to :class:`BivariateMeta`.

        Returns
        -------
        BivariateMeta
            The model, with ``formula``, ``design_info`` and ``data.frame`` set.

        Raises
        ------
        ValueError
            A left-hand side that does not name two columns, a formula without an
            intercept, moderators patsy cannot build, or a malformed ``within_cov``.

        Examples
        --------
        >>> import pandas as pd
        >>> import metamodels as mm
        >>> b = mm.datasets.load("berkey1998")
        >>> al, pd_ = b[b.outcome == "AL"], b[b.outcome == "PD"]
        >>> wide = pd.DataFrame({"AL": al.yi.to_numpy(), "PD": pd_.yi.to_numpy(),
        ...                      "vAL": al.v2i.to_numpy(), "cov": pd_.v2i.to_numpy(),
        ...                      "vPD": pd_.v1i.to_numpy()})
        >>> model = mm.BivariateMeta.from_formula("AL + PD ~ 1", wide,
        ...                                       within_cov=["vAL", "cov", "vPD"])
        >>> print(model.fit().cov_between.round(4))
                AL      PD
        AL  0.0327  0.0119
        PD  0.0119  0.0117
        """

        import patsy
        if subset is not None:
            data = data.loc[subset]
        data = pd.DataFrame(data)
        if "~" not in formula:
            raise ValueError(f"formula {formula!r} needs '~'")
        lhs, rhs = formula.split("~", 1)
        outcomes = [c.strip() for c in lhs.split("+") if c.strip()]
        if len(outcomes) != 2 or any(c not in data.columns for c in outcomes):
            raise ValueError("the left-hand side must name two outcome columns of data, "
                             f"e.g. 'y1 + y2 ~ x'; got {lhs.strip()!r}")
        try:
            M = patsy.dmatrix(rhs, data.reset_index(drop=True),
                              NA_action="drop" if missing == "drop" else "raise",
                              return_type="dataframe")
        except patsy.PatsyError as exc:
            raise ValueError(f"cannot build the moderators from {rhs.strip()!r}: "
                             f"{str(exc).splitlines()[0]}") from exc
        if "Intercept" not in M.columns:
            raise ValueError("BivariateMeta always includes one intercept per outcome; remove "
                             "'- 1' / '0 +' from the formula")
        pos = np.asarray(M.index, dtype=np.int64)
        warn_dropped(len(data) - pos.size, "missing moderators")
        kept = data.iloc[pos]
        if isinstance(within_cov, (list, tuple)) and all(isinstance(c, str) for c in within_cov):
            cols = [np.asarray(kept[c], dtype=float) for c in within_cov]
            if len(cols) == 2:
                S = np.column_stack(cols)
            elif len(cols) == 3:
                S = np.empty((len(kept), 2, 2))
                S[:, 0, 0], S[:, 0, 1], S[:, 1, 0], S[:, 1, 1] = cols[0], cols[1], cols[1], cols[2]
            else:
                raise ValueError("within_cov names two variance columns or [var1, cov12, var2]")
        else:
            S = np.asarray(within_cov, dtype=float)[pos]
        if isinstance(within_corr, str):
            within_corr = np.asarray(kept[within_corr], dtype=float)
        Y = kept[outcomes]
        exog = M.drop(columns="Intercept")
        exog.index = Y.index
        mod = cls(Y, S, within_corr=within_corr, exog=exog if exog.shape[1] else None,
                  names=tuple(outcomes), **kwargs)
        mod.formula = formula
        mod.design_info = M.design_info
        mod.data.frame = kept
        return mod

    # ------------------------------------------------------------------ fit
    def fit(self, method: Literal["REML", "ML", "fixed", "MM"] = "REML",
            alpha: float | None = None) -> BivariateResults:
        """Estimate the pooled effects and the between-study covariance ``Psi``.

        Parameters
        ----------
        method : {"REML", "ML", "fixed", "MM"}, default "REML"
            ``"REML"`` / ``"ML"``: (restricted) maximum likelihood on the shared engine
            (:class:`~metamodels.MetaMixed`); ``"fixed"``: ``Psi = 0`` (fixed-effects
            GLS); ``"MM"``: the matrix method of moments of Jackson, White and Riley
            (2013), a multivariate DerSimonian-Laird estimator (negative eigenvalues of
            the moment estimate set to 0; ``llf`` NaN).  Case-insensitive.
        alpha : float, optional
            Ignored (intervals take ``alpha`` in ``conf_int``/``summary``).

        Returns
        -------
        BivariateResults
            Pooled effects in ``params`` (GLS given ``Psi``), ``cov_between``,
            ``tau2``, ``rho_between``.

        Raises
        ------
        ValueError
            An unknown ``method``.

        Warns
        -----
        BoundaryWarning
            REML/ML estimate with a variance at 0 or the correlation at +-1.
        """
        method = _check_method(method, ("REML", "ML", "fixed", "MM"), "method")
        mm = MetaMixed(self.endog, self.exog, self.random, V=self.known)
        spec = mm.spec
        struct = self.random[0].structure
        llf = np.nan
        on_boundary = []
        if method in ("REML", "ML"):
            res = mm.fit(method=method)
            theta, llf, converged = np.asarray(res.theta), res.llf, res.converged
            on_boundary = list(res.on_boundary)
        elif method == "fixed":
            theta, converged = np.zeros(spec.n_params), True
        else:
            psi = get_structure("UN", 2).matrix(_mm_theta(self, spec))
            theta, converged = struct.theta_from_matrix(psi), True
        ev = evaluate(theta, self.endog, self.exog, spec, reml=False)
        if method == "fixed":
            llf = ev.llf
        return BivariateResultsWrapper(BivariateResults(self, method, struct.matrix(theta),
                                                        ev.beta, ev.cov_beta, llf, converged,
                                                        on_boundary))

    def loglike(self, params: ArrayLike) -> NoReturn:  # pragma: no cover
        """Not offered: the likelihood is evaluated by :meth:`fit` (through
        :class:`~metamodels.MetaMixed`).

        Parameters
        ----------
        params : array_like
            Ignored.

        Raises
        ------
        NotImplementedError
            Always.
        """
        raise NotImplementedError("use fit()")

    # ------------------------------------------- unknown equal-variance model
    @staticmethod
    def from_group_sizes(d1: ArrayLike, d2: ArrayLike, n1_treat: ArrayLike,
                         n1_ctrl: ArrayLike, n2_treat: ArrayLike, n2_ctrl: ArrayLike,
                         names: Sequence[str] = ("y1", "y2")) -> EqualVarianceMeta:
        """Two mean differences per study with unknown common unit variances.

        ``Var(D_ij) = (1/n^T_ij + 1/n^C_ij) s_j^2`` with ``s_1^2``, ``s_2^2`` unknown and
        common to all studies, outcomes independent; fitted in closed form by ML (see
        :mod:`metamodels.multivariate.equal_variance`).

        Parameters
        ----------
        d1, d2 : array_like
            Mean differences of the two outcomes, one per study (NaN = not reported).
        n1_treat, n1_ctrl : array_like
            Group sizes (treatment, control) behind ``d1``; positive where ``d1`` is
            reported.
        n2_treat, n2_ctrl : array_like
            Group sizes behind ``d2``.
        names : pair of str, default ("y1", "y2")
            Outcome names.

        Returns
        -------
        EqualVarianceMeta
            Its :meth:`~metamodels.multivariate.equal_variance.EqualVarianceMeta.fit`
            returns statsmodels-style results.

        Examples
        --------
        >>> import numpy as np
        >>> import metamodels as mm
        >>> model = mm.BivariateMeta.from_group_sizes(
        ...     [0.5, 0.3, 0.8, 0.1], [0.2, np.nan, 0.4, 0.3],
        ...     [20, 30, 25, 40], [22, 28, 25, 38], [20, 30, 25, 40], [22, 28, 25, 38],
        ...     names=("a", "b"))
        >>> res = model.fit()
        >>> print(res.params.round(4))
        a    0.3781
        b    0.3048
        dtype: float64
        """
        return EqualVarianceMeta(np.column_stack([d1, d2]),
                                 np.column_stack([n1_treat, n2_treat]),
                                 np.column_stack([n1_ctrl, n2_ctrl]), names)


def _mm_theta(model, spec):
    """Jackson-White-Riley matrix method of moments for Psi (UN parameters).

    With ``W = S^{-1}`` (block diagonal), ``H = X(X'WX)^{-1}X'W`` and the block trace
    ``btr`` summing the 2 x 2 diagonal blocks over studies (missing outcomes padded with
    zeros), ``Q = btr(W (I-H) y y' (I-H)')`` has expectation
    ``btr(W (I-H) S (I-H)') + L(Psi)``, ``L`` linear; solve for all four entries of
    ``Psi``, symmetrise, and set negative eigenvalues to zero.
    """
    k = model.k_studies
    idx = model.study * 2 + model.outcome          # padded position of each row
    Sfull = np.zeros((2 * k, 2 * k))
    for i in range(k):
        o = np.flatnonzero(model.obs[i])
        Sfull[np.ix_(2 * i + o, 2 * i + o)] = model.S[i][np.ix_(o, o)]
    W = np.zeros_like(Sfull)
    for i in range(k):
        o = np.flatnonzero(model.obs[i])
        W[np.ix_(2 * i + o, 2 * i + o)] = np.linalg.inv(model.S[i][np.ix_(o, o)])
    X = np.zeros((2 * k, model.exog.shape[1]))
    X[idx] = model.exog
    y = np.zeros(2 * k)
    y[idx] = model.endog
    D = np.zeros(2 * k)
    D[idx] = 1.0
    H = X @ np.linalg.solve(X.T @ W @ X, X.T @ W)
    M = np.eye(2 * k) - H

    def btr(A):
        return sum(A[2 * i:2 * i + 2, 2 * i:2 * i + 2] for i in range(k))

    r = M @ y
    Q = btr(W @ np.outer(r, r))
    Q0 = btr(W @ M @ Sfull @ M.T)
    cols = []
    for a in range(2):
        for b in range(2):
            E = np.zeros((2, 2))
            E[a, b] = 1.0
            Psi_full = np.kron(np.eye(k), E) * np.outer(D, D)
            cols.append(btr(W @ M @ Psi_full @ M.T).ravel())
    A = np.column_stack(cols)
    psi = np.linalg.lstsq(A, (Q - Q0).ravel(), rcond=None)[0].reshape(2, 2)
    psi = 0.5 * (psi + psi.T)
    val, vec = np.linalg.eigh(psi)
    psi = (vec * np.clip(val, 0, None)) @ vec.T
    return np.array([psi[0, 0], psi[1, 0], psi[1, 1]])


class BivariateResults(ConfidenceRegionMixin, InformationCriteriaMixin, ResultsConventions,
                       LikelihoodModelResults):
    """Results of a :class:`BivariateMeta` fit.

    Pooled effects in ``params`` (``bse``, ``conf_int()``, ``t_test()``, z tests),
    ``cov_between`` (``Psi``), ``tau2``, ``rho_between``, the joint confidence ellipse of
    two coefficients (``confidence_region()``, ``plot_confidence_region()``), predictions
    whose intervals add the ``tau^2`` of the row's outcome, ``aic``/``bic`` (as metafor:
    ``n - p`` observations under REML) and ``plot_forest()``.  ``theta`` holds
    ``(Psi_11, Psi_21, Psi_22)`` and ``on_boundary`` the parameters estimated on a bound
    (REML/ML).

    Made by :meth:`BivariateMeta.fit`; not constructed directly.

    Parameters
    ----------
    model : BivariateMeta
        The fitted model.
    method : str
        ``"REML"``, ``"ML"``, ``"fixed"`` or ``"MM"``.
    psi : numpy.ndarray
        Estimated between-study covariance ``(2, 2)``.
    beta : numpy.ndarray
        GLS estimates of the coefficients given ``psi``.
    cov_beta : numpy.ndarray
        Their covariance ``(X' (S + Psi)^{-1} X)^{-1}``.
    llf : float
        (Restricted) log-likelihood; NaN for MM.
    converged : bool
        Whether the REML/ML search converged (True for the closed forms).
    on_boundary : sequence of str, optional
        Names of the parameters estimated on a bound.

    Examples
    --------
    >>> import numpy as np
    >>> import metamodels as mm
    >>> b = mm.datasets.load("berkey1998")
    >>> al, pd_ = b[b.outcome == "AL"], b[b.outcome == "PD"]
    >>> y = np.column_stack([al.yi, pd_.yi])
    >>> S = np.stack([[[a, c], [c, p]] for a, c, p in zip(al.v2i, pd_.v2i, pd_.v1i)])
    >>> res = mm.BivariateMeta(y, S, names=("AL", "PD")).fit(method="ML")
    >>> print(res.cov_between.round(4))
            AL      PD
    AL  0.0261  0.0095
    PD  0.0095  0.0070
    >>> print(res.conf_int().round(4))
             0       1
    AL -0.4943 -0.1816
    PD  0.2479  0.4418
    """

    forest_layout = "multivariate"   # which forest plot draws these results (plots.forest_more)

    def __init__(self, model: BivariateMeta, method: str, psi: np.ndarray, beta: np.ndarray,
                 cov_beta: np.ndarray, llf: float, converged: bool,
                 on_boundary: Sequence[str] = ()) -> None:
        self.method = method
        self._psi = np.asarray(psi, dtype=float)
        self.theta = np.array([psi[0, 0], psi[1, 0], psi[1, 1]])
        self._llf = llf
        self.converged = converged
        self.on_boundary = list(on_boundary)
        self.nobs = model.nobs
        self.df_resid = model.df_resid
        super().__init__(model, beta, normalized_cov_params=cov_beta, scale=1.0,
                         use_t=False, cov_type="nonrobust")

    @cache_readonly
    def llf(self) -> float:
        """(Restricted) log-likelihood for REML/ML/fixed fits; NaN for MM."""
        return self._llf

    @property
    def _llf_kind(self):
        return {"REML": "REML", "ML": "ML", "fixed": "ML"}.get(self.method, "")

    @property
    def n_params_total(self) -> int:
        """Coefficients plus the three parameters of Psi (none for ``"fixed"``)."""
        return self.model.exog.shape[1] + (0 if self.method == "fixed" else 3)

    @property
    def _ic_nobs(self):
        """``n - p`` observations under REML, as metafor."""
        return self.nobs - self.model.exog.shape[1] if self.method == "REML" else self.nobs

    # ------------------------------------------------------------ prediction
    def _design_rows(self, exog, transform=True):
        m = self.model
        if exog is not None and m.design_info is not None and transform and isinstance(
                exog, (pd.DataFrame, dict)):
            import patsy
            frame = pd.DataFrame(exog)
            M0 = np.asarray(patsy.dmatrix(m.design_info, frame, NA_action="raise"))
            p = M0.shape[1]
            X0 = np.zeros((2 * M0.shape[0], 2 * p))
            X0[0::2, :p] = M0
            X0[1::2, p:] = M0
            index = pd.MultiIndex.from_product([frame.index, list(m.names)])
            return X0, index
        return super()._design_rows(exog, transform)

    def _new_obs_variance(self, exog, X0):
        """``tau_j^2`` of the row's outcome (rows mixing both outcomes: NaN)."""
        p = X0.shape[1] // 2
        first = np.abs(X0[:, :p]).sum(axis=1) > 0
        second = np.abs(X0[:, p:]).sum(axis=1) > 0
        t = self.tau2
        return np.where(first & ~second, t[0], np.where(second & ~first, t[1], np.nan))

    @cache_readonly
    def cov_between(self) -> pd.DataFrame:
        """Between-study covariance Psi (PSD: variances >= 0, correlation in [-1, 1])."""
        names = list(self.model.names)
        return pd.DataFrame(self._psi, index=names, columns=names)

    @property
    def tau2(self) -> np.ndarray:
        """Between-study variances ``(tau_1^2, tau_2^2)``, the diagonal of ``Psi``."""
        return np.array([self._psi[0, 0], self._psi[1, 1]])

    @property
    def rho_between(self) -> float:
        """Between-study correlation ``Psi_21 / (tau_1 tau_2)`` (NaN when a variance
        is 0)."""
        den = np.sqrt(self._psi[0, 0] * self._psi[1, 1])
        return float(np.clip(self._psi[1, 0] / den, -1.0, 1.0)) if den > 0 else np.nan

    def plot_forest(self, ax: Any = None, **kwargs: Any) -> Figure:
        """Forest plot of both outcomes' effects with the pooled diamond of each.

        Parameters
        ----------
        ax : matplotlib.axes.Axes, optional
            Axes to draw into (a new figure by default).
        **kwargs
            Keywords of :func:`metamodels.plots.forest_more.multivariate_forest_plot`.

        Returns
        -------
        matplotlib.figure.Figure
        """
        from ..plots import forest_plot
        return forest_plot(self, ax=ax, **kwargs)

    def summary(self, alpha: float = 0.05) -> Summary:
        """Studies, effects, ``tau^2``, the between-study correlation, the
        log-likelihood and the coefficient table.

        Parameters
        ----------
        alpha : float, default 0.05
            ``1 - alpha`` confidence limits.

        Returns
        -------
        statsmodels.iolib.summary2.Summary
        """
        info = {"Studies:": str(self.model.k_studies), "Effects:": str(int(self.nobs)),
                "tau^2:": ", ".join("%.4g" % t for t in self.tau2),
                "rho (between):": "%.4f" % self.rho_between,
                "Log-likelihood:": "%.4f" % self.llf}
        return make_summary(f"BivariateMeta Results ({self.method})", info,
                            [self.coef_table(alpha)])


class BivariateResultsWrapper(LikelihoodResultsWrapper):
    pass


wrap.populate_wrapper(BivariateResultsWrapper, BivariateResults)


def within_corr_sensitivity(y: ArrayLike, variances: ArrayLike,
                            corrs: ArrayLike | None = None,
                            method: Literal["REML", "ML", "fixed", "MM"] = "REML",
                            exog: ArrayLike | None = None) -> pd.DataFrame:
    """Refit a bivariate meta-analysis over a grid of assumed within-study correlations.

    Within-study correlations are often not reported; Riley (2009) recommends a
    sensitivity analysis over plausible values.  Each value ``r`` gives the
    within-study covariances ``r sqrt(v_i1 v_i2)`` and one :class:`BivariateMeta` fit.

    Parameters
    ----------
    y : array_like
        Effects ``(k, 2)`` (NaN = not reported), as :class:`BivariateMeta`.
    variances : array_like
        Within-study variances ``(k, 2)``.
    corrs : array_like, optional
        Correlations to try, each in ``(-1, 1)``; default ``-0.9, -0.8, ..., 0.9``.
    method : {"REML", "ML", "fixed", "MM"}, default "REML"
        Estimator of each fit.
    exog : array_like, optional
        Study-level moderators ``(k, r)``.

    Returns
    -------
    pandas.DataFrame
        Indexed by ``within_corr``: ``b1``, ``se1``, ``b2``, ``se2`` (the two outcomes'
        intercepts and SEs), ``tau2_1``, ``tau2_2``, ``rho_between`` and ``boundary``
        (True where a variance is 0 or the between-study correlation is +-1).

    Warns
    -----
    BoundaryWarning
        One warning listing the correlations whose fits are on the boundary (instead of
        one per fit).

    References
    ----------
    .. [1] Riley RD (2009). Multivariate meta-analysis: the effect of ignoring
       within-study correlation. Journal of the Royal Statistical Society A 172,
       789-811.

    Examples
    --------
    >>> import numpy as np
    >>> import metamodels as mm
    >>> b = mm.datasets.load("berkey1998")
    >>> al, pd_ = b[b.outcome == "AL"], b[b.outcome == "PD"]
    >>> y = np.column_stack([al.yi, pd_.yi])
    >>> v = np.column_stack([al.v2i, pd_.v1i])
    >>> tab = mm.multivariate.within_corr_sensitivity(y, v, corrs=[0.0, 0.5])
    >>> print(tab[["b1", "b2", "rho_between"]].round(4))
                     b1      b2  rho_between
    within_corr
    0.0         -0.3254  0.3446       0.7752
    0.5         -0.3453  0.3578       0.5438
    """
    corrs = np.linspace(-0.9, 0.9, 19) if corrs is None else np.asarray(corrs, dtype=float)
    rows = {}
    for r in corrs:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", BoundaryWarning)
            res = BivariateMeta(y, variances, within_corr=r, exog=exog).fit(method=method)
        p, se = np.asarray(res.params), np.asarray(res.bse)
        rows[float(r)] = {"b1": p[0], "se1": se[0], "b2": p[-1] if exog is None else p[len(p) // 2],
                          "se2": se[-1] if exog is None else se[len(se) // 2],
                          "tau2_1": res.tau2[0], "tau2_2": res.tau2[1],
                          "rho_between": res.rho_between, "boundary": bool(res.on_boundary)}
    tab = pd.DataFrame.from_dict(rows, orient="index").rename_axis("within_corr")
    if tab["boundary"].any():
        warnings.warn("estimates on the boundary (a between-study variance at 0 or "
                      "correlation at +-1) for within_corr = "
                      + ", ".join(f"{r:g}" for r in tab.index[tab["boundary"]]),
                      BoundaryWarning, stacklevel=2)
    return tab
