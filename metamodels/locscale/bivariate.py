"""BivariateLocationScaleMeta: two outcomes per study, each with a regression for its
mean and for its heterogeneity SD, and a regression for their correlation."""
from __future__ import annotations

from typing import TYPE_CHECKING, Any, Literal, Mapping, Sequence

import numpy as np
import pandas as pd
import patsy
from statsmodels.base.model import LikelihoodModel

from ..base.engine import EngineModelMixin, check_start, engine_fit
from ..base.model import _check_method
from ..base.pickling import FormulaPickleMixin
from ..core.known import KnownCovariance
from ..exceptions import SpecificationError
from .bivariate_covariance import BivariateLocationScaleCovariance

if TYPE_CHECKING:
    from numpy.typing import ArrayLike

    from .bivariate_results import BivariateLocationScaleResults

__all__ = ["BivariateLocationScaleMeta"]


def _sampling_blocks(V, k, data=None):
    """(k, 2, 2) sampling covariances from an array or three column names
    ``(var1, var2, cov12)``."""
    if isinstance(V, (tuple, list)) and len(V) == 3 and all(isinstance(c, str) for c in V):
        if data is None:
            raise ValueError("V given as column names needs data")
        for c in V:
            if c not in data:
                raise ValueError(f"column {c!r} (in V) is not in data")
        v1, v2, c12 = (pd.to_numeric(data[c], errors="coerce").to_numpy(dtype=float) for c in V)
        S = np.empty((len(v1), 2, 2))
        S[:, 0, 0], S[:, 1, 1], S[:, 0, 1], S[:, 1, 0] = v1, v2, c12, c12
        return S
    S = np.asarray(V, dtype=float)
    if S.shape != (k, 2, 2):
        raise ValueError(f"V must be a (k, 2, 2) array of sampling covariances (k = {k}) or "
                         f"three column names (var1, var2, cov12); got shape {S.shape}")
    return S


