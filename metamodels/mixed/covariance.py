"""V(theta) of a linear mixed model: random effects (G side) plus residual (R side).

For block ``b`` (an independent unit) with rows ``i, j``:

.. math::

    V_b[i, j] = \\sum_t 1[g_t(i) = g_t(j)]\\, z_{t,i}' G_t(\\theta_t) z_{t,j}
               + 1[s(i) = s(j)]\\, 1[c(i) = c(j)]\\, R_{c(i)}(\\theta_R)[v(i), v(j)]

where ``t`` runs over random terms (design rows ``z_{t,i}``, grouping codes ``g_t``,
covariance ``G_t`` from a :mod:`~metamodels.core.structures` structure), ``s`` is the
residual subject, ``v`` the repeated-measures index (visit) and ``c`` the ``cov_group``
level.  Missing visits are handled by gathering the observed sub-matrix of ``R``.  With
observation weights ``w`` (SAS's ``WEIGHT`` statement) the residual term is scaled to
``R[v(i), v(j)] / sqrt(w_i w_j)``, i.e. ``R_b = W_b^{-1/2} R W_b^{-1/2}``; its
derivatives are scaled alike (the weights are constants).
Blocks of equal size are stacked, so building ``V`` and its derivatives is a handful of
batched array operations per block size.
"""
from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from ..core.blocks import BlockLayout
from ..core.covariance import CovarianceSpec
from ..core.structures import params_from, params_to, search_structure

__all__ = ["RandomPart", "ResidualPart", "MixedCovariance", "g_parameter_names",
           "random_parameter_layout", "search_parts"]


@dataclass(frozen=True)
class RandomPart:
    """One random-effects term: ``Z`` (n, q), grouping codes (n,), structure over q."""

    name: str
    Z: np.ndarray
    groups: np.ndarray
    structure: object
    column_names: tuple


@dataclass(frozen=True)
class ResidualPart:
    """Residual covariance: structure over ``dim`` visits, per-row visit index and
    subject codes, optional per-row covariance-group codes (SAS ``GROUP=``)."""

    structure: object          # one structure per cov_group level (same type)
    visit: np.ndarray          # (n,) int in 0..dim-1 (all 0 for independent residuals)
    subject: np.ndarray        # (n,) int codes; rows of different subjects are independent
    cov_group: np.ndarray      # (n,) int codes 0..n_cov_groups-1
    n_cov_groups: int
    group_labels: tuple = ("",)
    weights: np.ndarray | None = None   # (n,) positive observation weights (SAS WEIGHT)


def random_block_arrays(random, rows):
    """Per block group: the random terms' design rows ``Z[rows]`` (nb, m, q) and their
    same-level masks ``1[g(i) = g(j)]`` (nb, m, m)."""
    Z = [p.Z[rows] for p in random]
    S = [(p.groups[rows][:, :, None] == p.groups[rows][:, None, :]).astype(float)
         for p in random]
    return Z, S


def masked_zgz(Zt, St, G):
    """``1[g(i) = g(j)] z_i' G z_j`` for a stack of blocks: (nb, m, m)."""
    return St * np.matmul(Zt @ G, np.swapaxes(Zt, 1, 2))


def masked_zdz(Zt, St, dG):
    """First derivatives of :func:`masked_zgz`, ``dG`` (q, k, k) -> (q, nb, m, m)."""
    return St[None] * np.matmul(np.matmul(Zt[None], dG[:, None]), np.swapaxes(Zt, 1, 2)[None])


def masked_zd2z(Zt, St, d2G):
    """Second derivatives of :func:`masked_zgz`, ``d2G`` (q, q, k, k) -> (q, q, nb, m, m)."""
    return St * np.einsum("bik,qrkl,bjl->qrbij", Zt, d2G, Zt)


