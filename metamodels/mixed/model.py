"""MixedModel: linear mixed models with G-side random effects and R-side structures."""
from __future__ import annotations

import dataclasses
import warnings
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
import pandas as pd
from statsmodels.base.model import LikelihoodModel

from ..base.engine import EngineModelMixin
from ..base.formula import formula_rows, warn_dropped
from ..base.pickling import FormulaPickleMixin
from ..core.blockcov import BlockCovariance
from ..core.blocks import connected_blocks
from ..core.random import RandomPart, ResidualPart
from ..core.structures import get_structure
from ..exceptions import SpecificationError
from ..formula.checks import (inspect_design, numeric_matrix, numeric_vector, reject_infinite,
                              require_rows)
from ..formula.terms import build_random_design, split_formula, terms_from_mixedlm
from .aliasing import aliased_columns
from .identifiability import check_identified as check_identified_model
from .spatial import coordinate_columns, spatial_class, spatial_residual_part

if TYPE_CHECKING:
    from numpy.typing import ArrayLike

    from .results import MixedResults

__all__ = ["MixedModel"]


def _codes(values):
    """Integer codes and labels of a 1-D array or of the rows of a 2-D object array."""
    if isinstance(values, pd.DataFrame):
        values = pd.MultiIndex.from_frame(values.astype(str)) if values.shape[1] > 1 \
            else values.iloc[:, 0]
    codes, labels = pd.factorize(pd.Series(values) if not isinstance(values, pd.MultiIndex)
                                 else values, sort=True)
    return np.asarray(codes, dtype=np.int64), list(labels)


def _columns_of(spec):
    return [c for c in spec.split(":") if c]


_WEIGHT_COL = "__metamodels_weights__"


def _count_subjects(data, spec):
    """Distinct non-missing levels of the ``subject`` columns ``spec`` in ``data``."""
    if spec is None:
        return None
    cols = _columns_of(spec)
    if not all(c in data.columns for c in cols):
        return None
    return int(len(data[cols].dropna().drop_duplicates()))


def _check_weights(weights, n):
    """Validated observation weights as a float array (n,), or None."""
    if weights is None:
        return None
    try:
        w = np.asarray(weights, dtype=float)
    except (TypeError, ValueError) as exc:
        raise ValueError("weights must be numeric") from exc
    if w.ndim != 1 or w.shape[0] != n:
        raise ValueError(f"weights must be a 1-D array with one value per observation "
                         f"({n}), got shape {w.shape}")
    if not np.all(np.isfinite(w)):
        raise ValueError("weights contain missing or non-finite values; SAS leaves such "
                         "observations out: remove those rows (from_formula drops them)")
    if np.any(w <= 0):
        raise ValueError("weights must be positive; SAS leaves observations with "
                         "non-positive weights out: remove those rows (from_formula "
                         "drops them)")
    return w


def _weights_column(weights, data):
    """Weights of ``from_formula``: a column name of ``data`` or an array aligned with it."""
    if isinstance(weights, str):
        if weights not in data.columns:
            raise ValueError(f"weights column {weights!r} not found in data")
        return pd.to_numeric(data[weights], errors="coerce").to_numpy(dtype=float)
    w = np.asarray(weights, dtype=float).reshape(-1)
    if w.shape[0] != len(data):
        raise ValueError(f"weights must have one value per row of data ({len(data)}), "
                         f"got {w.shape[0]}")
    return w


