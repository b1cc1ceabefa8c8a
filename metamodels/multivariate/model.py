"""MetaMixed: multilevel and multivariate meta-analysis (metafor's rma.mv)."""
from __future__ import annotations

import warnings
from dataclasses import replace

import numpy as np
import pandas as pd
from statsmodels.base.model import LikelihoodModel

from ..base.engine import EngineModelMixin, engine_fit
from ..base.formula import formula_rows
from ..base.pickling import FormulaPickleMixin
from ..base.model import _check_method, resolve_column
from ..core.blockcov import BlockCovariance
from ..core.known import KnownCovariance
from ..core.likelihood import evaluate
from ..core.optimize import FitOutcome, maximize
from ..core.random import RandomPart
from ..core.structures import STRUCTURES, get_structure, psd_structure
from ..exceptions import IdentificationWarning, SpecificationError
from ..formula.checks import design_rank, reject_infinite
from ..formula.terms import build_random_design, split_formula
from .options import car_part, fix_components, fixed_parameter_values


__all__ = ["MetaMixed", "RE_STRUCTURES"]

def _metafor_structures():
    """metafor's ``struct=`` spellings offered by MetaMixed -> SAS names, asked of the
    registered structures (``Structure.metafor``)."""
    return {cls.metafor: name for name, cls in STRUCTURES.items() if cls.metafor}


#: metafor ``struct=`` -> SAS structure name (built from the structure registry)
RE_STRUCTURES = _metafor_structures()


def _re_structure(name, q, arg="struct"):
    """metafor's ``struct`` as a structure that is PSD by construction (variances >= 0,
    correlations in their closed feasible range; see :mod:`metamodels.core.structures.psd`)."""
    key = str(name).upper()
    key = {"AR": "AR1"}.get(key, key)      # metafor spells AR1 "AR"
    if key not in RE_STRUCTURES:
        raise ValueError(f"unknown {arg} {name!r}; valid values are "
                         f"{', '.join(RE_STRUCTURES)}")
    return psd_structure(get_structure("ID" if q == 1 else RE_STRUCTURES[key], q))


def _identified_terms(random):
    """The random terms whose variances the data identify.

    A term whose grouping factor has a single level is confounded with the intercept: its
    ``G`` is fixed to 0 with an :class:`IdentificationWarning` (as metafor does), and the
    term is left out of ``V``.  Two terms with the same design columns that group the
    effect sizes identically (``(1 | study) + (1 | study2)`` with ``study2`` a copy, or
    ``study`` nested in a factor with one level per study) have only the sum of their
    variances identified: refused with a :class:`SpecificationError` (metafor splits the
    sum arbitrarily without a word).  A term whose levels each hold one effect size is
    identified, the sampling variances being known.
    """
    single = [p for p in random if np.unique(p.groups).size == 1]
    if single:
        names = ", ".join(repr(p.name) for p in single)
        warnings.warn(f"random term(s) {names} have a single level: their variance is not "
                      "identified (confounded with the intercept) and is fixed to 0",
                      IdentificationWarning, stacklevel=3)
    active = [p for p in random if not any(p is s for s in single)]
    if not active:
        raise SpecificationError("every random term has a single level, so no variance "
                                 "component is identified; fit MetaFixed instead")
    for a in range(len(active)):
        for b in range(a):
            pa, pb = active[a], active[b]
            if pa.Z.shape != pb.Z.shape or not np.array_equal(pa.Z, pb.Z):
                continue
            ga, gb = np.unique(pa.groups).size, np.unique(pb.groups).size
            both = np.unique(np.column_stack([pa.groups, pb.groups]), axis=0).shape[0]
            if ga == gb == both:
                raise SpecificationError(
                    f"random terms {pb.name!r} and {pa.name!r} group the effect sizes "
                    "identically, so their variances are not separately identified (only "
                    "their sum is); drop one of them")
    return active, tuple(p.name for p in single)


def _positive_definite(G):
    val = np.linalg.eigvalsh(G)
    return val.min() > 1e-10 * max(val.max(), 1e-300)


