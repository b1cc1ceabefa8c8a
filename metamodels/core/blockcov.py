"""One block covariance ``V(theta) = S + sum_t Z_t G_t(theta) Z_t' + R(theta)`` for the engine.

For block ``b`` (an independent unit) with rows ``i, j``:

.. math::

    V_b[i, j] = S[i, j]
               + \\sum_t 1[g_t(i) = g_t(j)]\\, z_{t,i}' G_t(\\theta_t) z_{t,j}
               + 1[s(i) = s(j)]\\, 1[c(i) = c(j)]\\, R_{c(i)}(\\theta_R)[v(i), v(j)]

Each of the three parts is optional (at least one of ``S`` and ``R`` is given):

* ``S`` (:class:`~metamodels.core.known.KnownCovariance`) a known covariance, e.g. the
  sampling covariance of meta-analytic effect sizes, never densified beyond its blocks;
* the random terms ``t`` (:class:`~metamodels.core.random.RandomPart`: design rows
  ``z_{t,i}``, grouping codes ``g_t``, covariance ``G_t`` from a
  :mod:`~metamodels.core.structures` structure);
* the residual part (:class:`~metamodels.core.random.ResidualPart`): ``s`` the residual
  subject, ``v`` the repeated-measures index (visit), ``c`` the ``cov_group`` level
  (SAS's ``GROUP=``).  Missing visits are handled by gathering the observed sub-matrix of
  ``R``.  With observation weights ``w`` (SAS's ``WEIGHT`` statement) the residual term is
  ``R_b = W_b^{-1/2} R W_b^{-1/2}``; its derivatives are scaled alike.

The parameter vector is ``theta = (theta_G_1, ..., theta_G_T, theta_R_1, ...,
theta_R_C)``: the ``G`` parameters of each random term, then one residual parameter set
per ``cov_group`` level.  Blocks of equal size are stacked, so building ``V`` and its first
and second derivatives is a handful of batched array operations per block size.

Multilevel / multivariate meta-analysis uses ``S + Z G Z'``; linear mixed models use
``Z G Z' + R``; nothing stops a model using all three.
"""
from __future__ import annotations

import numpy as np

from .blocks import BlockLayout, connected_blocks
from .covariance import CovarianceSpec
from .random import (masked_zd2z, masked_zdz, masked_zgz, random_block_arrays,
                     random_parameter_layout, search_parts)
from .structures import linear_structure, search_structure

__all__ = ["BlockCovariance"]


