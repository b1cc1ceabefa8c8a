"""Translate a :class:`~metamodels.MixedModel` into the arrays of the Gibbs sampler.

The sampler works on ``theta = (b, u)`` with the dense design ``W = [X | Z_1 | ... ]``
(random-effect columns ordered term by term, level by level, component by component)
and on a list of variance *components* (:class:`Component`), each a stack of
``n_classes`` covariance matrices of size ``q``:

* one component per random term (one class; ``"diag"`` for ``ID``/``VC`` G matrices,
  ``"full"`` for ``UN``);
* the residual: ``"diag"`` with one class per ``cov_group`` level (``ID``) or per
  ``(cov_group, visit)`` pair (``VC``/``DIAG``), or ``"full"`` with one ``dim x dim``
  matrix per ``cov_group`` level (``UN``);
* a ``CS`` residual ``R = c J + s2 I`` is represented, for ``c >= 0``, by a hidden random
  intercept per (subject, ``cov_group``) unit with variance ``c`` (one class per level)
  plus independent residuals of variance ``s2``.

``theta_index`` maps the flattened component matrices onto the covariance parameters of
the frequentist ``model.spec`` (``res.theta`` order and names).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from ...mixed.model import MixedModel
    from .priors import GibbsPriors

__all__ = ["Component", "TermBlock", "GibbsLayout", "build_layout"]

_T_LIMIT = 4_000_000        # elements of the precomputed precision basis T
_K_LIMIT = 4000             # fixed + random coefficients (dense joint update)
_PSI_G = 1.0                # default IW scales: these fractions of data-based variances
_PSI_R = 0.1                # (random-term G matrices, UN residual matrices)


def _supports(structure, role, dim=None):
    """The structure's own answer (``Structure.supports_gibbs``); foreign objects: no."""
    ask = getattr(structure, "supports_gibbs", None)
    return bool(ask(role, dim)) if ask is not None else False


def _supported(role):
    """Names of the registered structures with a conjugate update in ``role``."""
    from ...core.structures import STRUCTURES
    names = [n for n, cls in STRUCTURES.items() if cls.supports_gibbs(role)]
    return ", ".join(names[:-1]) + " and " + names[-1] if len(names) > 1 else "".join(names)


@dataclass(frozen=True, eq=False)
class Component:
    """A stack of ``n_classes`` covariance matrices ``(q, q)`` with a common prior."""

    name: str
    kind: str                 # "diag" (independent variances) or "full" (unstructured)
    q: int
    n_classes: int
    counts: np.ndarray        # (n_classes,) independent vectors behind each matrix
    prior: object             # ComponentPrior
    fixed: object = None      # (n_classes, q, q) or None
    offset: int = 0           # position in the flattened state

    @property
    def size(self):
        return self.n_classes * self.q * self.q


@dataclass(frozen=True, eq=False)
class TermBlock:
    """Columns of one random term in ``W``: ``offset + level * q + j``."""

    name: str
    component: int
    offset: int
    q: int
    n_levels: int
    level_class: np.ndarray   # (n_levels,) class of each level in its component
    column_names: tuple
    hidden: bool = False