class MixedCovariance(CovarianceSpec):
    """Block-diagonal ``V(theta) = sum_t Z_t G_t Z_t' + R`` for the engine.

    Parameters
    ----------
    random : list of RandomPart
    residual : ResidualPart
    block_ids : (n,) int array
        Independent units (connected components of the groupings and subjects).
    """

    #: Offer the specialised evaluators (Woodbury for ``R = sigma^2 I`` with random terms,
    #: per-pattern factorisation for residual-only models) to the engine; set to ``False``
    #: on an instance to force the dense block path (same results, slower).
    use_fast_paths = True

    def __init__(self, random, residual, block_ids):
        self.random = list(random)
        self.residual = residual
        self._block_ids = block_ids
        n = residual.visit.shape[0]
        self.layout = BlockLayout.from_labels(block_ids, order=_row_order(residual))
        names, lower, upper, slices, pos = random_parameter_layout(self.random)
        rs = residual.structure
        self._r_slices = []
        for c in range(residual.n_cov_groups):
            prefix = "" if residual.n_cov_groups == 1 else f"{residual.group_labels[c]} "
            names += [f"{prefix}{nm}" for nm in rs.param_names]
            lower.append(rs.lower)
            upper.append(rs.upper)
            self._r_slices.append(slice(pos, pos + rs.n_params))
            pos += rs.n_params
        self._g_slices = slices
        self.param_names = tuple(names)
        self.lower = np.concatenate(lower)
        self.upper = np.concatenate(upper)
        self.is_linear = all(p.structure.is_linear for p in self.random) and rs.is_linear
        self._prepare(n)

    # ------------------------------------------------------------------ set-up
    def _prepare(self, n):
        self._groups = []
        res = self.residual
        for rows in self.layout.groups:
            g = {"rows": rows}
            g["Z"], g["S"] = random_block_arrays(self.random, rows)
            vis = res.visit[rows]
            g["vi"], g["vj"] = vis[:, :, None], vis[:, None, :]
            same_subj = res.subject[rows][:, :, None] == res.subject[rows][:, None, :]
            cg = res.cov_group[rows]
            g["R_masks"] = [(same_subj & (cg[:, :, None] == c) & (cg[:, None, :] == c))
                            .astype(float) for c in range(res.n_cov_groups)]
            if res.weights is not None:
                g["R_masks"] = [m * _weight_scale(res.weights[rows]) for m in g["R_masks"]]
            self._groups.append(g)

    # ------------------------------------------------------------ parameters
    def split(self, theta):
        """``(list of G-structure parameter vectors, list of R parameter vectors)``."""
        theta = np.asarray(theta, dtype=float)
        return ([theta[s] for s in self._g_slices], [theta[s] for s in self._r_slices])

    def G_matrices(self, theta):
        g_par, _ = self.split(theta)
        return [p.structure.matrix(t) for p, t in zip(self.random, g_par)]

    def R_matrices(self, theta):
        _, r_par = self.split(theta)
        return [self.residual.structure.matrix(t) for t in r_par]

    def start(self, resid_variance):
        """Starting values: each structure's own start from the residual variance."""
        parts = [p.structure.start(resid_variance / max(1, len(self.random)) / 2.0)
                 for p in self.random]
        parts += [self.residual.structure.start(resid_variance)
                  for _ in range(self.residual.n_cov_groups)]
        return np.concatenate([np.atleast_1d(np.asarray(p, dtype=float)) for p in parts])

    def psd_variant(self):
        """The same ``V`` with every ``G`` structure replaced by its positive
        semi-definite variant on the SD scale
        (:func:`~metamodels.core.structures.search_structure`: standard deviations and
        closed correlation ranges, lme4's constraint) and the maps between the parameter
        vectors: ``(spec, to_self, from_self)``.  R-side parameters are shared."""
        random, to_self, from_self = search_parts(self.random, self._g_slices)
        if all(a is b for a, b in zip(random, self.random)):
            return self, to_self, from_self
        return MixedCovariance(random, self.residual, self._block_ids), to_self, from_self

    # ----------------------------------------------------------- engine API
    def build(self, theta):
        Gs = self.G_matrices(theta)
        Rs = self.R_matrices(theta)
        out = []
        for g in self._groups:
            V = 0.0
            for Zt, St, G in zip(g["Z"], g["S"], Gs):
                V = V + masked_zgz(Zt, St, G)
            for mask, R in zip(g["R_masks"], Rs):
                V = V + mask * R[g["vi"], g["vj"]]
            out.append(np.asarray(V))
        return out

    def jacobian(self, theta):
        g_par, r_par = self.split(theta)
        dG = [p.structure.derivatives(t) for p, t in zip(self.random, g_par)]
        dR = [self.residual.structure.derivatives(t) for t in r_par]
        out = []
        for g in self._groups:
            nb, m = g["rows"].shape
            parts = []
            for Zt, St, d in zip(g["Z"], g["S"], dG):
                parts.append(masked_zdz(Zt, St, d))
            for mask, d in zip(g["R_masks"], dR):
                parts.append(mask[None] * d[:, g["vi"], g["vj"]])
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
        if not self.use_fast_paths or not self.random \
                or not self._residual_is_scaled_identity():
            return None

        def make(y, X):
            from ..core.lowrank import LowRankTerm, LowRankView
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

    def pattern_view(self, y, X):
        """Per-pattern evaluator (:class:`~metamodels.core.patterns.PatternView`) for
        residual-only models (no random terms), else ``None``."""
        if not self.use_fast_paths or self.random:
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
            from ..core.patterns import PatternView
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
        rs = self.residual.structure
        d2G = [None if p.structure.is_linear else
               _contract(W[sl, sl], p.structure.second_derivatives(t))
               for p, t, sl in zip(self.random, g_par, self._g_slices)]
        d2R = [None if rs.is_linear else _contract(W[sl, sl], rs.second_derivatives(t))
               for t, sl in zip(r_par, self._r_slices)]
        out = []
        for g in self._groups:
            nb, m = g["rows"].shape
            H = np.zeros((nb, m, m))
            for Zt, St, M in zip(g["Z"], g["S"], d2G):
                if M is not None:
                    H += masked_zgz(Zt, St, M)
            for mask, M in zip(g["R_masks"], d2R):
                if M is not None:
                    H += mask * M[g["vi"], g["vj"]]
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
            for mask, t, sl in zip(g["R_masks"], r_par, self._r_slices):
                if self.residual.structure.is_linear:
                    continue
                d2 = self.residual.structure.second_derivatives(t)
                H[sl, sl] = mask * d2[:, :, g["vi"], g["vj"]]
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