class BlockCovariance(CovarianceSpec):
    """Block-diagonal ``V(theta) = S + sum_t Z_t G_t Z_t' + R`` (see the module docstring).

    Parameters
    ----------
    known : KnownCovariance, optional
        Known part ``S``.
    random : list of RandomPart
        Random-effects terms (may be empty).
    residual : ResidualPart, optional
        Estimated residual covariance ``R``.
    block_ids : (n,) int array, optional
        Independent units; by default the connected components of the random terms'
        groupings, the non-zero pattern of ``S`` and the residual subjects.

    Notes
    -----
    Within a block, rows are ordered by residual subject and visit (so ``R``
    sub-matrices are ordered).  Starting values (:meth:`start`) give each random term the
    variance it is handed when there is no residual part, else half of it shared among
    the random terms (the other half going to ``R``).  :meth:`search_variant` gives the
    same ``V`` over the parameters a fit searches (PSD ``G`` on the SD scale, or the
    element-wise SAS structures); :meth:`lowrank_view` (Woodbury, ``R = sigma^2 I`` with
    random terms) and :meth:`pattern_view` (one factorisation per missingness pattern,
    residual-only models) offer the engine's fast evaluators when there is no known part.
    """

    #: Offer the specialised evaluators (Woodbury for ``R = sigma^2 I`` with random terms,
    #: per-pattern factorisation for residual-only models) to the engine; set to ``False``
    #: on an instance to force the dense block path (same results, slower).
    use_fast_paths = True

    def __init__(self, known=None, random=(), residual=None, block_ids=None):
        if known is None and residual is None:
            raise ValueError("a block covariance needs a known part S or a residual part R "
                             "(otherwise V is singular)")
        self.known = known
        self.random = list(random)
        self.residual = residual
        if block_ids is None:
            codes = [p.groups for p in self.random]
            codes += [] if known is None else [known.components()]
            codes += [] if residual is None else [residual.subject]
            block_ids = connected_blocks(codes)
        self._block_ids = block_ids
        order = None if residual is None else _row_order(residual)
        self.layout = BlockLayout.from_labels(block_ids, order=order)
        names, lower, upper, slices, pos = random_parameter_layout(self.random)
        self._g_slices = slices
        self._r_slices = []
        if residual is not None:
            rs = residual.structure
            for c in range(residual.n_cov_groups):
                prefix = "" if residual.n_cov_groups == 1 else f"{residual.group_labels[c]} "
                names += [f"{prefix}{nm}" for nm in rs.param_names]
                lower.append(rs.lower)
                upper.append(rs.upper)
                self._r_slices.append(slice(pos, pos + rs.n_params))
                pos += rs.n_params
        self.param_names = tuple(names)
        self.lower = np.concatenate(lower) if lower else np.zeros(0)
        self.upper = np.concatenate(upper) if upper else np.zeros(0)
        self.is_linear = all(p.structure.is_linear for p in self.random) and (
            residual is None or residual.structure.is_linear)

    @property
    def _K(self):
        """Blocks of the known part (built on first use: the Z-space path of a crossed
        meta-analysis, one block of all rows, never builds them)."""
        if self.known is None:
            return None
        K = self.__dict__.get("_known_blocks")
        if K is None:
            K = self._known_blocks = self.known.blocks_for(self.layout)
        return K

    # ------------------------------------------------------------------ set-up
    @property
    def _groups(self):
        """Per block group: rows, stacked random designs, same-level and residual masks
        (built on first use: a single block of crossed factors would need ``n^2``
        masks, which the Z-space path never builds)."""
        groups = self.__dict__.get("_group_arrays")
        if groups is None:
            groups = self._prepare()
            self._group_arrays = groups
        return groups

    def _prepare(self):
        groups = []
        res = self.residual
        for rows in self.layout.groups:
            g = {"rows": rows}
            g["Z"], g["S"] = random_block_arrays(self.random, rows)
            g["R_masks"] = []
            if res is not None:
                vis = res.visit[rows]
                g["vi"], g["vj"] = vis[:, :, None], vis[:, None, :]
                same_subj = res.subject[rows][:, :, None] == res.subject[rows][:, None, :]
                cg = res.cov_group[rows]
                g["R_masks"] = [(same_subj & (cg[:, :, None] == c) & (cg[:, None, :] == c))
                                .astype(float) for c in range(res.n_cov_groups)]
                if res.weights is not None:
                    g["R_masks"] = [m * _weight_scale(res.weights[rows]) for m in g["R_masks"]]
            groups.append(g)
        return groups

    # ------------------------------------------------------------ parameters
    def split(self, theta):
        """``(list of G-structure parameter vectors, list of R parameter vectors)``."""
        theta = np.asarray(theta, dtype=float)
        return ([theta[s] for s in self._g_slices], [theta[s] for s in self._r_slices])

    def G_matrices(self, theta):
        """The ``G_t(theta)`` of the random terms, in order."""
        g_par, _ = self.split(theta)
        return [p.structure.matrix(t) for p, t in zip(self.random, g_par)]

    def R_matrices(self, theta):
        """The residual covariance of each ``cov_group`` level (empty without ``R``)."""
        _, r_par = self.split(theta)
        return [self.residual.structure.matrix(t) for t in r_par]

    def start(self, variance):
        """Starting values: each structure's own start from ``variance`` (the residual
        variance of an OLS fit, or the excess over ``S``).  Without a residual part each
        random term is started at ``variance``; with one, the random terms share half of
        it and ``R`` starts at ``variance``."""
        share = variance if self.residual is None else \
            variance / max(1, len(self.random)) / 2.0
        parts = [p.structure.start(share) for p in self.random]
        if self.residual is not None:
            parts += [self.residual.structure.start(variance)
                      for _ in range(self.residual.n_cov_groups)]
        if not parts:
            return np.zeros(0)
        return np.concatenate([np.atleast_1d(np.asarray(p, dtype=float)) for p in parts])

    def search_variant(self, kind="psd"):
        """The same ``V`` over the parameters a fit searches and the maps
        ``(spec, to_self, from_self)`` between the parameter vectors.

        ``kind="psd"`` replaces every ``G`` structure by its positive semi-definite
        variant on the SD scale (:func:`~metamodels.core.structures.search_structure`:
        standard deviations and closed correlation ranges, lme4's constraint; smooth where
        a variance is 0); ``"linear"`` uses the element-wise SAS ``UN``/``CS`` where a
        structure has one (unconstrained, cheaper).  Residual parameters are shared.
        """
        if kind not in ("psd", "linear"):
            raise ValueError(f"kind must be 'psd' or 'linear', got {kind!r}")
        make = search_structure if kind == "psd" else linear_structure
        random, to_self, from_self = search_parts(self.random, self._g_slices, make)
        if all(a is b for a, b in zip(random, self.random)):
            return self, to_self, from_self
        return (BlockCovariance(self.known, random, self.residual, self._block_ids),
                to_self, from_self)

    def psd_variant(self):
        """``search_variant("psd")``."""
        return self.search_variant("psd")

    # ----------------------------------------------------------- engine API
    def _direct(self):
        """The residual structure computes its gathered entries itself (spatial: no
        ``dim x dim`` matrix of all positions is formed)."""
        return self.residual is not None and self.residual.structure.direct_gather

    def build(self, theta):
        Gs = self.G_matrices(theta)
        direct = self._direct()
        if direct:
            rs, r_par = self.residual.structure, self.split(theta)[1]
        else:
            Rs = self.R_matrices(theta)
        out = []
        for k, g in enumerate(self._groups):
            V = 0.0 if self._K is None else self._K[k].copy()
            for Zt, St, G in zip(g["Z"], g["S"], Gs):
                V = V + masked_zgz(Zt, St, G)
            for c, mask in enumerate(g["R_masks"]):
                R = rs.gather(r_par[c], g["vi"], g["vj"]) if direct else \
                    Rs[c][g["vi"], g["vj"]]
                V = V + mask * R
            out.append(np.asarray(V))
        return out

    def jacobian(self, theta):
        g_par, r_par = self.split(theta)
        dG = [p.structure.derivatives(t) for p, t in zip(self.random, g_par)]
        direct = self._direct()
        rs = None if self.residual is None else self.residual.structure
        dR = r_par if direct else [rs.derivatives(t) for t in r_par]
        out = []
        for g in self._groups:
            nb, m = g["rows"].shape
            parts = []
            for Zt, St, d in zip(g["Z"], g["S"], dG):
                parts.append(masked_zdz(Zt, St, d))
            for mask, d in zip(g["R_masks"], dR):
                d = rs.gather_derivatives(d, g["vi"], g["vj"]) if direct else \
                    d[:, g["vi"], g["vj"]]
                parts.append(mask[None] * d)
            out.append(np.concatenate(parts, axis=0) if parts else np.zeros((0, nb, m, m)))
        return out

    # ------------------------------------------------------- fast evaluators
    def _row_blocks(self):
        """Block index of each row (layout order) and the dense-path cost ``sum n_b^3``."""
        n = self.layout.nobs
        block = np.empty(n, dtype=np.int64)
        start = 0
        cost = 0.0
        for rows in self.layout.groups:
            nb, m = rows.shape
            block[rows] = start + np.arange(nb)[:, None]
            start += nb
            cost += nb * float(m) ** 3
        return block, cost

    def __getstate__(self):
        state = self.__dict__.copy()
        state.pop("_views", None)          # rebuilt on demand; holds references to y, X
        state.pop("_group_arrays", None)
        state.pop("_zspace_design", None)
        state.pop("_zspace_flag", None)
        state.pop("_known_blocks", None)
        state.pop("_whitener", None)
        return state

    def _cached_view(self, kind, y, X, make):
        """Views depend on ``(y, X)``: keep the last one per kind, keyed on identity and a
        checksum of the arrays (so a changed array rebuilds the view)."""
        cache = self.__dict__.setdefault("_views", {})
        key = (float(np.sum(y)), float(np.sum(X)), np.shape(y), np.shape(X))
        hit = cache.get(kind)
        if hit is not None and hit[0] is y and hit[1] is X and hit[2] == key:
            return hit[3]
        view = make(np.asarray(y, dtype=float), np.asarray(X, dtype=float))
        cache[kind] = (y, X, key, view)
        return view

    def _residual_is_scaled_identity(self):
        """``R = sigma^2 I`` (``sigma^2 W^-1`` with weights): one ID structure and no
        repeated (subject, visit) pair."""
        flag = self.__dict__.get("_scaled_identity")
        if flag is None:
            res = self.residual
            flag = res.n_cov_groups == 1 and getattr(res.structure, "name", "") == "ID"
            if flag:
                pairs = np.sort(res.subject.astype(np.int64) * (int(res.visit.max()) + 1)
                                + res.visit)
                flag = bool(np.all(pairs[1:] != pairs[:-1]))
            self._scaled_identity = flag
        return flag

    def lowrank_view(self, y, X):
        """Woodbury evaluator (:class:`~metamodels.core.lowrank.LowRankView`) when
        ``R = sigma^2 I`` and there are random terms, else ``None``."""
        if not self.use_fast_paths or self.known is not None or not self.random \
                or self.residual is None or not self._residual_is_scaled_identity():
            return None

        def make(y, X):
            from .lowrank import LowRankTerm, LowRankView
            block, cost = self._row_blocks()
            w = self.residual.weights
            # with weights, W^{1/2} V W^{1/2} = (W^{1/2} Z) G (W^{1/2} Z)' + s I: the
            # unweighted evaluator on the rescaled data (see _WeightedView)
            root = None if w is None else np.sqrt(w)[:, None]
            terms = [LowRankTerm(pt.Z if w is None else pt.Z * root, pt.groups, pt.structure,
                                 sl) for pt, sl in zip(self.random, self._g_slices)]
            if w is not None:
                y, X = y * root[:, 0], X * root
            view = LowRankView(terms, block, y, X, self._r_slices[0].start, self.n_params,
                               dense_cost=cost)
            return view if w is None else _WeightedView(view, float(np.sum(np.log(w))))

        return self._cached_view("lowrank", y, X, make)

    # ------------------------------------------------------------- Z space
    #: Engine path: ``"auto"`` (Z space when the random effects are crossed so that one
    #: independent unit holds at least :data:`~metamodels.core.zspace.ZSPACE_MIN_COLUMNS`
    #: random-effect columns, blocks otherwise), ``"blocks"`` or ``"zspace"``.
    path = "auto"

    def zspace_eligible(self):
        """Whether the Z-space path can represent ``V``: no known part, ``R = sigma^2 I``
        (``sigma^2 W^{-1}`` with weights), random terms with unstructured ``G`` (or one
        variance); or a known part ``S`` and no residual part, one term nesting the blocks
        of ``S`` (:mod:`metamodels.core.zspace_known`)."""
        from .zspace import zspace_eligible_structure
        if self._known_zspace:
            from .zspace_known import known_zspace_eligible
            return known_zspace_eligible(self.random, self.known.components())
        return (self.known is None and bool(self.random) and self.residual is not None
                and self._residual_is_scaled_identity()
                and all(zspace_eligible_structure(p.structure) for p in self.random))

    def zspace_active(self):
        """Whether the engine works in Z space for this covariance (see :attr:`path`)."""
        flag = self.__dict__.get("_zspace_flag")
        if flag is None:
            if self.path not in ("auto", "blocks", "zspace"):
                raise ValueError(f"path must be 'auto', 'blocks' or 'zspace', got {self.path!r}")
            if self.path == "blocks" or not self.use_fast_paths:
                flag = False
            elif self.path == "zspace":
                if not self.zspace_eligible():
                    raise NotImplementedError(
                        "path='zspace' needs random terms with unstructured G (UN) or one "
                        "variance, none of them fixed, and either independent residuals "
                        "(R = sigma^2 I, or sigma^2 W^-1 with weights) and no known "
                        "covariance, or a known covariance, no residual part and a random "
                        "term whose levels each hold whole blocks of the known covariance")
                flag = True
            else:
                from .zspace import ZSPACE_MIN_COLUMNS
                flag = self.zspace_eligible() and \
                    self._max_block_columns() >= ZSPACE_MIN_COLUMNS
            self._zspace_flag = flag
        return flag

    def _max_block_columns(self):
        """Largest number of random-effect columns within one independent unit (an upper
        bound from the largest unit's rows when that is already small)."""
        rows = max((g.shape[1] for g in self.layout.groups), default=0)
        bound = rows * sum(p.Z.shape[1] for p in self.random)
        from .zspace import ZSPACE_MIN_COLUMNS
        if bound < ZSPACE_MIN_COLUMNS:
            return float(bound)
        block = np.asarray(self._block_ids, dtype=np.int64)
        nb = int(block.max()) + 1 if block.size else 0
        total = np.zeros(nb)
        for p in self.random:
            codes = np.asarray(p.groups, dtype=np.int64)
            pairs = np.unique(block * (int(codes.max()) + 1) + codes)
            total += p.Z.shape[1] * np.bincount(pairs // (int(codes.max()) + 1),
                                                 minlength=nb)
        return float(total.max()) if nb else 0.0

    @property
    def _known_zspace(self):
        """Known part and random terms, no residual part (meta-analysis)."""
        return self.known is not None and self.residual is None and bool(self.random)

    def _zspace_whitener(self):
        """``S = L L'`` (:class:`~metamodels.core.zspace_known.Whitener`)."""
        w = self.__dict__.get("_whitener")
        if w is None:
            from .zspace_known import Whitener
            w = self._whitener = Whitener.from_known(self.known)
        return w

    def zspace_design(self):
        """The :class:`~metamodels.core.zspace.ZSpaceDesign` of the random terms (on the
        whitened design ``c L^{-1} Z`` when ``S`` is known)."""
        design = self.__dict__.get("_zspace_design")
        if design is None:
            from .zspace import ZSpaceDesign, ZSpaceTerm
            terms = [ZSpaceTerm(p.Z, p.groups, p.structure, sl)
                     for p, sl in zip(self.random, self._g_slices)]
            if self._known_zspace:
                from .zspace_known import nesting_terms
                w = self._zspace_whitener()
                design = ZSpaceDesign(terms, self.layout.nobs, whiten=w.c * w.Linv,
                                      eliminable=nesting_terms(self.random, w.components))
            else:
                design = ZSpaceDesign(terms, self.layout.nobs, self.residual.weights)
            self._zspace_design = design
        return design

    def zspace_view(self, y, X, force=False):
        """The Z-space evaluator (:class:`~metamodels.core.zspace.ZSpaceView`) when the
        engine works in Z space (``force``: whenever eligible), else ``None``."""
        if not (self.zspace_active() or (force and self.zspace_eligible())):
            return None

        def make(y, X):
            from .zspace import ZSpaceView
            if self._known_zspace:
                from .zspace_known import KnownZSpaceView
                return KnownZSpaceView(self.zspace_design(), self._zspace_whitener(), y, X,
                                       self.n_params)
            return ZSpaceView(self.zspace_design(), y, X, self._r_slices[0].start,
                              self.n_params, preferred=True)

        return self._cached_view("zspace", y, X, make)

    def _zspace_split(self, theta):
        if self._known_zspace:
            from .zspace_known import absolute_factors
            return absolute_factors(self.zspace_design(), theta,
                                    self._zspace_whitener().c), 1.0
        from .zspace import relative_factors
        return relative_factors(self.zspace_design(), theta, self._r_slices[0].start)

    def zspace_solve(self, theta, vec):
        """``V^{-1} vec`` in Z space, or ``None`` when the engine uses blocks."""
        if not self.zspace_active():
            return None
        if self._known_zspace:
            from .zspace_known import known_zspace_solve
            return known_zspace_solve(self.zspace_design(), self._zspace_whitener(),
                                      self._zspace_split(theta)[0], vec)
        from .zspace import zspace_solve
        return zspace_solve(self.zspace_design(), *self._zspace_split(theta), vec)

    def zspace_diagonal(self, theta, inverse=False):
        """Diagonal of ``V`` (``inverse``: of ``V^{-1}``) without forming ``V``, or
        ``None`` when the engine uses blocks."""
        if not self.zspace_active():
            return None
        theta = np.asarray(theta, dtype=float)
        from .zspace_known import known_marginal_diagonal
        if inverse:
            if not self._known_zspace:
                raise NotImplementedError("the diagonal of V^-1 on the Z-space path needs a "
                                          "known covariance")
            from .zspace_known import known_inverse_diagonal
            return known_inverse_diagonal(self.zspace_design(), self._zspace_whitener(),
                                          self._zspace_split(theta)[0])
        if self._known_zspace:
            base = self.known.diagonal()
        else:
            s = float(theta[self._r_slices[0].start])
            w = self.residual.weights
            base = np.full(self.layout.nobs, s) if w is None else s / np.asarray(w)
        return known_marginal_diagonal(base, self.random, self.G_matrices(theta))

    def zspace_sensitivities(self, theta, X):
        """Satterthwaite's ``B_j`` from Z-space quantities, or ``None`` (blocks)."""
        if not self.zspace_active():
            return None
        if self._known_zspace:
            raise NotImplementedError("Satterthwaite sensitivities are not available with a "
                                      "known covariance on the Z-space path")
        from .zspace import ZSpaceSensitivities
        return ZSpaceSensitivities(self.zspace_design(), np.asarray(theta, dtype=float), X,
                                   self._r_slices[0].start, self.n_params)

    def pattern_view(self, y, X):
        """Per-pattern evaluator (:class:`~metamodels.core.patterns.PatternView`) for
        residual-only models (no random terms), else ``None``."""
        if not self.use_fast_paths or self.random or self.known is not None \
                or self.residual is None:
            return None

        def make(y, X):
            w = self.residual.weights
            if w is None:
                return make_unweighted(y, X)
            # V = A R A with A = W^{-1/2}: the unweighted evaluator on (A^-1 y, A^-1 X)
            # gives every term but log|V| = log|R| - sum log w
            root = np.sqrt(w)
            view = make_unweighted(y * root, X * root[:, None])
            return None if view is None else _WeightedView(view, float(np.sum(np.log(w))))

        def make_unweighted(y, X):
            from .patterns import PatternView
            res = self.residual
            block, _ = self._row_blocks()
            q = self.n_params
            cost = sum(r.shape[0] * (q * r.shape[1] ** 3 + q * q * r.shape[1] ** 2)
                       for r in self.layout.groups)
            nb = int(block.max()) + 1
            subj = np.zeros(nb, dtype=np.int64)
            subj[block] = res.subject
            if np.any(subj[block] != res.subject):
                return None                   # a block holding several subjects
            d = res.structure.dim
            cg = res.cov_group
            lo = np.full(nb, cg.max() + 1)
            hi = np.full(nb, -1)
            np.minimum.at(lo, block, cg)
            np.maximum.at(hi, block, cg)
            shared = bool(np.all(lo == hi))   # one cov_group per subject
            if shared:
                slot, cls, D = res.visit, cg, d
            else:
                slot, cls, D = cg * d + res.visit, np.zeros_like(cg), d * res.n_cov_groups
            if D > 64:
                return None
            slot_cov = _SlotCovariance(self, shared, D)
            return PatternView(block, slot, cls, y, X, D, slot_cov, q, dense_cost=cost)

        return self._cached_view("pattern", y, X, make)

    def hessian_contract(self, theta, W):
        """``sum_jk W_jk d^2V / dtheta_j dtheta_k`` per group (nb, m, m), for a symmetric
        ``W`` (q, q); ``None`` if linear.  The contraction is done on the small G and R
        matrices, then gathered like ``V`` (second derivatives only couple parameters of
        the same structure)."""
        if self.is_linear:
            return None
        W = np.asarray(W, dtype=float)
        g_par, r_par = self.split(theta)
        rs = None if self.residual is None else self.residual.structure
        d2G = [None if p.structure.is_linear else
               _contract(W[sl, sl], p.structure.second_derivatives(t))
               for p, t, sl in zip(self.random, g_par, self._g_slices)]
        direct = self._direct()
        if rs is None or rs.is_linear:
            d2R = [None for _ in r_par]
        elif direct:
            d2R = [(t, W[sl, sl]) for t, sl in zip(r_par, self._r_slices)]
        else:
            d2R = [_contract(W[sl, sl], rs.second_derivatives(t))
                   for t, sl in zip(r_par, self._r_slices)]
        out = []
        for g in self._groups:
            nb, m = g["rows"].shape
            H = np.zeros((nb, m, m))
            for Zt, St, M in zip(g["Z"], g["S"], d2G):
                if M is not None:
                    H += masked_zgz(Zt, St, M)
            for mask, M in zip(g["R_masks"], d2R):
                if M is None:
                    continue
                H += mask * (rs.gather_contracted(M[0], M[1], g["vi"], g["vj"]) if direct
                             else M[g["vi"], g["vj"]])
            out.append(H)
        return out

    def hessian_terms(self, theta):
        """Second derivatives ``d^2V / dtheta_j dtheta_k`` per group (None if linear)."""
        if self.is_linear:
            return None
        q = self.n_params
        g_par, r_par = self.split(theta)
        out = []
        for g in self._groups:
            nb, m = g["rows"].shape
            H = np.zeros((q, q, nb, m, m))
            for Zt, St, p, t, sl in zip(g["Z"], g["S"], self.random, g_par, self._g_slices):
                if p.structure.is_linear:
                    continue
                d2 = p.structure.second_derivatives(t)
                H[sl, sl] = masked_zd2z(Zt, St, d2)
            rs = None if self.residual is None else self.residual.structure
            for mask, t, sl in zip(g["R_masks"], r_par, self._r_slices):
                if rs.is_linear:
                    continue
                H[sl, sl] = mask * rs.gather_second_derivatives(t, g["vi"], g["vj"])
            out.append(H)
        return out