class GibbsLayout:
    """Arrays of the sampler for one model (built once by :func:`build_layout`).

    Attributes
    ----------
    y : ndarray (n,)
    X, W : ndarray (n, p), (n, K)
    terms : list of TermBlock
    components : list of Component
    resid_kind : {"diag", "un"}
    resid_component : int
    T : ndarray (m, K*K) or None
        Independent residuals: ``W' R^-1 W = reshape(w @ T)`` with ``w`` the precisions of
        the ``m`` residual classes (``None`` when too large: formed from ``W``).
    unit_pattern, pattern_cg, pat_obs2, pat_eye_mis : ndarray
        ``UN`` residuals: missingness patterns (cov_group and observed visits) of the
        (subject, cov_group) units, whose ``R_oo^-1`` are computed once per pattern.
    theta_index : ndarray (n_theta,)
        Flat-state position of each covariance parameter of ``model.spec``.
    """

    def __init__(self, model: MixedModel, priors: GibbsPriors) -> None:
        self.model = model
        self.priors = priors
        self.y = np.asarray(model.endog, dtype=float)
        self.X = np.asarray(model.exog, dtype=float)
        self.n, self.p = self.X.shape
        self.theta_names = tuple(model.spec.param_names)
        self.exog_names = tuple(model.exog_names)
        self.y_scale = float(np.std(self.y)) or 1.0
        coef = np.linalg.lstsq(self.X, self.y, rcond=None)[0]
        self.ols_resid = self.y - self.X @ coef
        self.ols_s2 = max(float(self.ols_resid @ self.ols_resid) / max(1, self.n - self.p),
                          1e-12)
        self.beta_mean, self.beta_prec = priors.beta_prior(self.p)
        self.components, self.terms = [], []
        self._term_groups = []              # (Z, level codes) per term
        self._theta_src = []                # (component, class, i, j) per theta entry
        res = model.residual
        rname = getattr(res.structure, "name", "?")
        if not _supports(res.structure, "residual"):
            raise NotImplementedError(
                f"fit_bayes supports {_supported('residual')} residual structures, not "
                f"{rname}; use cov_struct='UN' (or a random effect) instead")
        self.resid_name = rname
        self.resid_update = res.structure.conjugate
        for part in model.spec.random:
            self._add_term(part)
        self._units(res)
        if self.resid_update == "compound":
            self._add_cs_term(res)
        self._add_residual(res)
        self._finish_components()
        self._build_W()
        self._build_precision_arrays()

    # ------------------------------------------------------------------ terms
    def _add_component(self, name, kind, q, n_classes, counts, psi=None):
        prior = self.priors.component(kind, q, self.y_scale, psi)
        self.components.append(Component(name, kind, q, n_classes,
                                         np.asarray(counts, dtype=float), prior))
        return len(self.components) - 1

    def _add_term(self, part):
        s = part.structure
        sname = getattr(s, "name", "?")
        q = part.Z.shape[1]
        if _supports(s, "random", q) and s.conjugate == "unstructured":
            kind = "full"
            pairs = [(i, j) for i in range(q) for j in range(i + 1)]
        elif _supports(s, "random", q) and s.n_params == q:
            kind = "diag"
            pairs = [(i, i) for i in range(q)]
        else:
            raise NotImplementedError(
                f"fit_bayes supports {_supported('random')} covariance of random terms, not "
                f"{sname} (term {part.name})")
        groups = np.asarray(part.groups, dtype=np.int64)
        L = int(groups.max()) + 1
        psi = None
        if kind == "full":
            # data-scaled IW scale (after Kass & Natarajan 2006): s2 diag((mean_l Z_l' Z_l)^-1)
            ztz = part.Z.T @ part.Z / L
            v = np.diag(np.linalg.pinv(ztz)) * self.ols_s2
            psi = np.diag(_PSI_G * np.maximum(v, 1e-12 * self.ols_s2))
        c = self._add_component(part.name, kind, q, 1, [L], psi)
        self._theta_src += [(c, 0, i, j) for i, j in pairs]
        self.terms.append(TermBlock(part.name, c, 0, q, L, np.zeros(L, np.int64),
                                    tuple(part.column_names)))
        self._term_groups.append((part.Z, groups))

    def _units(self, res):
        """(subject, cov_group) units: the blocks of R."""
        key = res.subject.astype(np.int64) * res.n_cov_groups + res.cov_group
        uniq, unit = np.unique(key, return_inverse=True)
        self.row_unit = unit.astype(np.int64)
        self.n_units = len(uniq)
        self.unit_cg = (uniq % res.n_cov_groups).astype(np.int64)
        self.ncg = res.n_cov_groups
        self.row_visit = res.visit.astype(np.int64)
        self.dim = res.structure.dim

    def _add_cs_term(self, res):
        counts = np.bincount(self.unit_cg, minlength=self.ncg)
        c = self._add_component("CS", "diag", 1, self.ncg, counts)
        self.terms.append(TermBlock("CS", c, 0, 1, self.n_units, self.unit_cg.copy(),
                                    ("(Intercept)",), hidden=True))
        self._term_groups.append((np.ones((self.n, 1)), self.row_unit))
        self._cs_component = c

    def _add_residual(self, res):
        d, ncg = self.dim, self.ncg
        if self.resid_update == "unstructured":
            self.resid_kind = "un"
            counts = np.bincount(self.unit_cg, minlength=ncg)
            # data-scaled IW scale: a fraction of the OLS residual variance of each visit
            e2 = np.bincount(res.visit, self.ols_resid ** 2, minlength=d)
            nv = np.bincount(res.visit, minlength=d)
            v = np.where(nv > 0, e2 / np.maximum(nv, 1), self.ols_s2)
            psi = np.diag(_PSI_R * np.maximum(v, 1e-12 * self.ols_s2))
            c = self._add_component("Residual", "full", d, ncg, counts, psi)
            pairs = [(i, j) for i in range(d) for j in range(i + 1)]
            for g in range(ncg):
                self._theta_src += [(c, g, i, j) for i, j in pairs]
        else:
            self.resid_kind = "diag"
            if self.resid_update == "diagonal":
                self.row_class = res.cov_group * d + res.visit
                nrc = ncg * d
            else:
                self.row_class = res.cov_group.astype(np.int64)
                nrc = ncg
            self.row_class = np.asarray(self.row_class, dtype=np.int64)
            counts = np.bincount(self.row_class, minlength=nrc)
            c = self._add_component("Residual", "diag", 1, nrc, counts)
            for g in range(ncg):
                if self.resid_update == "compound":
                    self._theta_src += [(self._cs_component, g, 0, 0), (c, g, 0, 0)]
                elif self.resid_update == "scalar":
                    self._theta_src.append((c, g, 0, 0))
                else:
                    self._theta_src += [(c, g * d + v, 0, 0) for v in range(d)]
        self.resid_component = c

    def _finish_components(self):
        off = 0
        comps = []
        for comp in self.components:
            comps.append(Component(comp.name, comp.kind, comp.q, comp.n_classes, comp.counts,
                                   comp.prior, None, off))
            off += comp.size
        self.components = comps
        self.state_size = off
        idx = [comps[c].offset + (k * comps[c].q + i) * comps[c].q + j
               for c, k, i, j in self._theta_src]
        self.theta_index = np.asarray(idx, dtype=np.int64)
        if len(self.theta_index) != len(self.theta_names):
            raise RuntimeError("internal error: covariance parameters do not line up")
        self._apply_fixed()

    def _apply_fixed(self):
        fixed = self.priors.fixed
        if not fixed:
            return
        unknown = [k for k in fixed if k not in self.theta_names]
        if unknown:
            raise ValueError(f"fixed: unknown parameter(s) {unknown}; valid names: "
                             f"{list(self.theta_names)}")
        vals = np.array([float(fixed.get(nm, np.nan)) for nm in self.theta_names])
        flat = np.zeros(self.state_size)
        for t, (c, k, i, j) in enumerate(self._theta_src):
            comp = self.components[c]
            base = comp.offset + k * comp.q * comp.q
            flat[base + i * comp.q + j] = flat[base + j * comp.q + i] = vals[t]
        comps = []
        for ci, comp in enumerate(self.components):
            mine = [t for t, src in enumerate(self._theta_src) if src[0] == ci]
            given = ~np.isnan(vals[mine])
            if given.any() and not given.all():
                raise NotImplementedError(
                    f"fixed: all parameters of the {comp.name} component must be fixed "
                    f"together ({[self.theta_names[t] for t in mine]})")
            if given.all() and mine:
                mats = flat[comp.offset:comp.offset + comp.size].reshape(
                    comp.n_classes, comp.q, comp.q)
                if np.any(np.linalg.eigvalsh(mats)[..., 0] <= 0):
                    raise ValueError(f"fixed: the {comp.name} covariance is not positive "
                                     "definite")
                comp = Component(comp.name, comp.kind, comp.q, comp.n_classes, comp.counts,
                                 comp.prior, mats, comp.offset)
            comps.append(comp)
        self.components = comps

    # ----------------------------------------------------------------- design
    def _build_W(self):
        K = self.p + sum(tb.n_levels * tb.q for tb in self.terms)
        if K > _K_LIMIT:
            raise NotImplementedError(f"{K} fixed and random coefficients: the joint update "
                                      f"of (b, u) is dense (limit {_K_LIMIT})")
        cols = [self.X]
        off = self.p
        terms = []
        for tb, (Z, groups) in zip(self.terms, self._term_groups):
            q, L = tb.q, tb.n_levels
            block = np.zeros((self.n, L * q))
            rows = np.arange(self.n)
            for j in range(q):
                block[rows, groups * q + j] = Z[:, j]
            cols.append(block)
            terms.append(TermBlock(tb.name, tb.component, off, q, L, tb.level_class,
                                   tb.column_names, tb.hidden))
            off += L * q
        self.terms = terms
        self.W = np.concatenate(cols, axis=1)
        self.K = self.W.shape[1]
        # flat indices of each term's diagonal blocks in the K x K precision
        self.term_index = []
        for tb in terms:
            base = tb.offset + np.arange(tb.n_levels)[:, None] * tb.q + np.arange(tb.q)
            ii = np.broadcast_to(base[:, :, None], (tb.n_levels, tb.q, tb.q))
            jj = np.broadcast_to(base[:, None, :], (tb.n_levels, tb.q, tb.q))
            self.term_index.append((ii, jj))

    def _build_precision_arrays(self):
        K, n = self.K, self.n
        if self.resid_kind == "diag":
            comp = self.components[self.resid_component]
            self.row_onehot = np.zeros((n, comp.n_classes))
            self.row_onehot[np.arange(n), self.row_class] = 1.0
            self.T = None
            if comp.n_classes * K * K <= _T_LIMIT:
                T = np.zeros((comp.n_classes, K * K))
                for k in range(comp.n_classes):
                    Wk = self.W[self.row_class == k]
                    T[k] = (Wk.T @ Wk).ravel()
                self.T = T
            return
        d, N = self.dim, self.n_units
        self.obs = np.zeros((N, d), dtype=bool)
        self.obs[self.row_unit, self.row_visit] = True
        Wpad = np.zeros((N, d, K))
        Wpad[self.row_unit, self.row_visit] = self.W
        self.Wpad = Wpad
        self.WflatT = np.ascontiguousarray(Wpad.reshape(N * d, K).T)
        # compact columns of each unit: all of X plus the random-effect columns its rows
        # touch (padded with a dummy index K + 1); W' R^-1 W is then accumulated from
        # small per-unit products instead of one dense (N d x K) product
        nz = np.zeros((N, K), dtype=bool)
        np.logical_or.at(nz, self.row_unit, self.W != 0)
        nz[:, :self.p] = True
        width = int(nz.sum(axis=1).max())
        self.compact = width + 1 < 0.6 * (K + 1)
        if self.compact:
            cols = np.full((N, width), K + 1, dtype=np.int64)
            for u in range(N):
                c = np.flatnonzero(nz[u])
                cols[u, :len(c)] = c
            self.compact_cols = cols
            Wc = np.zeros((N, d, width))
            ok = cols <= K - 1
            uu, jj = np.nonzero(ok)
            Wc[uu, :, jj] = Wpad[uu, :, cols[uu, jj]]
            self.Wc = Wc
            self.WcT = np.ascontiguousarray(np.swapaxes(Wc, 1, 2))
        self.slots = self.row_unit * d + self.row_visit
        self.cg_onehot = np.zeros((N, self.ncg))
        self.cg_onehot[np.arange(N), self.unit_cg] = 1.0
        # missingness patterns: (cov_group, observed visits) of each unit
        key = np.concatenate([self.unit_cg[:, None], self.obs.astype(np.int64)], axis=1)
        pats, self.unit_pattern = np.unique(key, axis=0, return_inverse=True)
        self.unit_pattern = self.unit_pattern.reshape(-1)
        self.pattern_cg = pats[:, 0]
        pobs = pats[:, 1:].astype(bool)
        self.pat_obs2 = pobs[:, :, None] & pobs[:, None, :]
        self.pat_eye_mis = np.eye(d) * ~pobs[:, None, :]
        self.n_patterns = len(pats)
        self.mis_slots = np.flatnonzero(~self.obs.ravel())

    # ------------------------------------------------------------- utilities
    def describe_priors(self) -> dict[str, str]:
        """``{component: prior}`` strings, for the summary.

        Returns
        -------
        dict
            ``"fixed effects"`` then one entry per variance component.
        """
        out = {"fixed effects": "flat" if not np.any(self.beta_prec) else
               "normal(mean, precision)"}
        for comp in self.components:
            label = "CS covariance" if comp.name == "CS" else comp.name
            out[label] = "fixed" if comp.fixed is not None else comp.prior.describe()
        return out


def build_layout(model: MixedModel, priors: GibbsPriors) -> GibbsLayout:
    """:class:`GibbsLayout` of ``model`` under ``priors`` (a :class:`GibbsPriors`).

    Parameters
    ----------
    model : MixedModel
        The model.
    priors : GibbsPriors
        The priors.

    Returns
    -------
    GibbsLayout

    Raises
    ------
    NotImplementedError
        For covariance structures without a conjugate update.
    ValueError
        For invalid ``fixed`` priors.
    """
    return GibbsLayout(model, priors)