class BivariateLocationScaleMeta(EngineModelMixin, FormulaPickleMixin, LikelihoodModel):
    """Bivariate location-scale meta-analysis (drmTMB's bivariate model).

    Two outcomes per study with known 2 x 2 sampling covariances (a study may report one
    outcome only); each outcome's mean, each outcome's heterogeneity SD and the
    correlation of the two random effects have a regression of their own.  Most users
    build the model with :meth:`from_formula` from a wide table (one row per study).

    Parameters
    ----------
    endog : (k, 2) array
        The two outcomes of each study (NaN: outcome not reported).
    exog1, exog2 : (k, p1), (k, p2) arrays
        Designs of the two means.
    V : (k, 2, 2) array
        Known sampling covariances ``S_i``.
    exog_scale1, exog_scale2 : (k, q1), (k, q2) arrays
        Designs of ``log(sd1)`` and ``log(sd2)``.
    exog_corr : (k, qc) array
        Design of ``atanh(rho)``.
    names : dict, optional
        Column names of each design (``"mean1"``, ``"mean2"``, ``"scale1"``, ``"scale2"``,
        ``"corr"``).
    outcomes : tuple of str, default ("y1", "y2")
        Names of the two outcomes (labels of the parameters, e.g. ``y1:x0``).
    **kwargs
        Passed to :class:`statsmodels.base.model.LikelihoodModel`.

    Raises
    ------
    ValueError
        Inputs of the wrong shape, missing values in a design, a study reporting neither
        outcome, non-positive sampling variances or sampling correlations outside
        (-1, 1), or too few effect sizes for the parameters.
    metamodels.exceptions.SpecificationError
        A singular location or scale design, or a correlation design not identified by
        the studies reporting both outcomes.

    See Also
    --------
    LocationScaleMeta : one outcome.
    BivariateMeta : the bivariate random-effects model (constant SDs and correlation).
    metamodels.locscale.bivariate_results.BivariateLocationScaleResults

    Notes
    -----
    For study ``i`` with outcomes ``y_i = (y_i1, y_i2)'``

    .. math::

        y_i \\sim N\\big(\\mu_i, S_i + \\Sigma_i\\big), \\quad
        \\mu_{ij} = x_{ij}'b_j, \\quad
        \\Sigma_i = \\begin{pmatrix} \\sigma_{i1}^2 & \\rho_i\\sigma_{i1}\\sigma_{i2} \\\\
        \\rho_i\\sigma_{i1}\\sigma_{i2} & \\sigma_{i2}^2 \\end{pmatrix},

        \\log\\sigma_{ij} = z_{ij}'a_j, \\qquad \\operatorname{atanh}\\rho_i = w_i'c,

    with ``S_i`` known.  A study reporting one outcome contributes its marginal
    likelihood.  Fitting is profiled ML or REML on the shared engine (Newton steps with
    the analytic observed information); a constant-scale, constant-correlation model is
    the bivariate random-effects model (``MetaMixed`` with an unstructured 2 x 2 random
    term; metafor's ``rma.mv(yi, V, mods = ~ outcome - 1, random = ~ outcome | study,
    struct = "UN")``).  The univariate model is that of Viechtbauer & López-López [1]_.

    References
    ----------
    .. [1] Viechtbauer, W., & López-López, J. A. (2022). Location-scale models for
       meta-analysis. Research Synthesis Methods, 13(6), 697-715.

    Examples
    --------
    Probing depth (PD) and attachment level (AL) in five periodontal trials (Berkey et
    al. 1998), with their within-trial sampling covariances:

    >>> import pandas as pd
    >>> import metamodels as mm
    >>> b = mm.datasets.load("berkey1998")
    >>> pd_ = b[b.outcome == "PD"].reset_index(drop=True)
    >>> al = b[b.outcome == "AL"].reset_index(drop=True)
    >>> wide = pd.DataFrame({"PD": pd_.yi, "AL": al.yi, "vPD": pd_.vi, "vAL": al.vi,
    ...                      "cov": pd_.v2i})
    >>> model = mm.BivariateLocationScaleMeta.from_formula(
    ...     "~ 1", data=wide, outcomes=("PD", "AL"), V=("vPD", "vAL", "cov"))
    >>> res = model.fit(method="REML")
    >>> print(res.params.round(4))
    PD:Intercept          0.3534
    AL:Intercept         -0.3392
    scale:PD:Intercept   -2.2227
    scale:AL:Intercept   -1.7109
    corr:Intercept        0.7070
    dtype: float64
    """

    def __init__(self, endog: ArrayLike, exog1: ArrayLike, exog2: ArrayLike,
                 V: ArrayLike, exog_scale1: ArrayLike, exog_scale2: ArrayLike,
                 exog_corr: ArrayLike, names: Mapping[str, Sequence[str]] | None = None,
                 outcomes: tuple[str, str] = ("y1", "y2"), **kwargs: Any) -> None:
        Y = np.asarray(endog, dtype=float)
        if Y.ndim != 2 or Y.shape[1] != 2:
            raise ValueError(f"endog must be a (k, 2) array of the two outcomes, got {Y.shape}")
        k = Y.shape[0]
        S = _sampling_blocks(V, k)
        mats = {}
        for key, A in (("mean1", exog1), ("mean2", exog2), ("scale1", exog_scale1),
                       ("scale2", exog_scale2), ("corr", exog_corr)):
            A = np.asarray(A, dtype=float)
            A = A.reshape(k, -1) if A.ndim != 2 else A
            if A.shape[0] != k:
                raise ValueError(f"the {key} design has {A.shape[0]} rows but there are {k} studies")
            if not np.all(np.isfinite(A)):
                raise ValueError(f"the {key} design has missing values; use from_formula(..., "
                                 "missing='drop')")
            mats[key] = A
        names = dict(names or {})
        for key, A in mats.items():
            names.setdefault(key, [f"{key}_x{j}" for j in range(A.shape[1])])
        obs = np.isfinite(Y)
        if not obs.any(axis=1).all():
            raise ValueError(f"studies {np.flatnonzero(~obs.any(axis=1))[:10].tolist()} report "
                             "neither outcome")
        for j in range(2):
            okv = np.isfinite(S[:, j, j]) & (S[:, j, j] > 0)
            if np.any(obs[:, j] & ~okv):
                raise ValueError(f"the sampling variance of outcome {j + 1} must be positive "
                                 "where the outcome is reported")
        both = obs.all(axis=1)
        if np.any(both & ~np.isfinite(S[:, 0, 1])) or np.any(
                both & (S[:, 0, 1] ** 2 >= S[:, 0, 0] * S[:, 1, 1])):
            raise ValueError("the sampling covariances of studies reporting both outcomes "
                             "must be finite with |correlation| < 1")
        # stacked rows: study-major, outcome 1 then 2
        study, outcome = np.nonzero(obs)
        n = study.size
        p1, p2 = mats["mean1"].shape[1], mats["mean2"].shape[1]
        q1, q2 = mats["scale1"].shape[1], mats["scale2"].shape[1]
        X = np.zeros((n, p1 + p2))
        U = np.zeros((n, q1 + q2))
        first = outcome == 0
        X[first, :p1] = mats["mean1"][study[first]]
        X[~first, p1:] = mats["mean2"][study[~first]]
        U[first, :q1] = mats["scale1"][study[first]]
        U[~first, q1:] = mats["scale2"][study[~first]]
        Wc = mats["corr"][study]
        blocks = []
        for i in range(k):
            idx = np.flatnonzero(obs[i])
            blocks.append(S[i][np.ix_(idx, idx)])
        known = KnownCovariance.from_input(n, V=blocks)
        y = Y[study, outcome]
        o1, o2 = outcomes
        x_names = [f"{o1}:{c}" for c in names["mean1"]] + [f"{o2}:{c}" for c in names["mean2"]]
        super().__init__(pd.Series(y, name="y"), pd.DataFrame(X, columns=x_names),
                         missing="none", **kwargs)
        for name, A in (("location", X), ("scale", U)):
            if np.linalg.matrix_rank(A) < A.shape[1]:
                raise SpecificationError(f"singular {name} design: its columns are collinear "
                                         "(or an outcome is never reported)")
        if both.sum() < mats["corr"].shape[1] or (
                mats["corr"].shape[1] and np.linalg.matrix_rank(mats["corr"][both])
                < mats["corr"].shape[1]):
            raise SpecificationError("the correlation design is not identified by the "
                                     "studies reporting both outcomes")
        n_par = X.shape[1] + U.shape[1] + Wc.shape[1]
        if n <= n_par:
            raise ValueError(f"too few effect sizes ({n}) for {n_par} parameters")
        pnames = ([f"scale:{o1}:{c}" for c in names["scale1"]]
                  + [f"scale:{o2}:{c}" for c in names["scale2"]]
                  + [f"corr:{c}" for c in names["corr"]])
        self.spec = BivariateLocationScaleCovariance(known, U, Wc, study, pnames, q1 + q2)
        self.known = known
        self.outcomes = (o1, o2)
        self.study, self.outcome = study, outcome
        self.designs = mats
        self.design_names = names
        self.k_studies = k
        self.k_location = X.shape[1]
        self.dims = {"p1": p1, "p2": p2, "q1": q1, "q2": q2, "qc": Wc.shape[1]}
        self.data.param_names = x_names + pnames
        self.nobs = float(n)
        self.df_resid = float(n - X.shape[1])
        self.df_model = float(X.shape[1] - 2)
        self.n_dropped = 0

    formula = None
    mean1_design_info = mean2_design_info = scale1_design_info = None
    scale2_design_info = corr_design_info = None

    @property
    def design_infos(self) -> dict | None:
        """patsy DesignInfo of each design (formula models; None for array input)."""
        keys = ("mean1", "mean2", "scale1", "scale2", "corr")
        infos = {k: getattr(self, f"{k}_design_info") for k in keys}
        return None if all(v is None for v in infos.values()) else infos

    @classmethod
    def from_formula(cls, formula: str | tuple[str, str], data: pd.DataFrame,
                     outcomes: tuple[str, str] = ("y1", "y2"),
                     V: ArrayLike | tuple[str, str, str] | None = None,
                     scale_formula: str | tuple[str, str] = ("~ 1", "~ 1"),
                     corr_formula: str = "~ 1",
                     missing: Literal["drop", "raise"] = "drop",
                     **kwargs: Any) -> BivariateLocationScaleMeta:
        """Build from a wide table (one row per study) and formulas.

        Parameters
        ----------
        formula : str or (str, str)
            Right-hand side of the means, ``"~ x"`` (the same design for both outcomes,
            separate coefficients) or one per outcome.
        data : pandas.DataFrame
        outcomes : (str, str)
            Columns of the two outcomes (NaN: not reported).
        V : (k, 2, 2) array or (str, str, str)
            Sampling covariances, or the columns of the two variances and the covariance.
        scale_formula : str or (str, str)
            Designs of ``log(sd1)`` and ``log(sd2)`` (one string: the same for both).
        corr_formula : str
            Design of ``atanh(rho)``.
        missing : {"drop", "raise"}
            Studies with a missing moderator (or no outcome) are dropped (with their
            outcomes) or refused.
        **kwargs
            Passed to the constructor.

        Returns
        -------
        BivariateLocationScaleMeta
            The model, with ``formula``, the designs' ``design_infos`` and ``n_dropped``
            set.

        Raises
        ------
        ValueError
            An outcome or ``V`` column not in ``data``, ``V`` of the wrong shape, rows
            with missing moderators when ``missing="raise"``, or the errors of the
            constructor.

        Examples
        --------
        >>> import pandas as pd
        >>> import metamodels as mm
        >>> b = mm.datasets.load("berkey1998")
        >>> pd_ = b[b.outcome == "PD"].reset_index(drop=True)
        >>> al = b[b.outcome == "AL"].reset_index(drop=True)
        >>> wide = pd.DataFrame({"PD": pd_.yi, "AL": al.yi, "vPD": pd_.vi, "vAL": al.vi,
        ...                      "cov": pd_.v2i})
        >>> model = mm.BivariateLocationScaleMeta.from_formula(
        ...     "~ 1", data=wide, outcomes=("PD", "AL"), V=("vPD", "vAL", "cov"))
        >>> res = model.fit(method="REML")
        >>> res.model.k_studies
        5
        """
        data = pd.DataFrame(data).reset_index(drop=True)
        for c in outcomes:
            if c not in data:
                raise ValueError(f"outcome column {c!r} is not in data")
        f1, f2 = (formula, formula) if isinstance(formula, str) else tuple(formula)
        s1, s2 = (scale_formula, scale_formula) if isinstance(scale_formula, str) \
            else tuple(scale_formula)
        rhs = {k: f.split("~", 1)[-1] for k, f in (("mean1", f1), ("mean2", f2), ("scale1", s1),
                                                   ("scale2", s2), ("corr", corr_formula))}
        S = _sampling_blocks(V, len(data), data)
        keep = np.ones(len(data), dtype=bool)
        for f in rhs.values():
            mf = patsy.dmatrix(f, data, NA_action="drop", return_type="dataframe")
            ok = np.zeros(len(data), dtype=bool)
            ok[np.asarray(mf.index, dtype=np.int64)] = True
            keep &= ok
        Y = data[list(outcomes)].apply(pd.to_numeric, errors="coerce").to_numpy(dtype=float)
        keep &= np.isfinite(Y).any(axis=1)
        if not keep.all() and missing != "drop":
            raise ValueError(f"rows {np.flatnonzero(~keep)[:10].tolist()} have missing "
                             "moderators or no outcome; use missing='drop'")
        kept = data[keep].reset_index(drop=True)
        mats, names, infos = {}, {}, {}
        for key, f in rhs.items():
            M = patsy.dmatrix(f, kept, return_type="dataframe")
            mats[key], names[key], infos[key] = M.to_numpy(), list(M.columns), M.design_info
        mod = cls(Y[keep], mats["mean1"], mats["mean2"], S[keep], mats["scale1"],
                  mats["scale2"], mats["corr"], names=names, outcomes=tuple(outcomes), **kwargs)
        mod.formula = formula
        for key, info in infos.items():         # separate attributes: picklable recipes
            setattr(mod, f"{key}_design_info", info)
        mod.data.frame = kept
        mod.n_dropped = int((~keep).sum())
        return mod

    def _start(self):
        """Log-SDs from each outcome's method-of-moments heterogeneity, correlation 0."""
        from ..core.scalar import DiagonalTau2
        d = self.dims
        a = np.zeros(d["q1"] + d["q2"])
        y, X, v = self.endog, self.exog, self.known.diagonal()
        for j, (off, q) in enumerate(((0, d["q1"]), (d["q1"], d["q2"]))):
            rows = self.outcome == j
            cols = np.flatnonzero(np.abs(X[rows]).sum(axis=0) > 0)
            try:
                t2 = DiagonalTau2(y[rows], v[rows], X[np.ix_(rows, cols)]).dersimonian_laird()
            except Exception:
                t2 = 0.0
            t2 = max(t2, 0.05 * float(np.var(y[rows])) + 1e-8)
            Z = self.designs["scale1" if j == 0 else "scale2"]
            # intercept-like start: the constant column gets log(tau), others 0
            const = np.flatnonzero(np.all(Z == 1.0, axis=0))
            if const.size:
                a[off + const[0]] = 0.5 * np.log(t2)
        return np.concatenate([a, np.zeros(d["qc"])])

    def fit(self, method: Literal["REML", "ML"] = "REML",
            start: ArrayLike | None = None, tol: float = 1e-10,
            maxiter: int = 200) -> BivariateLocationScaleResults:
        """Fit by profiled REML (default) or ML.

        Newton steps on the analytic observed information
        (:func:`metamodels.core.optimize.maximize`: should the solution lie on a bound,
        the search is repeated from ``start`` and from a start with ``log 2`` subtracted
        from every scale coefficient, and the highest likelihood kept).  The model is
        not modified.

        Parameters
        ----------
        method : {"REML", "ML"}, default "REML"
            Restricted or full maximum likelihood.
        start : array_like, optional
            Starting values of the scale and correlation coefficients (order of
            ``model.spec.param_names``).  Default: each outcome's log DerSimonian-Laird
            SD in its constant column, everything else 0.
        tol : float, default 1e-10
            Convergence tolerance of the optimiser.
        maxiter : int, default 200
            Maximum number of iterations.

        Returns
        -------
        BivariateLocationScaleResults

        Raises
        ------
        ValueError
            Unknown ``method`` or ``start`` of the wrong length.

        Examples
        --------
        >>> import pandas as pd
        >>> import metamodels as mm
        >>> b = mm.datasets.load("berkey1998")
        >>> pd_ = b[b.outcome == "PD"].reset_index(drop=True)
        >>> al = b[b.outcome == "AL"].reset_index(drop=True)
        >>> wide = pd.DataFrame({"PD": pd_.yi, "AL": al.yi, "vPD": pd_.vi, "vAL": al.vi,
        ...                      "cov": pd_.v2i})
        >>> model = mm.BivariateLocationScaleMeta.from_formula(
        ...     "~ 1", data=wide, outcomes=("PD", "AL"), V=("vPD", "vAL", "cov"))
        >>> res = model.fit(method="REML")
        >>> print(res.predict_parameters().loc[0, ["sd1", "sd2", "rho"]].round(4))
        sd1    0.1083
        sd2    0.1807
        rho    0.6088
        Name: 0, dtype: float64
        """
        from .bivariate_results import (BivariateLocationScaleResults,
                                        BivariateLocationScaleResultsWrapper)
        method = _check_method(method, ("REML", "ML"), "method")
        start = check_start(self.spec, self._start() if start is None else start)
        alt = start.copy()
        alt[: self.dims["q1"] + self.dims["q2"]] -= np.log(2.0)
        out = engine_fit(self.endog, self.exog, self.spec, start, method, tol, maxiter,
                         restarts=[alt], stacklevel=2)
        return BivariateLocationScaleResultsWrapper(
            BivariateLocationScaleResults(self, out, method))
