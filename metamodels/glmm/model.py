r"""MetaGLMM: meta-analysis of counts with generalized linear mixed models (metafor's
``rma.glmm``).

The models are written out in :mod:`metamodels.glmm.designs`; integrals over the
random effects in :mod:`metamodels.glmm.quadrature`; heterogeneity tests in
:mod:`metamodels.glmm.fitting`.
"""
from __future__ import annotations

import warnings
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
import pandas as pd
import patsy
from statsmodels.base.model import LikelihoodModel

from ..base.pickling import FormulaPickleMixin
from ..effectsize import effect_size
from ..exceptions import ConvergenceWarning, DegenerateFitError, MissingDataWarning, SpecificationError
from .designs import build_design
from .fitting import fit_glmm

if TYPE_CHECKING:
    from numpy.typing import ArrayLike

    from .results import MetaGLMMResults

__all__ = ["MetaGLMM", "MEASURES", "MODELS"]

MEASURES = ("OR", "IRR", "PLO", "IRLN")
MODELS = ("UM.FS", "UM.RS", "CM.EL", "CM.AL")
_INPUTS = {"OR": ("ai", "bi", "ci", "di", "n1i", "n2i"), "IRR": ("x1i", "x2i", "t1i", "t2i"),
           "PLO": ("xi", "mi", "ni"), "IRLN": ("xi", "ti")}


def _column(value, data, name):
    if isinstance(value, str):
        if data is None or value not in data:
            raise ValueError(f"{name}={value!r} is not a column of the data")
        value = data[value]
    try:
        return pd.to_numeric(pd.Series(np.asarray(value, dtype=object).reshape(-1))).to_numpy(
            dtype=float, na_value=np.nan)
    except (TypeError, ValueError) as exc:
        raise SpecificationError(f"{name} must hold numbers (counts)") from exc


def _read_counts(measure, data, given):
    """Counts under short names (a, b, c, d / x1, t1, x2, t2 / x, n / x, t)."""
    allowed = _INPUTS[measure]
    wrong = sorted(set(given) - set(allowed))
    if wrong:
        raise ValueError(f"measure {measure!r} takes {', '.join(allowed)}; {', '.join(wrong)} not used")
    col = {k: _column(v, data, k) for k, v in given.items()}
    try:
        if measure == "OR":
            a, c = col["ai"], col["ci"]
            b = col["bi"] if "bi" in col else col["n1i"] - a
            d = col["di"] if "di" in col else col["n2i"] - c
            out = dict(a=a, b=b, c=c, d=d)
        elif measure == "IRR":
            out = dict(x1=col["x1i"], x2=col["x2i"], t1=col["t1i"], t2=col["t2i"])
        elif measure == "PLO":
            x = col["xi"]
            out = dict(x=x, n=col["ni"] if "ni" in col else x + col["mi"])
        else:
            out = dict(x=col["xi"], t=col["ti"])
    except KeyError as exc:
        raise ValueError(f"measure {measure!r} needs {exc.args[0]} (and the other inputs "
                         f"among {', '.join(allowed)})") from None
    lengths = {len(v) for v in out.values()}
    if len(lengths) != 1:
        raise ValueError("the count inputs have different lengths")
    for name, v in out.items():
        bad = np.isfinite(v) & ((v < 0) | ((name[0] in "abcdxn") & (v != np.round(v))))
        if name[0] == "t":
            bad = np.isfinite(v) & (v <= 0)
        if bad.any():
            raise SpecificationError(f"invalid {name} values in rows {np.flatnonzero(bad)[:10].tolist()}: "
                                     "counts must be non-negative integers, person-times positive")
    return out