def _contract(W, d2):
    """``sum_jk W_jk d2[j, k]`` for second derivatives ``d2`` (q, q, d, d)."""
    return np.tensordot(W, d2, axes=([0, 1], [0, 1]))


def _weight_scale(w):
    """``1 / sqrt(w_i w_j)`` for a stack of blocks' weights (nb, m) -> (nb, m, m)."""
    a = 1.0 / np.sqrt(w)
    return a[:, :, None] * a[:, None, :]


class _WeightedView:
    """A fast evaluator of the unweighted model on ``W^{1/2} y``, ``W^{1/2} X`` turned into
    one of the weighted model: ``log|V|`` gains ``-sum log w`` and the log-likelihood
    ``+1/2 sum log w``; ``beta``, its covariance and all derivatives in theta are equal."""

    def __init__(self, view, sum_log_w):
        self._view = view
        self._shift = sum_log_w

    def __getattr__(self, name):
        return getattr(self._view, name)

    def evaluate(self, theta, reml, order):
        import dataclasses
        ev = self._view.evaluate(theta, reml, order)
        if ev is None:
            return None
        return dataclasses.replace(ev, llf=ev.llf + 0.5 * self._shift,
                                   logdet_v=ev.logdet_v - self._shift)


def _row_order(residual):
    """Within-block order: by subject, then visit (so R sub-matrices are ordered)."""
    return residual.subject.astype(np.int64) * (int(residual.visit.max()) + 1) + residual.visit


