"""MixedModel: linear mixed models with G-side random effects and R-side structures."""
from __future__ import annotations

import dataclasses
import warnings

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
    """Linear mixed model ``y = X b + sum_t Z_t u_t + e``.

    Parameters
    ----------
    endog : array_like (n,)
    exog : array_like (n, p)
        Fixed-effects design.
    random : list of RandomPart, optional
        Random-effects terms (built by :meth:`from_formula`; for arrays use ``groups`` /
        ``exog_re``).
    groups : array_like, optional
        Grouping labels for a random-effects term with design ``exog_re`` (a random
        intercept when ``exog_re`` is None), as in statsmodels' MixedLM.
    exog_re : array_like, optional
        Random-effects design for ``groups`` (correlated, unstructured ``G``).
    repeated : array_like, optional
        Within-subject index of the residual structure (e.g. the visit).
    subject : array_like, optional
        Units whose residuals are correlated (required with ``repeated``).
    cov_struct : str
        R-side structure: any registered SAS name (``ID``, ``VC``, ``CS``, ``AR1``, ``UN``,
        ...; :func:`metamodels.core.structures.structure_names` lists them).
    cov_group : array_like, optional
        Separate R-side parameters per level (SAS ``GROUP=``).
    coords : array_like (n,) or (n, k), optional
        Coordinates of the rows for the spatial structures ``SP(EXP)``, ``SP(GAU)``,
        ``SP(POW)``, ``SP(SPH)`` (SAS ``TYPE=SP(EXP)(x y)``): the residual covariance of
        two rows of a subject is a function of the Euclidean distance between their
        coordinates (see :mod:`metamodels.core.structures.spatial`).  ``repeated`` is
        not used with them; without ``subject`` all rows form one subject (SAS
        ``SUBJECT=INTERCEPT``).
    local : bool
        Add a nugget (independent measurement error) to a spatial structure, SAS's
        ``LOCAL`` option: ``R = sigma^2 F(d) + sigma_1^2 I``.
    re_struct : str
        Structure of ``G`` for multi-column random terms (default "UN").
    weights : array_like (n,), optional
        Positive observation weights, as SAS's ``WEIGHT`` statement: the residual
        covariance of a subject becomes ``W^{-1/2} R W^{-1/2}`` (``W = diag(w)``) for every
        R-side structure; with independent residuals this is weighted least squares
        (``Var(e_i) = sigma^2 / w_i``).  Random effects are not weighted.  Weights must be
        finite and positive; SAS leaves observations with missing or non-positive weights
        out of the analysis, which :meth:`from_formula` does too (with a warning); here
        they raise an error.
    missing : {"none", "drop", "raise"}
    check_identified : bool
        Refuse models whose variance parameters the data cannot identify (a grouping
        factor with one level or one observation per level, more random effects than
        observations, n <= rank(X), ...) with a
        :class:`~metamodels.exceptions.NotIdentifiedError`, as lme4 does (see
        :mod:`metamodels.mixed.identifiability`).  ``False`` skips these checks, like
        lme4's ``lmerControl(check.nobs.vs.nRE = "ignore")``; the fit is then at the
        user's risk.
    accept_singular : bool
        Keep a rank-deficient fixed-effects design (mmrm's ``accept_singular``; SAS
        always does): a column in the span of the columns before it is *aliased*, the
        fit uses the others, and the aliased coefficients are reported as NaN ("not
        estimable"; their standard errors, t and p-values NaN too).  Tests of estimable
        contrasts work as usual; a non-estimable contrast raises.  ``False`` (default)
        refuses such designs with a SpecificationError.  See
        :mod:`metamodels.mixed.aliasing`.
    path : {"auto", "blocks", "zspace"}
        Engine path.  ``"blocks"``: ``V`` block diagonal over the independent units
        (connected components of all groupings).  ``"zspace"``: penalised least squares
        in the space of the random effects, lme4's algorithm
        (:mod:`metamodels.core.zspace`; independent residuals, unstructured ``G``, which
        it keeps positive semi-definite; Kenward-Roger is not offered there).
        ``"auto"`` (default) takes Z space when the random effects are crossed so that
        one unit holds many random-effect levels, blocks otherwise.

    Notes
    -----
    ``u_t ~ N(0, G_t)`` independently over the levels of term ``t``'s grouping factor and
    ``e ~ N(0, R)`` with ``R`` block diagonal over subjects (``W^{-1/2} R W^{-1/2}`` with
    weights); the marginal model is
    ``y ~ N(Xb, V)``, ``V = sum_t Z_t (I (x) G_t) Z_t' + R``, block diagonal over the
    independent units (connected components of all groupings).  Fitting is profiled
    (RE)ML on the shared engine (:mod:`metamodels.core`).
    """

    def __init__(self, endog, exog, random=None, groups=None, exog_re=None, repeated=None,
                 subject=None, cov_struct="ID", cov_group=None, re_struct="UN",
                 weights=None, missing="none", check_identified=True, accept_singular=False,
                 coords=None, local=False, path="auto", **kwargs):
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
    def from_formula(cls, formula, data, repeated=None, subject=None, cov_struct="ID",
                     cov_group=None, groups=None, re_formula=None, vc_formula=None,
                     re_struct="UN", subset=None, missing="drop", weights=None, coords=None,
                     **kwargs):
        """Build from an lme4-style formula, e.g.
        ``"fev1 ~ basefev1 + C(drug) + C(hour) + (1 | patient)"``.

        ``repeated``, ``subject`` and ``cov_group`` name columns of ``data``;
        ``subject="patient:drug"`` forms the interaction.  ``coords`` names the
        coordinate column(s) of a spatial structure (``cov_struct="SP(EXP)",
        coords=["x", "y"]``; ``local=True`` adds SAS's nugget).  ``groups``, ``re_formula``
        and ``vc_formula`` work as in statsmodels' ``smf.mixedlm``.  ``weights`` (a
        column name or an array aligned with ``data``) are SAS ``WEIGHT`` weights; rows
        whose weight is missing or not positive are left out, as SAS does.
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
    def aliased_names(self):
        """Names of the aliased (not estimable) fixed-effects columns."""
        return [n for n, a in zip(self.exog_names, self.aliased) if a]
    #: subjects of the data set read by :meth:`from_formula` (levels of ``subject``, else
    #: of the first random term's grouping, after ``subset``), counting those whose rows
    #: were all left out (missing response): SAS's "Subjects" and BIC count
    #: (``information_criteria(subjects="data")``); None for array input
    n_subjects_data = None
    written_terms = ()      # fixed-effects terms as written (orders type-1 tests)
    random_levels = None    # level labels of each random term (formula models)

    # -------------------------------------------------------------------- fit
    def fit(self, method="REML", start=None, maxiter=200, tol=1e-10, reml=None,
            g_constraint="sas", ddf="satterthwaite", cov_type="nonrobust"):
        """Fit by REML (default) or ML.

        Parameters
        ----------
        method : {"REML", "ML"}
        start, maxiter, tol : starting covariance parameters and optimiser controls.
            ``start="mivque0"`` starts from the MIVQUE(0) estimates, SAS's default
            (covariances linear in their parameters; :mod:`metamodels.mixed.mivque`).
        reml : bool, optional
            Former spelling (``reml=False`` is ``method="ML"``); deprecated, with a
            DeprecationWarning.
        g_constraint : {"sas", "psd"}
            ``"sas"`` (default, SAS PROC MIXED): variances are bounded at 0, covariances
            are free, and a ``G`` that is not positive definite is reported with a
            ``BoundaryWarning``.  ``"psd"`` (lme4): every ``G`` is kept positive
            semi-definite (variances >= 0, correlations in their closed range); the
            results report the same SAS-named parameters.  The Z-space path (crossed
            random effects, ``path=``) always keeps ``G`` positive semi-definite.
        ddf : str
            Denominator-df method of every test and interval of the results (t_test,
            f_test, wald_test, conf_int, pvalues, bse, summary, anova): satterthwaite
            (default, as lmerTest), kenward-roger (SAS), kenward-roger-linear,
            kenward-roger-expected (pbkrtest), residual, containment, between-within or
            hlm (HLM software's df of two-level models).
            Each of those methods also takes ``ddf=`` for one call.
        cov_type : str
            Covariance of the fixed effects in every test and interval:
            ``"nonrobust"`` (model-based ``(X'V^{-1}X)^{-1}``, default),
            ``"empirical"`` (SAS's ``EMPIRICAL`` sandwich by subject, CR0),
            ``"empirical-jackknife"`` and ``"empirical-bias-reduced"`` (mmrm's
            variants) or ``"CR2"`` (clubSandwich's bias-reduced form); the clusters are
            the model's independent units.  With an empirical covariance, ``ddf`` may be
            satterthwaite (Bell-McCaffrey df, as mmrm), between-within, containment or
            residual; Kenward-Roger raises (see :mod:`metamodels.inference.empirical`).

        Returns
        -------
        MixedResults
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

    def fit_bayes(self, **kwargs):
        """Bayesian fit by Gibbs sampling (see :func:`metamodels.bayes.gibbs.fit_bayes`:
        ``draws``, ``burn``, ``chains``, ``seed``, ``thin``, ``priors``)."""
        if self.weights is not None:
            raise NotImplementedError("fit_bayes does not support weights= yet; use fit()")
        if self.aliased.any():
            raise NotImplementedError("fit_bayes needs a full-rank design; drop the aliased "
                                      f"columns {self.aliased_names} or use fit()")
        from ..base.registry import get_fitter     # registered by metamodels.bayes
        return get_fitter("bayes")(self, **kwargs)