class MetaGLMM(FormulaPickleMixin, LikelihoodModel):
    r"""Meta-analysis of 2x2 tables, incidence rates or proportions by GLMMs (metafor's
    ``rma.glmm``).

    Instead of normal approximations of study-level effect sizes, the counts themselves
    are modelled (binomial, Poisson or conditional likelihoods) with normal random
    effects, which suits sparse data (small counts, zero cells).

    Parameters
    ----------
    measure : {"OR", "IRR", "PLO", "IRLN"}
        Log odds ratio, log incidence rate ratio (two groups), logit of a proportion, log
        incidence rate (one group).
    model : {"UM.FS", "UM.RS", "CM.EL", "CM.AL"}
        OR/IRR only: unconditional model with fixed (``UM.FS``) or random (``UM.RS``)
        study effects; conditional model with the exact (``CM.EL``, noncentral
        hypergeometric; for IRR the binomial of ``x1i`` given ``x1i + x2i``) or the
        approximate binomial likelihood (``CM.AL``, OR).  Ignored by PLO and IRLN.
    data : DataFrame, optional
        Table of the counts; string count arguments are its column names.
    ai, bi, ci, di, n1i, n2i : str or array_like
        OR: events/non-events in groups 1 and 2 (``n1i``/``n2i`` may replace ``bi``/``di``).
    x1i, x2i, t1i, t2i : str or array_like
        IRR: events and person-times of groups 1 and 2.
    xi, ni, mi, ti : str or array_like
        PLO: events ``xi`` of ``ni`` (or ``xi`` and non-events ``mi``); IRLN: events ``xi``
        over person-time ``ti``.
    exog : array_like, optional
        Moderator design (k, p) with its own intercept column; intercept only when
        omitted.  :meth:`from_formula` builds it from a formula.
    add : float, default 0.5
        metafor's continuity correction of the study-level ``yi``/``vi`` that enter
        ``I^2`` (and nothing else).
    to : {"only0", "all", "if0all", "none"}, default "only0"
        Which tables get ``add`` (as :func:`~metamodels.effect_size`).
    drop00 : bool, default True
        Tables with no events (or only events) in both groups are left out of the fit
        (OR and IRR, as metafor), with a
        :class:`~metamodels.exceptions.MissingDataWarning`.
    coding : {0.5, 1, 0}
        ``UM.FS``/``UM.RS``: the random effect enters group 1 with ``+coding`` and group 2
        with ``coding - 1`` (metafor's ``coding``; 1/2 is symmetric).
    cor : bool, default False
        ``UM.RS``: correlated random study intercepts and effects (metafor's ``cor``);
        ``rho`` is reported.
    **counts : str or array_like
        The count inputs of ``measure`` by name (``ai``, ``bi``, ... above).

    Raises
    ------
    ValueError
        Unknown ``measure``, ``model`` or ``coding``; count inputs not used by
        ``measure`` or missing; too few studies.
    metamodels.exceptions.SpecificationError
        Counts that are not non-negative integers, person-times that are not positive,
        or a singular moderator design.

    See Also
    --------
    MetaGLMM.from_formula : moderators from a formula.
    metamodels.glmm.MetaGLMMResults
    metamodels.effect_size : study-level effect sizes for ``MetaRandom``.

    Notes
    -----
    The models are written out in :mod:`metamodels.glmm.designs`.  Fits are by maximum
    likelihood: ``fit(method="ML")`` with normal random effects (integrated out by
    adaptive Gauss-Hermite quadrature with ``nagq`` points per study, the Laplace
    approximation for ``UM.RS`` as metafor, and a 31-point rule, exact to ~1e-10, for
    ``CM.EL`` with odds ratios), ``fit(method="EE")`` without.  For instance the
    unconditional model with fixed study effects (``UM.FS``) for odds ratios has, in
    study ``i`` and group ``j`` (``g_j = 1, 0`` for groups 1 and 2), binomial counts
    with

    .. math::

        \operatorname{logit} p_{ij} = \alpha_i + g_j\, x_i'b + c_j u_i, \quad
        u_i \sim N(0, \tau^2),

    ``alpha_i`` fixed study effects, ``c_1 = coding`` and ``c_2 = coding - 1``: the log
    odds ratio of study ``i`` is ``x_i'b + u_i``.  See Stijnen et al. [1]_ and van
    Houwelingen et al. [2]_.

    References
    ----------
    .. [1] Stijnen, T., Hamza, T. H., & Ozdemir, P. (2010). Random effects meta-analysis
       of event outcome in the framework of the generalized linear mixed model with
       applications in sparse data. Statistics in Medicine, 29(29), 3046-3067.
    .. [2] van Houwelingen, H. C., Zwinderman, K. H., & Stijnen, T. (1993). A bivariate
       approach to meta-analysis. Statistics in Medicine, 12(24), 2273-2284.

    Examples
    --------
    Odds ratios of the BCG vaccine trials, binomial-normal model with fixed study
    effects (metafor's ``rma.glmm(measure="OR", model="UM.FS")``):

    >>> import metamodels as mm
    >>> dat = mm.datasets.load("bcg")
    >>> model = mm.MetaGLMM("OR", data=dat, ai="tpos", bi="tneg", ci="cpos", di="cneg")
    >>> res = model.fit(method="ML")
    >>> print(res.params.round(4))
    intrcpt   -0.745
    dtype: float64
    >>> print(round(res.tau2, 4))
    0.2949
    """

    def __init__(self, measure: Literal["OR", "IRR", "PLO", "IRLN"],
                 model: Literal["UM.FS", "UM.RS", "CM.EL", "CM.AL"] = "UM.FS",
                 data: pd.DataFrame | None = None, *, exog: ArrayLike | None = None,
                 add: float = 0.5, to: str = "only0", drop00: bool = True,
                 coding: float = 0.5, cor: bool = False,
                 **counts: str | ArrayLike | None) -> None:
        measure = str(measure).upper()
        if measure not in MEASURES:
            raise ValueError(f"measure must be one of {MEASURES}, got {measure!r}")
        model = str(model).upper()
        if model not in MODELS:
            raise ValueError(f"model must be one of {MODELS}, got {model!r}")
        if measure == "IRR" and model == "CM.AL":
            model = "CM.EL"                      # the binomial conditional model (metafor)
        if measure in ("PLO", "IRLN"):
            model = "UM.FS"
        given = {k: v for k, v in counts.items() if v is not None}
        raw = _read_counts(measure, data, given)
        n = len(next(iter(raw.values())))
        if exog is None:
            exog = pd.DataFrame({"intrcpt": np.ones(n)})
        X = np.asarray(exog, dtype=float)
        if X.ndim == 1:
            X = X[:, None]
        if X.shape[0] != n:
            raise ValueError(f"exog has {X.shape[0]} rows but there are {n} studies")
        names = list(exog.columns) if isinstance(exog, pd.DataFrame) else \
            [f"x{j}" for j in range(X.shape[1])]
        index = data.index if isinstance(data, pd.DataFrame) and len(data) == n else pd.RangeIndex(n)
        keep = np.all([np.isfinite(v) for v in raw.values()], axis=0) & np.isfinite(X).all(axis=1)
        if not keep.all():
            warnings.warn(f"{int((~keep).sum())} studies with missing values left out",
                          MissingDataWarning, stacklevel=2)
        if drop00 and measure in ("OR", "IRR"):
            if measure == "OR":
                z = ((raw["a"] == 0) & (raw["c"] == 0)) | ((raw["b"] == 0) & (raw["d"] == 0))
            else:
                z = (raw["x1"] == 0) & (raw["x2"] == 0)
            if (z & keep).any():
                warnings.warn(f"{int((z & keep).sum())} studies with no events (or only events) "
                              "in both groups left out of the fit (drop00)", MissingDataWarning,
                              stacklevel=2)
            keep &= ~z
        self.measure, self.model_type = measure, model
        self.counts = {k: v[keep] for k, v in raw.items()}
        self.add, self.to, self.drop00 = add, to, drop00
        if coding not in (0.5, 1, 0):
            raise ValueError(f"coding must be 1/2, 1 or 0, got {coding!r}")
        self.coding = float(coding)
        self.cor = bool(cor) and model == "UM.RS"
        es_args = {k: _column(v, data, k)[keep] for k, v in given.items()}
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            es = effect_size(measure, None, add=add, to=to, drop00=drop00, **es_args)
        self.yi, self.vi = es["yi"].to_numpy(), es["vi"].to_numpy()
        Xk = pd.DataFrame(X[keep], columns=names, index=index[keep])
        super().__init__(pd.Series(self.yi, index=index[keep], name="yi"), Xk, missing="none")
        k, p = Xk.shape
        if np.linalg.matrix_rank(Xk.to_numpy()) < p:
            raise SpecificationError(f"singular moderator design (rank < {p} columns)")
        if k < p:
            raise ValueError(f"too few studies: {k} for {p} coefficients")
        self.k = k
        self.nobs = float(k)
        self.k_params = p
        self.df_model = float(p - 1)
        self.df_resid = float(k - p)

    @classmethod
    def from_formula(cls, formula: str, data: pd.DataFrame,
                     measure: Literal["OR", "IRR", "PLO", "IRLN"],
                     model: Literal["UM.FS", "UM.RS", "CM.EL", "CM.AL"] = "UM.FS",
                     **kwargs: Any) -> MetaGLMM:
        """Build the model with moderators from a one-sided patsy formula.

        Parameters
        ----------
        formula : str
            Right-hand side of the moderators, e.g. ``"~ ablat + C(alloc)"`` (the ``~``
            may be omitted); the intercept is named ``intrcpt`` as in metafor.
        data : pandas.DataFrame
            One row per study, with the moderators and the counts.
        measure : {"OR", "IRR", "PLO", "IRLN"}
            The outcome measure (see :class:`MetaGLMM`).
        model : {"UM.FS", "UM.RS", "CM.EL", "CM.AL"}, default "UM.FS"
            The GLMM (see :class:`MetaGLMM`).
        **kwargs
            Count arguments (column names of ``data``) and the other options of the
            constructor.

        Returns
        -------
        MetaGLMM
            The model, with ``formula`` and ``design_info`` set.

        Raises
        ------
        ValueError
            A formula that cannot be evaluated on ``data``, and the errors of the
            constructor.

        Examples
        --------
        >>> import metamodels as mm
        >>> dat = mm.datasets.load("bcg")
        >>> model = mm.MetaGLMM.from_formula("~ ablat", dat, "OR", ai="tpos", bi="tneg",
        ...                                  ci="cpos", di="cneg")
        >>> model.exog_names
        ['intrcpt', 'ablat']
        """
        if "~" not in formula:
            formula = "~ " + formula
        rhs = formula.split("~", 1)[1]
        try:
            X = patsy.dmatrix(rhs, data, NA_action=patsy.NAAction(NA_types=[]),
                              return_type="dataframe")
        except patsy.PatsyError as exc:
            raise ValueError(f"cannot build the moderators: {str(exc).splitlines()[0]}") from exc
        design_info = X.design_info
        X = X.rename(columns={"Intercept": "intrcpt"})
        mod = cls(measure, model, data, exog=X, **kwargs)
        mod.formula = formula
        mod.design_info = design_info
        mod.data.frame = data
        return mod

    # ------------------------------------------------------------ fitting
    def _scaling(self):
        """metafor's ``scaleX``: non-dummy moderators standardised during the fit.
        Returns the fitting design and ``M`` with ``b = M b_fit``."""
        X = np.asarray(self.exog, dtype=float)
        p = X.shape[1]
        is_int = np.all(X == 1, axis=0)
        M = np.eye(p)
        if p == 1 or not is_int.any():
            return X, M
        j0 = int(np.flatnonzero(is_int)[0])
        Xs = X.copy()
        for j in range(p):
            col = X[:, j]
            if j == j0 or np.all(np.isin(col, (0.0, 1.0))):
                continue
            m, s = col.mean(), col.std(ddof=1)
            if s > 0:
                Xs[:, j] = (col - m) / s
                M[j, j] = 1 / s
                M[j0, j] = -m / s
        return Xs, M

    def fit(self, method: Literal["ML", "EE"] = "ML", nagq: int = 7,
            test: Literal["z", "t"] = "z") -> MetaGLMMResults:
        """Maximum-likelihood fit (metafor's ``rma.glmm(..., method=)``).

        Non-dummy moderators are standardised during the fit and the estimates
        transformed back (metafor's ``scaleX``).  The model is not modified.

        Parameters
        ----------
        method : {"ML", "EE"}
            Random-effects (ML) or equal-effects fit (``"FE"`` and ``"CE"`` are accepted
            as ``"EE"``, as in metafor).
        nagq : int
            Adaptive Gauss-Hermite points per study (lme4's ``nAGQ``, metafor's default
            7); ``UM.RS`` always uses the Laplace approximation for the ML fit (metafor);
            ``CM.EL`` with odds ratios integrates with 31 points (exact to ~1e-10).
        test : {"z", "t"}
            Wald z tests and intervals, or t with ``k - p`` degrees of freedom (and the
            moderator test as ``F = QM / m`` on ``(m, k - p)``), metafor's ``test``.

        Returns
        -------
        MetaGLMMResults
            Coefficients, ``tau2``, heterogeneity and moderator tests, ``summary()``.

        Raises
        ------
        ValueError
            Unknown ``method`` or ``test``, ``nagq < 1``, or too few studies.
        metamodels.exceptions.DegenerateFitError
            Counts with no finite maximum-likelihood estimate (e.g. no events in any
            study).

        Warns
        -----
        metamodels.exceptions.ConvergenceWarning
            The fit did not converge or a standard error is not finite.

        Examples
        --------
        >>> import metamodels as mm
        >>> dat = mm.datasets.load("bcg")
        >>> model = mm.MetaGLMM("OR", data=dat, ai="tpos", bi="tneg", ci="cpos", di="cneg")
        >>> res = model.fit(method="ML")
        >>> print(round(res.tau2, 4), round(res.i2, 4))
        0.2949 0.9102
        """
        from .results import MetaGLMMResults, MetaGLMMResultsWrapper
        method = str(method).upper()
        if method in ("FE", "CE"):
            method = "EE"
        if method not in ("ML", "EE"):
            raise ValueError(f"method must be 'ML' or 'EE', got {method!r}")
        if test not in ("z", "t"):
            raise ValueError(f"test must be 'z' or 't', got {test!r}")
        nagq = int(nagq)
        if nagq < 1:
            raise ValueError("nagq must be a positive integer")
        if method == "ML" and self.k < self.k_params + 1:
            raise ValueError(f"too few studies: {self.k} for {self.k_params} coefficients and "
                             "tau^2 (method='EE' needs one fewer)")
        self._check_estimable()
        Xs, M = self._scaling()
        design = build_design(self.measure, self.model_type, self.counts, Xs, self.coding, self.cor)
        use = 31 if self.model_type == "CM.EL" and self.measure == "OR" else nagq
        with np.errstate(over="ignore", under="ignore", divide="ignore", invalid="ignore"):
            out = fit_glmm(design, Xs, method, use)
        if not (np.all(np.isfinite(out.beta)) and np.isfinite(out.llf)):
            raise DegenerateFitError(
                "the GLMM likelihood has no finite maximum for these counts (e.g. no events, "
                "or only events, in every study): the estimates run off to infinity")
        se = np.sqrt(np.abs(np.diag(M @ out.cov_beta @ M.T)))
        if not out.converged or not np.all(np.isfinite(se)) or np.any(se > 100):
            warnings.warn("the maximum-likelihood fit did not converge (an estimate may be "
                          "infinite, e.g. a zero cell in every study); results are unreliable",
                          ConvergenceWarning, stacklevel=2)
        return MetaGLMMResultsWrapper(MetaGLMMResults(self, out, M, method, use, design,
                                                      use_t=test == "t"))

    def _check_estimable(self):
        """Counts for which every model's estimate is infinite."""
        c = self.counts
        if self.measure == "OR":
            cases = {"no events in group 1": c["a"], "no events in group 2": c["c"],
                     "only events in group 1": c["b"], "only events in group 2": c["d"]}
        elif self.measure == "IRR":
            cases = {"no events in group 1": c["x1"], "no events in group 2": c["x2"]}
        elif self.measure == "PLO":
            cases = {"no events": c["x"], "only events": c["n"] - c["x"]}
        else:
            cases = {"no events": c["x"]}
        for what, v in cases.items():
            if np.all(v == 0):
                raise DegenerateFitError(f"{what} in every study: the {self.measure} estimate "
                                         "is infinite (no finite maximum-likelihood estimate)")

    def loglike(self, params: ArrayLike) -> float:
        """Not available: the log-likelihood integrates over the random effects.

        Parameters
        ----------
        params : array_like
            Ignored.

        Raises
        ------
        NotImplementedError
            Always; use :meth:`fit` (the results' ``llf``).
        """
        raise NotImplementedError("MetaGLMM's log-likelihood integrates over random effects; "
                                  "use fit()")