def _maximize_psd(y, X, spec, start, reml, tol, maxiter, restarts=()):
    """(RE)ML over PSD ``G``, reported in ``spec``'s parameters (variances, correlations).

    Where a ``G`` structure is a variant of an element-wise SAS structure (UN, CS), the
    cheaper linear fit over that structure is tried first: if it converges with every ``G``
    positive definite, it is the constrained optimum too.  Otherwise (or for the other
    structures) the search runs over the PSD structures on the SD scale (smooth where a
    variance reaches 0) and the optimum is mapped to the variance scale, where the
    information matrix is evaluated.
    """
    def report(search, to_spec, out):
        if search is spec:
            return out
        ev = evaluate(to_spec(out.theta), y, X, spec, reml=reml, order=1)
        return FitOutcome(ev, out.converged, out.n_iter, ev.theta <= spec.lower,
                          ev.theta >= spec.upper, out.method, out.message)

    for kind in ("linear", "psd"):
        search, to_spec, from_spec = spec.search_variant(kind)
        if kind == "linear" and search is spec:
            continue
        try:
            out = maximize(y, X, search, from_spec(start), reml=reml, tol=tol, maxiter=maxiter,
                           restarts=[from_spec(r) for r in restarts])
        except (np.linalg.LinAlgError, ValueError, FloatingPointError, OverflowError):
            if kind == "psd":
                raise
            continue            # the shortcut failed; the PSD search decides
        if kind == "psd" or (out.converged and all(
                _positive_definite(G) for G in search.G_matrices(out.theta) if G.shape[0] > 1)):
            return report(search, to_spec, out)