def random_parameter_layout(random):
    """Labels, bounds and theta slices of the ``G`` parameters of the random parts, in
    order: ``(names, lower, upper, slices, n_params)`` (lists, for callers to extend)."""
    names, lower, upper, slices = [], [], [], []
    pos = 0
    for part in random:
        s = part.structure
        names += [f"{part.name} {nm}" for nm in g_parameter_names(part)]
        lower.append(s.lower)
        upper.append(s.upper)
        slices.append(slice(pos, pos + s.n_params))
        pos += s.n_params
    return names, lower, upper, slices, pos


def search_parts(random, slices, make=search_structure):
    """The random parts with the structures a fit searches over (``make``, by default
    :func:`~metamodels.core.structures.search_structure`: PSD by construction, on the SD
    scale) and the maps of the full parameter vector (other entries unchanged):
    ``(parts, to_given, from_given)``, ``to_given`` taking search parameters to those of
    the given parts."""
    found = [make(p.structure) for p in random]
    parts = [p if s is p.structure else replace(p, structure=s) for p, s in zip(random, found)]
    pairs = [(n.structure, o.structure, sl) for n, o, sl in zip(parts, random, slices)
             if n.structure is not o.structure]

    def to_given(theta):
        out = np.array(theta, dtype=float)
        for new, old, sl in pairs:
            out[sl] = params_to(new, old, out[sl])
        return out

    def from_given(theta):
        out = np.array(theta, dtype=float)
        for new, old, sl in pairs:
            out[sl] = np.clip(params_from(new, old, out[sl]), new.lower, new.upper)
        return out

    return parts, to_given, from_given


def g_parameter_names(part):
    """lme4-like names of a random term's G parameters: ``Var(col)`` / ``Cov(col1,col2)``
    for UN, ``Var(col)`` for one column, ``Var`` for one variance shared by several
    columns, the structure's own ``labels(columns)`` when it has them (the PSD structures:
    ``Var(col)``, ``Corr(col2,col1)``), otherwise its parameter names."""
    s = part.structure
    cols = part.column_names
    if hasattr(s, "labels"):
        return list(s.labels(cols))
    if s.name == "UN":
        return [f"Var({cols[i]})" if i == j else f"Cov({cols[j]},{cols[i]})"
                for i in range(len(cols)) for j in range(i + 1)]
    if s.n_params == 1:
        return ["Var" if len(cols) > 1 else f"Var({cols[0]})"]
    return list(s.param_names)


class _SlotCovariance:
    """Residual covariances of :class:`MixedCovariance` in the slot space of
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