class MixedModel(EngineModelMixin, FormulaPickleMixin, LikelihoodModel):
    r"""Linear mixed model ``y = X b + sum_t Z_t u_t + e`` (SAS PROC MIXED, lme4, nlme).

    Random effects on the G side (random intercepts and slopes, nested and crossed
    grouping factors) and a structured residual covariance on the R side (SAS's
    ``REPEATED`` statement: ``CS``, ``AR1``, ``UN``, ``TOEP``, spatial ``SP(EXP)``, ...),
    with observation weights, fitted by REML or ML on the shared engine
    (:mod:`metamodels.core`).  Most users build the model with :meth:`from_formula`
    (lme4-style random terms such as ``(Days | Subject)``); the array interface below
    follows statsmodels' ``MixedLM`` (``groups`` / ``exog_re``).  Constructing the model
    validates the data and checks that the variance parameters are identified;
    :meth:`fit` returns :class:`~metamodels.mixed.results.MixedResults`.

    Parameters
    ----------
    endog : array_like
        Response, shape ``(n,)``.  Must be numeric and finite (missing values raise; use
        :meth:`from_formula` with ``missing="drop"``).
    exog : array_like
        Fixed-effects design ``X``, shape ``(n, p)`` (include a column of ones for an
        intercept).
    random : list of RandomPart, optional
        Random-effects terms (:class:`metamodels.core.random.RandomPart`); built by
        :meth:`from_formula`.  For arrays use ``groups`` / ``exog_re``.
    groups : array_like, optional
        Grouping labels ``(n,)`` of one random-effects term with design ``exog_re`` (a
        random intercept when ``exog_re`` is None), as in statsmodels' ``MixedLM``.
    exog_re : array_like, optional
        Random-effects design ``(n, q)`` for ``groups``; with ``q > 1`` its covariance is
        ``re_struct`` (unstructured by default).
    repeated : array_like, optional
        Within-subject index of the residual structure (e.g. the visit), SAS's
        ``REPEATED visit``.  Without it the rows of a subject are taken in their order.
        Each subject may have one row per level.
    subject : array_like, optional
        Units whose residuals are correlated (SAS ``SUBJECT=``); required with
        ``repeated`` and with every ``cov_struct`` other than ``"ID"`` / ``"VC"``
        (spatial structures excepted).  A DataFrame of several columns forms their
        interaction.
    cov_struct : str, default "ID"
        R-side structure, by its SAS name (case-insensitive): ``ID``, ``VC``/``DIAG``,
        ``CS``, ``CSH``, ``AR1``, ``ARH1``, ``ANTE1``, ``TOEP``, ``TOEPH``, ``UN``,
        ``UNR``, or a spatial ``SP(EXP)``, ``SP(GAU)``, ``SP(POW)``, ``SP(SPH)``
        (:func:`metamodels.core.structures.structure_names` lists them).
    cov_group : array_like, optional
        Separate R-side parameters per level (SAS ``GROUP=``).
    re_struct : str, default "UN"
        Structure of ``G`` for multi-column random terms (``"UN"``, ``"VC"``, ...); single
        columns always get one variance.
    weights : array_like, optional
        Positive observation weights ``(n,)``, as SAS's ``WEIGHT`` statement: the residual
        covariance of a subject becomes ``W^{-1/2} R W^{-1/2}`` (``W = diag(w)``) for every
        R-side structure; with independent residuals this is weighted least squares
        (``Var(e_i) = sigma^2 / w_i``).  Random effects are not weighted.  Weights must be
        finite and positive; SAS leaves observations with missing or non-positive weights
        out of the analysis, which :meth:`from_formula` does too (with a warning); here
        they raise an error.
    missing : str, default "none"
        Accepted for compatibility with statsmodels' signature; the array interface does
        not drop rows whatever its value (missing values raise ``ValueError``).  Use
        :meth:`from_formula` with ``missing="drop"`` to drop incomplete rows.
    check_identified : bool, default True
        Refuse models whose variance parameters the data cannot identify (a grouping
        factor with one level or one observation per level, n <= rank(X), a random
        intercept absorbed by a CS/UN residual structure, ...) with a
        :class:`~metamodels.exceptions.NotIdentifiedError`, as lme4 does (see
        :mod:`metamodels.mixed.identifiability`).  ``False`` skips these checks, like
        lme4's ``lmerControl(check.nobs.vs.nRE = "ignore")``; the fit is then at the
        user's risk.
    accept_singular : bool, default False
        Keep a rank-deficient fixed-effects design (mmrm's ``accept_singular``; SAS
        always does): a column in the span of the columns before it is *aliased*, the
        fit uses the others, and the aliased coefficients are reported as NaN ("not
        estimable"; their standard errors, t and p-values NaN too).  Tests of estimable
        contrasts work as usual; a non-estimable contrast raises.  ``False`` refuses
        such designs with a :class:`~metamodels.exceptions.SpecificationError`.  See
        :mod:`metamodels.mixed.aliasing`.
    coords : array_like, optional
        Coordinates ``(n,)`` or ``(n, k)`` of the rows for the spatial structures
        ``SP(EXP)``, ``SP(GAU)``, ``SP(POW)``, ``SP(SPH)`` (SAS ``TYPE=SP(EXP)(x y)``):
        the residual covariance of two rows of a subject is a function of the Euclidean
        distance between their coordinates (see
        :mod:`metamodels.core.structures.spatial`).  ``repeated`` is not used with them;
        without ``subject`` all rows form one subject (SAS ``SUBJECT=INTERCEPT``).
    local : bool, default False
        Add a nugget (independent measurement error) to a spatial structure, SAS's
        ``LOCAL`` option: ``R = sigma^2 F(d) + sigma_1^2 I``.
    path : {"auto", "blocks", "zspace"}, default "auto"
        Engine path.  ``"blocks"``: ``V`` block diagonal over the independent units
        (connected components of all groupings).  ``"zspace"``: penalised least squares
        in the space of the random effects, lme4's algorithm
        (:mod:`metamodels.core.zspace`; independent residuals, unstructured ``G``, which
        it keeps positive semi-definite; Kenward-Roger is not offered there).
        ``"auto"`` takes Z space when the random effects are crossed so that one unit
        holds many random-effect levels, blocks otherwise.
    **kwargs
        Passed to statsmodels' :class:`~statsmodels.base.model.LikelihoodModel` (e.g.
        ``hasconst``).

    Raises
    ------
    ValueError
        Non-numeric, infinite or missing values in ``endog``/``exog``, invalid weights,
        ``repeated`` without ``subject``, duplicate ``repeated`` levels within a subject,
        or an unknown ``path``.
    SpecificationError
        A rank-deficient ``exog`` without ``accept_singular=True``.
    NotIdentifiedError
        Variance parameters the data cannot identify (``check_identified=True``).

    See Also
    --------
    MixedModel.from_formula : Build the model from an lme4-style formula.
    MixedModel.fit : REML / ML estimation.
    metamodels.mixed.results.MixedResults : The fitted model.
    metamodels.MetaMixed : The same engine with a known sampling covariance.

    Notes
    -----
    The model is

    .. math::

        y = X b + \sum_t Z_t u_t + e, \qquad u_t \sim N(0, I \otimes G_t(\theta)),
        \qquad e \sim N(0, R(\theta)),

    with the random effects ``u_t`` independent over the levels of term ``t``'s grouping
    factor and ``R`` block diagonal over subjects (``W^{-1/2} R W^{-1/2}`` with weights).
    Marginally

    .. math::

        y \sim N(X b, V(\theta)), \qquad
        V(\theta) = \sum_t Z_t (I \otimes G_t) Z_t' + R,

    block diagonal over the independent units (connected components of all groupings).
    Fitting maximises the (restricted) log-likelihood profiled over ``b``
    (:class:`~metamodels.base.engine.EngineModelMixin`).  In SAS terms, the random terms
    are the ``RANDOM`` statement (``TYPE=`` is ``re_struct``), ``repeated``/``subject``/
    ``cov_struct``/``cov_group`` the ``REPEATED`` statement; in lme4 terms the formula's
    ``(x | g)`` terms; nlme's ``correlation=``/``weights=`` map to the R side.

    References
    ----------
    .. [1] Bates D, Maechler M, Bolker B, Walker S (2015). Fitting linear mixed-effects
       models using lme4. Journal of Statistical Software 67(1), 1-48.
    .. [2] Laird NM, Ware JH (1982). Random-effects models for longitudinal data.
       Biometrics 38, 963-974.
    .. [3] Littell RC, Milliken GA, Stroup WW, Wolfinger RD, Schabenberger O (2006). SAS
       for Mixed Models, 2nd ed. SAS Institute.

    Examples
    --------
    Random intercepts and slopes of ``Days`` per subject (lme4's
    ``lmer(Reaction ~ Days + (Days | Subject), sleepstudy)``):

    >>> import metamodels as mm
    >>> sleep = mm.datasets.load("sleepstudy")
    >>> model = mm.MixedModel.from_formula("Reaction ~ Days + (Days | Subject)", sleep)
    >>> res = model.fit()
    >>> print(res.params.round(2))
    Intercept    251.41
    Days          10.47
    dtype: float64

    The same random intercept model with arrays, as statsmodels' ``MixedLM``:

    >>> import numpy as np
    >>> X = np.column_stack([np.ones(len(sleep)), sleep["Days"]])
    >>> res = mm.MixedModel(sleep["Reaction"], X, groups=sleep["Subject"]).fit()
    >>> print(np.round(res.theta.to_numpy(), 1))
    [1378.2  960.5]
    """

    def __init__(self, endog: ArrayLike, exog: ArrayLike,
                 random: Sequence[RandomPart] | None = None, groups: ArrayLike | None = None,
                 exog_re: ArrayLike | None = None, repeated: ArrayLike | None = None,
                 subject: ArrayLike | None = None, cov_struct: str = "ID",
                 cov_group: ArrayLike | None = None, re_struct: str = "UN",
                 weights: ArrayLike | None = None, missing: str = "none",
                 check_identified: bool = True, accept_singular: bool = False,
                 coords: ArrayLike | None = None, local: bool = False,
                 path: Literal["auto", "blocks", "zspace"] = "auto",
                 **kwargs: Any) -> None:
        endog_a = numeric_vector(endog, "endog")
        n = endog_a.shape[0]
        require_rows(n, "endog")
        numeric_matrix(exog, "exog")
        weights = _check_weights(weights, n)
        random = list(random or [])
        if groups is not None:
            random.append(self._array_term(groups, exog_re, n, re_struct))
        self._repeated_in = repeated
        self._subject_in = subject
        self._cov_group_in = cov_group
        super().__init__(endog, exog, missing="none", **kwargs)
        self.cov_struct = str(cov_struct).upper()
        self.random = random
        self.coords = None if coords is None else np.asarray(coords, dtype=float)
        self.local = bool(local)
        self.residual = self._residual_part(n, repeated, subject, cov_struct, cov_group,
                                            coords, local)
        # labels of the repeated levels, in the order of the structure's rows/columns
        self.visit_labels = None if repeated is None or self.coords is not None else \
            _codes(repeated if isinstance(repeated, pd.DataFrame) else np.asarray(repeated))[1]
        for key, given in (("coords", coords is not None), ("local", bool(local))):
            if given and key not in self._init_keys:
                self._init_keys.append(key)
        if weights is not None:
            self.residual = dataclasses.replace(self.residual, weights=weights)
        self.weights = weights
        if weights is not None and "weights" not in self._init_keys:
            self._init_keys.append("weights")
        codes = [p.groups for p in random] + [self.residual.subject]
        self.block_ids = connected_blocks(codes)
        self.n_blocks = int(self.block_ids.max()) + 1 if n else 0
        design = self._validate(accept_singular)
        self.rank = design.rank
        self.aliased = (aliased_columns(self.exog, design.rank)
                        if design.rank < self.exog.shape[1]
                        else np.zeros(self.exog.shape[1], dtype=bool))
        self.accept_singular = bool(accept_singular)
        if accept_singular and "accept_singular" not in self._init_keys:
            self._init_keys.append("accept_singular")
        self.exog_fit_scales = design.scales     # None unless column scales are disparate
        self.nobs = float(n)
        self.k_fe = self.exog.shape[1]
        self.df_resid = float(n - self.rank)
        self.df_model = float(self.rank - self.k_constant)
        self.spec = BlockCovariance(random=random, residual=self.residual,
                                    block_ids=self.block_ids)
        if path not in ("auto", "blocks", "zspace"):
            raise ValueError(f"path must be 'auto', 'blocks' or 'zspace', got {path!r}")
        self.spec.path = path
        self.path = path
        if path != "auto" and "path" not in self._init_keys:
            self._init_keys.append("path")
        if check_identified:
            check_identified_model(self)

    # -------------------------------------------------------------- builders
    @staticmethod
    def _array_term(groups, exog_re, n, re_struct):
        g, _ = _codes(np.asarray(groups))
        if exog_re is None:
            Z = np.ones((n, 1))
            cols = ("(Intercept)",)
        else:
            Z = np.asarray(exog_re, dtype=float).reshape(n, -1)
            cols = tuple(getattr(exog_re, "columns", [f"z{i}" for i in range(Z.shape[1])]))
        name = "Group" if not hasattr(groups, "name") or groups.name is None else str(groups.name)
        struct = get_structure(re_struct if Z.shape[1] > 1 else "ID", Z.shape[1])
        return RandomPart(name, Z, g, struct, tuple(cols))

    @staticmethod
    def _residual_part(n, repeated, subject, cov_struct, cov_group, coords=None,
                       local=False):
        struct_name = str(cov_struct).upper()
        if spatial_class(cov_struct) is not None or coords is not None or local:
            return spatial_residual_part(n, subject, cov_struct, cov_group, coords, local,
                                         repeated, _codes)
        if subject is None:
            if repeated is not None:
                raise ValueError("repeated= needs subject= (the units whose residuals are "
                                 "correlated)")
            if struct_name not in ("ID", "VC"):
                raise ValueError(f"cov_struct={cov_struct!r} needs subject= (and usually "
                                 "repeated=)")
            subj = np.arange(n)
            visit = np.zeros(n, dtype=np.int64)
            dim = 1
        else:
            subj, _ = _codes(subject)
            if repeated is None:          # order of the rows within each subject
                visit = pd.Series(subj).groupby(subj).cumcount().to_numpy()
            else:
                visit, _ = _codes(np.asarray(repeated))
            dim = int(visit.max()) + 1
            dup = pd.Series(visit).groupby(subj).apply(lambda s: s.duplicated().any())
            if dup.any():
                raise ValueError("repeated= has duplicate values within a subject; each "
                                 "subject may have one row per repeated level")
        if cov_group is None:
            cg = np.zeros(n, dtype=np.int64)
            labels = ("",)
        else:
            cg, labels = _codes(np.asarray(cov_group))
            labels = tuple(str(x) for x in labels)
        struct = get_structure("ID" if struct_name == "VC" and subject is None else struct_name,
                               dim)
        return ResidualPart(struct, visit.astype(np.int64), subj, cg, int(cg.max()) + 1, labels)

    def _validate(self, accept_singular=False):
        """Check endog/exog; return :func:`inspect_design` of exog (rank, fit scales)."""
        y, X = self.endog, self.exog
        if not (np.isfinite(y).all() and np.isfinite(X).all()):
            index = getattr(self.data, "row_labels", None)
            reject_infinite(y, "endog", index, "outcome values")
            reject_infinite(X, "exog", index, "predictor values")
            bad = ~np.isfinite(y) | ~np.isfinite(X).all(axis=1)
            rows = np.flatnonzero(bad)[:10] if index is None else index[bad][:10]
            raise ValueError(f"endog or exog have missing values in row(s) {list(rows)}; use "
                             "missing='drop' (formulas) or remove those rows")
        design = inspect_design(X, lambda: self.exog_names, stacklevel=4)
        if design.rank < X.shape[1] and not accept_singular:
            raise SpecificationError("singular design: the fixed-effects columns are collinear "
                                     f"(rank {design.rank} < {X.shape[1]}); "
                                     "accept_singular=True keeps them, the aliased columns "
                                     "reported as not estimable (SAS, mmrm)")
        for p in self.random:
            if not np.all(np.isfinite(p.Z)):
                raise ValueError(f"random-effects design of {p.name} has non-finite values")
        return design

    # ---------------------------------------------------------------- formula
    @classmethod
    def from_formula(cls, formula: str, data: pd.DataFrame, repeated: str | None = None,
                     subject: str | None = None, cov_struct: str = "ID",
                     cov_group: str | None = None, groups: str | None = None,
                     re_formula: str | None = None, vc_formula: dict[str, str] | None = None,
                     re_struct: str = "UN", subset: Any = None,
                     missing: Literal["drop", "raise"] = "drop",
                     weights: str | ArrayLike | None = None,
                     coords: str | Sequence[str] | None = None,
                     **kwargs: Any) -> MixedModel:
        """Build a mixed model from an lme4-style formula and a data frame.

        The fixed effects are a patsy formula; random terms are written in lme4's
        notation inside the formula: ``(1 | g)`` a random intercept, ``(1 + x | g)``
        correlated intercept and slope, ``(1 + x || g)`` independent ones, ``(1 | a/b)``
        nested and ``(1 | a) + (1 | b)`` crossed factors (see
        :mod:`metamodels.formula.terms`).  The R side (SAS's ``REPEATED`` statement) is
        given by ``repeated``, ``subject``, ``cov_struct`` and ``cov_group``, which name
        columns of ``data``.

        Parameters
        ----------
        formula : str
            ``"response ~ fixed effects + (random | group) ..."``, e.g.
            ``"fev1 ~ basefev1 + C(drug) + C(hour) + (1 | patient)"``.
        data : pandas.DataFrame
            Long format, one row per observation.
        repeated : str, optional
            Column of the within-subject index of the residual structure (SAS
            ``REPEATED hour``).  Without it the rows of a subject are taken in their order.
        subject : str, optional
            Column(s) of the units whose residuals are correlated (SAS ``SUBJECT=``);
            ``"patient:drug"`` forms the interaction of two columns.
        cov_struct : str, default "ID"
            R-side structure (SAS ``TYPE=``): ``ID``, ``VC``/``DIAG``, ``CS``, ``CSH``,
            ``AR1``, ``ARH1``, ``ANTE1``, ``TOEP``, ``TOEPH``, ``UN``, ``UNR`` or a spatial
            ``SP(EXP)``, ``SP(GAU)``, ``SP(POW)``, ``SP(SPH)``; see :class:`MixedModel`.
        cov_group : str, optional
            Column whose levels get separate R-side parameters (SAS ``GROUP=``).
        groups : str, optional
            statsmodels ``smf.mixedlm`` keyword: the grouping column of the random
            effects ``re_formula`` (a random intercept by default).
        re_formula : str, optional
            statsmodels keyword: random effects within ``groups`` with a correlated
            (``re_struct``) covariance, e.g. ``"1 + Days"``.
        vc_formula : dict of str to str, optional
            statsmodels keyword: variance components nested in ``groups``, e.g.
            ``{"drug": "0 + C(drug)"}`` (``(1 | groups:drug)``).
        re_struct : str, default "UN"
            Structure of ``G`` of the multi-column random terms (SAS ``RANDOM ...
            / TYPE=``).
        subset : array_like, optional
            Row selection applied with ``data.loc[subset]`` (labels or a boolean mask)
            before anything else.
        missing : {"drop", "raise"}, default "drop"
            Rows with a missing value in the formula's variables or in the grouping,
            subject, repeated, group or coordinate columns are dropped (with a
            :class:`~metamodels.exceptions.MissingDataWarning`) or raise ``ValueError``.
        weights : str or array_like, optional
            SAS ``WEIGHT`` weights: a column name or an array aligned with ``data``
            (see :class:`MixedModel`).  Rows whose weight is missing or not positive are
            left out with a warning, as SAS does (``missing="raise"`` raises instead).
        coords : str or sequence of str, optional
            Coordinate column(s) of a spatial structure (``cov_struct="SP(EXP)",
            coords=["x", "y"]``); ``local=True`` (a keyword of :class:`MixedModel`) adds
            SAS's nugget.
        **kwargs
            Further keywords of :class:`MixedModel`: ``check_identified``,
            ``accept_singular``, ``local``, ``path``.

        Returns
        -------
        MixedModel
            The model; ``model.formula``, ``model.design_info`` and
            ``model.data.frame`` (the rows used) are set, so that results can predict on
            new data frames.

        Raises
        ------
        ValueError
            Columns not found in ``data``, missing values with ``missing="raise"``, or
            invalid weights.
        SpecificationError
            A rank-deficient design (without ``accept_singular=True``).
        NotIdentifiedError
            Variance parameters the data cannot identify.

        See Also
        --------
        MixedModel.fit : Estimate the model.

        Notes
        -----
        The SAS statements ``MODEL y = x / DDFM=KR; RANDOM int / SUBJECT=s;
        REPEATED v / SUBJECT=s TYPE=AR(1);`` become
        ``from_formula("y ~ x + (1 | s)", d, repeated="v", subject="s",
        cov_struct="AR1").fit(ddf="kenward-roger")``.

        Examples
        --------
        >>> import metamodels as mm
        >>> orth = mm.datasets.load("orthodont")
        >>> model = mm.MixedModel.from_formula("distance ~ age * Sex", orth, repeated="age",
        ...                                    subject="Subject", cov_struct="UN")
        >>> res = model.fit()
        >>> print(res.cov_resid.shape)
        (4, 4)

        statsmodels' keywords work too:

        >>> sleep = mm.datasets.load("sleepstudy")
        >>> m2 = mm.MixedModel.from_formula("Reaction ~ Days", sleep, groups="Subject",
        ...                                 re_formula="1 + Days")
        >>> print(round(m2.fit().params["Days"], 3))
        10.467
        """
        data = pd.DataFrame(data)
        if weights is not None:            # attached first, so that subset= applies to it
            data = data.assign(**{_WEIGHT_COL: _weights_column(weights, data)})
        if subset is not None:
            data = data.loc[subset]
        if weights is not None:
            w_all = data[_WEIGHT_COL].to_numpy()
            keep = np.isfinite(w_all) & (w_all > 0)
            if not keep.all():
                if missing == "raise":
                    raise ValueError("weights are missing or not positive in "
                                     f"{int((~keep).sum())} row(s)")
                warn_dropped(int((~keep).sum()), "missing or non-positive weights (as "
                             "SAS's WEIGHT statement does)")
                data = data.loc[keep]
        fixed, terms = split_formula(formula)
        if groups is not None:
            terms = list(terms) + list(terms_from_mixedlm(groups, re_formula, vc_formula))
        n_subj = _count_subjects(data, subject if subject is not None else
                                 (terms[0].group if terms else None))
        cols = set()
        for t in terms:
            cols.update(_columns_of(t.group))
        for spec in (repeated, subject, cov_group):
            if spec is not None:
                cols.update(_columns_of(spec))
        coord_cols = coordinate_columns(coords)
        cols.update(coord_cols or ())
        missing_cols = [c for c in cols if c not in data.columns]
        if missing_cols:
            raise ValueError(f"columns not found in data: {missing_cols}")
        bad = data[sorted(cols)].isna().any(axis=1).to_numpy() if cols else None
        rows = formula_rows(fixed, data, missing, bad, eval_env=1,
                            what="the grouping/subject/repeated columns")
        design, data_kept = rows.design, rows.data
        designs = build_random_design(terms, data_kept)
        random = []
        for d in designs:
            q = d.Z.shape[1]
            struct = get_structure(re_struct if q > 1 else "ID", q)
            random.append(RandomPart(d.spec.label, np.asarray(d.Z, dtype=float),
                                     np.asarray(d.groups), struct, tuple(d.column_names)))

        def col(spec):
            if spec is None:
                return None
            c = _columns_of(spec)
            return data_kept[c] if len(c) > 1 else data_kept[c[0]].to_numpy()

        w_kept = None if weights is None else data_kept[_WEIGHT_COL].to_numpy()
        xy = None if coord_cols is None else \
            data_kept[coord_cols].apply(pd.to_numeric, errors="coerce").to_numpy(dtype=float)
        mod = cls(design.endog, design.exog, random=random, repeated=col(repeated),
                  subject=col(subject), cov_struct=cov_struct, cov_group=col(cov_group),
                  re_struct=re_struct, weights=w_kept, coords=xy, **kwargs)
        mod.formula = formula
        mod.residual_columns = {"subject": subject, "repeated": repeated,
                                "cov_group": cov_group, "coords": coord_cols,
                                "weights": weights if isinstance(weights, str) else None}
        mod.n_subjects_data = n_subj
        mod.design_info = design.design_info
        mod.written_terms = design.written_terms
        mod.random_levels = tuple(tuple(d.levels) for d in designs)
        mod.data.frame = data_kept if weights is None else data_kept.drop(columns=_WEIGHT_COL)
        return mod

    design_info = None
    formula = None
    residual_columns = None     # from_formula's subject/repeated/cov_group/coords columns
    aliased = None          # bool mask of aliased (not estimable) columns

    @property
    def aliased_names(self) -> list[str]:
        """Names of the aliased (not estimable) fixed-effects columns (empty unless
        ``accept_singular=True`` kept a rank-deficient design)."""
        return [n for n, a in zip(self.exog_names, self.aliased) if a]
    #: subjects of the data set read by :meth:`from_formula` (levels of ``subject``, else
    #: of the first random term's grouping, after ``subset``), counting those whose rows
    #: were all left out (missing response): SAS's "Subjects" and BIC count
    #: (``information_criteria(subjects="data")``); None for array input
    n_subjects_data = None
    written_terms = ()      # fixed-effects terms as written (orders type-1 tests)
    random_levels = None    # level labels of each random term (formula models)

    # -------------------------------------------------------------------- fit
    def fit(self, method: Literal["REML", "ML"] = "REML",
            start: ArrayLike | Literal["mivque0"] | None = None, maxiter: int = 200,
            tol: float = 1e-10, reml: bool | None = None,
            g_constraint: Literal["sas", "psd"] = "sas", ddf: str = "satterthwaite",
            cov_type: str = "nonrobust") -> MixedResults:
        r"""Estimate the covariance parameters by REML (default) or ML, and the fixed
        effects by GLS.

        The (restricted) log-likelihood profiled over the fixed effects is maximised
        over the covariance parameters ``theta`` by projected Newton / Fisher scoring
        with step halving on the analytic gradient and information
        (:mod:`metamodels.core.optimize`), inside the bounds of each structure
        (variances >= 0, correlations in range).  A solution on a bound is searched
        again from inside and, for data sets of up to 2000 rows, over the faces of the
        parameter box, so that a boundary maximum is not missed.  Crossed random effects
        on the Z-space path use lme4's profiled deviance instead
        (:mod:`metamodels.core.zspace`).  The model is not changed; every call returns
        new results.

        Parameters
        ----------
        method : {"REML", "ML"}, default "REML"
            Restricted (residual) or full maximum likelihood (case-insensitive; SAS
            ``METHOD=REML|ML``, lme4 ``REML=TRUE|FALSE``).
        start : array_like or "mivque0", optional
            Starting covariance parameters, in the order of ``model.spec.param_names``
            (the labels of ``res.theta``).  ``None`` (default) starts from the OLS
            residual variance spread over the components; ``"mivque0"`` starts from the
            MIVQUE(0) estimates, SAS's default (covariances linear in their parameters;
            :func:`metamodels.mixed.mivque0`).  SAS ``PARMS``.
        maxiter : int, default 200
            Largest number of iterations of the search.
        tol : float, default 1e-10
            Convergence when every step is below ``tol * (|theta_j| + se_j)``, with
            ``se_j`` the standard error implied by the information (scale free).  A
            search that does not converge gives a
            :class:`~metamodels.exceptions.ConvergenceWarning` and
            ``res.converged = False``.
        reml : bool, optional
            Former spelling (``reml=False`` is ``method="ML"``); deprecated, with a
            DeprecationWarning.  ``fit(False)`` (the old positional ``reml``) is
            understood too.
        g_constraint : {"sas", "psd"}, default "sas"
            ``"sas"`` (SAS PROC MIXED): variances are bounded at 0, covariances are free,
            and a ``G`` that is not positive definite is reported with a
            :class:`~metamodels.exceptions.BoundaryWarning`.  ``"psd"`` (lme4): every
            ``G`` is kept positive semi-definite (variances >= 0, correlations in their
            closed range); the results report the same SAS-named parameters.  The
            Z-space path (crossed random effects, ``path=``) always keeps ``G`` positive
            semi-definite.
        ddf : str, default "satterthwaite"
            Denominator-df method of every test and interval of the results (``t_test``,
            ``f_test``, ``wald_test``, ``conf_int``, ``pvalues``, ``bse``, ``summary``,
            ``anova``): ``"satterthwaite"`` (lmerTest; SAS ``DDFM=SATTERTHWAITE``),
            ``"kenward-roger"`` (SAS ``DDFM=KR``), ``"kenward-roger-linear"`` (mmrm),
            ``"kenward-roger-expected"`` (pbkrtest), ``"residual"`` (SAS
            ``DDFM=RESIDUAL``), ``"containment"`` (SAS's default ``DDFM=CONTAIN``),
            ``"between-within"`` (SAS ``DDFM=BW``) or ``"hlm"`` (HLM software's df of
            two-level models).  SAS abbreviations (``"kr"``, ``"sat"``, ``"contain"``)
            are accepted.  Each of those results methods also takes ``ddf=`` for one
            call.
        cov_type : str, default "nonrobust"
            Covariance of the fixed effects in every test and interval:
            ``"nonrobust"`` (model-based ``(X'V^{-1}X)^{-1}``),
            ``"empirical"`` (SAS's ``EMPIRICAL`` sandwich by subject, CR0),
            ``"empirical-jackknife"`` and ``"empirical-bias-reduced"`` (mmrm's
            variants) or ``"CR2"`` (clubSandwich's bias-reduced form); the clusters are
            the model's independent units.  With an empirical covariance, ``ddf`` may be
            satterthwaite (Bell-McCaffrey df, as mmrm), between-within, containment or
            residual; Kenward-Roger raises (see :mod:`metamodels.inference.empirical`).

        Returns
        -------
        MixedResults
            Fixed effects in ``params``, covariance parameters in ``theta``, tests with
            the ``ddf`` method (:class:`~metamodels.mixed.results.MixedResults`).

        Raises
        ------
        ValueError
            An unknown ``method``, ``ddf``, ``cov_type`` or ``g_constraint``, a ``start``
            of the wrong length, or Kenward-Roger with an empirical covariance.
        SpecificationError
            ``start="mivque0"`` with a covariance that is not linear in its parameters.

        Warns
        -----
        BoundaryWarning
            A variance estimated at 0, or an estimated ``G`` that is not positive
            definite.
        ConvergenceWarning
            The search stopped before meeting ``tol``.
        DegenerateFitWarning
            The residual variance collapsed (the outcome is fitted exactly).

        See Also
        --------
        MixedModel.fit_bayes : Bayesian fit by Gibbs sampling.
        metamodels.mixed.results.MixedResults.summary : The fitted model's tables.

        Notes
        -----
        With ``r = y - X b(theta)`` and ``b(theta)`` the GLS estimate, the maximised
        criteria are

        .. math::

            \ell_{ML}(\theta) = -\tfrac12\big[n \log 2\pi + \log|V(\theta)|
                + r' V(\theta)^{-1} r\big], \qquad
            \ell_{REML}(\theta) = \ell_{ML}(\theta) + \tfrac{p}{2}\log 2\pi
                - \tfrac12 \log|X' V(\theta)^{-1} X|,

        and ``b = (X'V^{-1}X)^{-1} X'V^{-1} y`` at the estimate; ``-2 llf`` is SAS's
        "-2 Res Log Likelihood".  Satterthwaite df follow Satterthwaite (1946) as
        implemented by lmerTest (Kuznetsova et al. 2017); Kenward-Roger df and the
        adjusted covariance follow Kenward and Roger (1997).

        References
        ----------
        .. [1] Bates D, Maechler M, Bolker B, Walker S (2015). Fitting linear
           mixed-effects models using lme4. Journal of Statistical Software 67(1), 1-48.
        .. [2] Kenward MG, Roger JH (1997). Small sample inference for fixed effects from
           restricted maximum likelihood. Biometrics 53, 983-997.
        .. [3] Satterthwaite FE (1946). An approximate distribution of estimates of
           variance components. Biometrics Bulletin 2, 110-114.
        .. [4] Kuznetsova A, Brockhoff PB, Christensen RHB (2017). lmerTest package:
           tests in linear mixed effects models. Journal of Statistical Software 82(13),
           1-26.

        Examples
        --------
        >>> import metamodels as mm
        >>> sleep = mm.datasets.load("sleepstudy")
        >>> model = mm.MixedModel.from_formula("Reaction ~ Days + (Days | Subject)", sleep)
        >>> res = model.fit(ddf="kenward-roger")
        >>> print(res.df_fixed().round(1))
        Intercept    17.0
        Days         17.0
        dtype: float64
        >>> ml = model.fit(method="ML")
        >>> print(round(-2 * ml.llf, 2))
        1751.94
        """
        from ..base.model import _check_method
        from .fitting import fit_mixed
        if isinstance(method, (bool, np.bool_)):          # fit(False): the old positional reml
            method, reml = "REML", bool(method)
        if reml is not None:
            warnings.warn("reml= is deprecated; use method='REML' or method='ML' (the "
                          "vocabulary of every metamodels fit)", DeprecationWarning,
                          stacklevel=2)
            method = "REML" if reml else "ML"
        method = _check_method(method, ("REML", "ML"), "method")
        return fit_mixed(self, reml=method == "REML", start=start, maxiter=maxiter, tol=tol,
                         g_constraint=g_constraint, ddf=ddf, cov_type=cov_type)

    def fit_bayes(self, **kwargs: Any) -> Any:
        """Bayesian fit by Gibbs sampling (SAS PROC BGLIMM's model, conjugate priors).

        Runs :func:`metamodels.bayes.gibbs.fit_bayes` on this model (registered when
        :mod:`metamodels.bayes` is imported, which ``import metamodels`` does).

        Parameters
        ----------
        **kwargs
            Keywords of :func:`metamodels.bayes.gibbs.fit_bayes`: ``draws``, ``burn``,
            ``chains``, ``seed``, ``thin``, ``priors``.

        Returns
        -------
        BayesMixedResults
            Posterior draws and summaries
            (:class:`metamodels.bayes.gibbs.results.BayesMixedResults`).

        Raises
        ------
        NotImplementedError
            A weighted model (``weights=``) or a rank-deficient design
            (``accept_singular=True`` with aliased columns).
        RuntimeError
            No Bayesian fitter is registered (:mod:`metamodels.bayes` not imported).
        """
        if self.weights is not None:
            raise NotImplementedError("fit_bayes does not support weights= yet; use fit()")
        if self.aliased.any():
            raise NotImplementedError("fit_bayes needs a full-rank design; drop the aliased "
                                      f"columns {self.aliased_names} or use fit()")
        from ..base.registry import get_fitter     # registered by metamodels.bayes
        return get_fitter("bayes")(self, **kwargs)