class MetaMixed(EngineModelMixin, FormulaPickleMixin, LikelihoodModel):
    """Multilevel / multivariate meta-analysis with known sampling covariance.

    Parameters
    ----------
    endog : array_like (n,)
        Effect sizes.
    exog : array_like (n, p)
        Fixed-effects design (moderators, outcome indicators, ...).
    random : list of RandomPart
        Random-effects terms (built from lme4-style terms by :meth:`from_formula`).
    vi : array_like (n,), optional
        Sampling variances (independent sampling errors).
    V : ndarray, scipy.sparse matrix or list of blocks, optional
        Known sampling covariance (block diagonal or sparse V is never densified).
    path : {"auto", "blocks", "zspace"}
        Engine path.  ``"blocks"``: ``V`` block diagonal over the independent units
        (connected components of the groupings and of ``V``).  ``"zspace"``: penalised
        least squares in the space of the random effects on the data whitened by the
        known covariance (:mod:`metamodels.core.zspace_known`; scalar or unstructured
        terms, one of them nesting the blocks of ``V``), for crossed random effects such
        as studies crossed with labs.  ``"auto"`` (default): Z space when one independent
        unit holds at least 400 random-effect columns (crossed factors), blocks
        otherwise, as :class:`~metamodels.MixedModel`.

    Notes
    -----
    The model is

    .. math::

        y = X b + \\sum_t Z_t u_t + e, \\quad u_t \\sim N(0, I \\otimes G_t),
        \\quad e \\sim N(0, S),

    with ``S`` the known sampling covariance (``diag(vi)`` or ``V``).  For example
    ``(1 | district/school)`` gives two variance components (districts, schools within
    districts) as in Konstantopoulos (2011); ``(0 + outcome | trial)`` gives a
    between-trial covariance matrix over outcomes (``struct`` UN, CS, HCS, DIAG, ID
    or AR1) as in Berkey et al. (1998).  Fitting is (RE)ML on the shared engine.

    Every ``G_t`` is positive semi-definite by construction, as in metafor: variances
    ``>= 0`` and correlations in their closed feasible range (UN: canonical partial
    correlations in ``[-1, 1]``, the correlation itself for two outcomes; CS and HCS:
    ``-1/(m-1) <= rho <= 1``; AR1: ``|rho| <= 1``), see
    :mod:`metamodels.core.structures.psd`.  An estimate on a bound (a variance at 0, a
    correlation at +-1) is reported with a :class:`~metamodels.exceptions.BoundaryWarning`
    naming it, and listed in ``results.on_boundary``.  A random term whose grouping factor
    has one level is fixed to 0 with an :class:`~metamodels.exceptions.IdentificationWarning`
    (``model.fixed_terms``); two terms grouping the rows identically are refused.
    """

    def __init__(self, endog, exog, random, vi=None, V=None, sigma2=None, tau2=None,
                 rho=None, gamma2=None, phi=None, path="auto", **kwargs):
        n = len(endog)
        self.known = KnownCovariance.from_input(n, vi=vi, V=V)
        super().__init__(endog, exog, missing="none", **kwargs)
        self.known.validate()
        y, X = self.endog, self.exog
        reject_infinite(y, "endog", self.data.row_labels, "effect sizes")
        reject_infinite(X, "exog", self.data.row_labels, "moderator values")
        if not np.all(np.isfinite(y)) or not np.all(np.isfinite(X)):
            raise ValueError("effect sizes or moderators contain missing values; use "
                             "from_formula(..., missing='drop')")
        if design_rank(X) < X.shape[1]:
            raise SpecificationError("singular design: the moderators are collinear")
        if n <= X.shape[1]:
            raise ValueError(f"too few effect sizes: {n} for {X.shape[1]} coefficients")
        # every G is PSD by construction (a SAS structure given by hand is mapped too)
        self.random = fix_components(
            [replace(p, structure=psd_structure(p.structure)) for p in random],
            sigma2=sigma2, tau2=tau2, rho=rho, gamma2=gamma2, phi=phi)
        #: metafor's fixed variance components / correlations, ``{label: value}``
        self.fixed_params = fixed_parameter_values(self.random)
        # no random term: fixed-effects GLS with the known V (metafor's rma.mv without random)
        active, self.fixed_terms = (_identified_terms(self.random) if self.random
                                    else ([], ()))
        self.spec = BlockCovariance(known=self.known, random=active)
        if path not in ("auto", "blocks", "zspace"):
            raise ValueError(f"path must be 'auto', 'blocks' or 'zspace', got {path!r}")
        self.spec.path = self.path = path
        if path != "auto" and "path" not in self._init_keys:
            self._init_keys.append("path")
        self.nobs = float(n)
        self.k_params = X.shape[1]
        self.df_resid = float(n - X.shape[1])
        self.df_model = float(X.shape[1] - self.k_constant)

    design_info = None
    formula = None
    #: level labels of each random term (by term name), set by :meth:`from_formula`
    random_levels = None

    @property
    def known_spec(self):
        """``V = S``: the known sampling covariance alone (no random effect, fixed
        components included), on the block layout of ``spec``."""
        # crossed random effects (Z-space path): the blocks of S alone, never one block of
        # all rows
        ids = None if self.spec.zspace_active() else self.spec._block_ids
        return BlockCovariance(known=self.known, random=(), block_ids=ids)

    @classmethod
    def from_formula(cls, formula, data, vi=None, V=None, struct="UN", subset=None,
                     missing="drop", cov_struct=None, sigma2=None, tau2=None, rho=None,
                     gamma2=None, phi=None, **kwargs):
        """Build from ``"yi ~ moderators + (1 | district/school)"``.

        Parameters
        ----------
        formula : str
            Fixed effects (patsy) plus lme4-style random terms.
        data : DataFrame
        vi : str or array_like, optional
            Column name or array of sampling variances.
        V : ndarray, sparse matrix or list of blocks, optional
            Known sampling covariance, rows aligned with ``data``.
        struct : str or dict
            Structure of ``G`` for multi-column random terms (UN, CS, HCS, DIAG, ID,
            AR1, HAR, CAR), or a dict term label -> structure.  CAR (continuous-time
            AR(1), ``tau2 rho^|t_i - t_j|``) takes the times from the term's numeric
            variable: ``(0 + time | study)``.
        missing : {"drop", "raise"}
            Rows with missing values are dropped (with their rows/columns of ``V``).
        cov_struct : str or dict, optional
            Former name of ``struct`` (deprecated, with a DeprecationWarning): in
            :class:`~metamodels.MixedModel` ``cov_struct`` is the residual (R-side)
            structure, here the random-effects (G-side) one is ``struct``, as in metafor.
        sigma2, tau2, rho, gamma2, phi : float or sequence, optional
            Values at which variance components / correlations are fixed instead of
            estimated, as in metafor's ``rma.mv``: ``sigma2`` the scalar terms (in order),
            ``tau2``/``rho`` the variances/correlations of the first vector term,
            ``gamma2``/``phi`` of the second; ``None`` entries are estimated (see
            :mod:`metamodels.multivariate.options`).
        """
        arg = "struct"
        if cov_struct is not None:
            warnings.warn("cov_struct= is deprecated for MetaMixed; use struct= (metafor's "
                          "name; cov_struct means the residual structure in MixedModel)",
                          DeprecationWarning, stacklevel=2)
            struct, arg = cov_struct, "cov_struct"
        if subset is not None:
            data = data.loc[subset]
        data = pd.DataFrame(data)
        n_all = len(data)
        if isinstance(vi, str):
            vi = resolve_column(vi, data, "vi")
        known = KnownCovariance.from_input(n_all, vi=vi, V=V)
        fixed, terms = split_formula(formula)
        gcols = sorted({c for t in terms for c in t.group.split(":") if c})
        missing_cols = [c for c in gcols if c not in data.columns]
        if missing_cols:
            raise ValueError(f"columns not found in data: {missing_cols}")
        bad = data[gcols].isna().any(axis=1).to_numpy() | ~np.isfinite(known.diagonal())
        rows = formula_rows(fixed, data, missing, bad, eval_env=1,
                            what="the grouping columns or sampling variances")
        design, data_kept = rows.design, rows.data
        known = known.subset(rows.keep) if rows.n_dropped else known
        random, levels = [], {}
        for d in build_random_design(terms, data_kept):
            levels[d.spec.label] = list(d.levels)
            q = d.Z.shape[1]
            struct_name = (struct.get(d.spec.label, "UN") if isinstance(struct, dict)
                           else struct)
            if str(struct_name).upper() == "CAR":
                random.append(car_part(d, d.spec.label))
                continue
            random.append(RandomPart(d.spec.label, np.asarray(d.Z, dtype=float),
                                     np.asarray(d.groups), _re_structure(struct_name, q, arg),
                                     tuple(d.column_names)))
        mod = cls(design.endog, design.exog, random, V=known, sigma2=sigma2, tau2=tau2,
                  rho=rho, gamma2=gamma2, phi=phi, **kwargs)
        mod.formula = formula
        mod.design_info = design.design_info
        mod.data.frame = data_kept
        mod.random_levels = levels
        return mod

    def fit(self, method="REML", test="z", start=None, tol=1e-10, maxiter=200,
            ddf="residual"):
        """Estimate the variance components by REML (default) or ML.

        Parameters
        ----------
        method : {"REML", "ML"}
        test : {"z", "t"}
            Normal or t reference for the Wald tests (metafor's ``test``); with ``"t"``
            the omnibus test of moderators is an F test.
        ddf : {"residual", "containment"}
            df of the t and F tests (metafor's ``dfs``): ``n - p`` or the containment df
            of each coefficient (:mod:`metamodels.multivariate.dfs`; ``"contain"`` is
            accepted too).  Giving ``"containment"`` implies ``test="t"``, as in metafor.
        start : array_like, optional
            Starting covariance parameters (in ``spec.param_names`` order).

        Returns
        -------
        MetaMixedResults

        Notes
        -----
        A model without random terms (``"yi ~ 0 + outcome"`` with a known ``V``) has no
        variance component: the fit is the GLS estimate ``b = (X'S^-1X)^-1 X'S^-1 y`` and
        the log-likelihood the full one, as metafor's ``rma.mv`` reports it (its method
        "FE"); ``method`` is then ignored and reported as "ML".
        """
        from .results import MetaMixedResults, MetaMixedResultsWrapper
        method = _check_method(method, ("REML", "ML"), "method")
        if not self.random:
            method = "ML"
        test = _check_method(test, ("z", "t"), "test").lower()
        from .dfs import check_ddf
        ddf = check_ddf(ddf)
        if ddf == "containment":
            test = "t"
        spec = self.spec
        y, X = self.endog, self.exog
        if start is None:
            r = y - X @ np.linalg.lstsq(X, y, rcond=None)[0]
            excess = max(float(r @ r) / max(1.0, len(y) - X.shape[1])
                         - float(np.mean(self.known.diagonal())), 1e-3 * float(np.var(y)) + 1e-8)
            start = spec.start(excess / max(1, len(self.random)))
        search = _maximize_psd
        if spec.zspace_active():        # crossed random effects: penalised least squares
            from ..core.zspace import zspace_maximize
            search = zspace_maximize
        out = engine_fit(y, X, spec, start, method, tol, maxiter,
                         restarts=[spec.start(float(np.var(y)))], search=search,
                         stacklevel=2)
        return MetaMixedResultsWrapper(MetaMixedResults(self, out, method, test, ddf))