class _SlotCovariance:
    """Residual covariances of :class:`BlockCovariance` in the slot space of
    :class:`~metamodels.core.patterns.PatternView`: one class per ``cov_group`` level
    (slots = visits) when every subject has one level, else a single class whose slots are
    ``(cov_group, visit)`` pairs and whose covariance is block diagonal over the levels."""

    def __init__(self, spec, shared, D):
        self.spec = spec
        self.shared = shared
        self.D = D
        self.d = spec.residual.structure.dim
        self.K = spec.residual.n_cov_groups if shared else 1

    def _place(self, mats, lead):
        """Put per-level arrays ``(..., d, d)`` into ``(K, *lead, D, D)``."""
        out = np.zeros((self.K, *lead, self.D, self.D))
        d = self.d
        for c, m in enumerate(mats):
            if self.shared:
                out[c, ...] = m
            else:
                out[0, ..., c * d:(c + 1) * d, c * d:(c + 1) * d] = m
        return out

    def matrices(self, theta):
        return self._place(self.spec.R_matrices(theta), ())

    def derivatives(self, theta):
        spec = self.spec
        q = spec.n_params
        _, r_par = spec.split(theta)
        mats = []
        for c, (t, sl) in enumerate(zip(r_par, spec._r_slices)):
            full = np.zeros((q, self.d, self.d))
            full[sl] = spec.residual.structure.derivatives(t)
            mats.append(full)
        return self._place(mats, (q,))

    def second_derivatives(self, theta):
        spec = self.spec
        rs = spec.residual.structure
        if rs.is_linear:
            return None
        q = spec.n_params
        _, r_par = spec.split(theta)
        mats = []
        for t, sl in zip(r_par, spec._r_slices):
            full = np.zeros((q, q, self.d, self.d))
            full[sl, sl] = rs.second_derivatives(t)
            mats.append(full)
        return self._place(mats, (q, q))

