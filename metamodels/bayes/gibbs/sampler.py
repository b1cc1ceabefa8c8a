"""Blocked Gibbs sampler of the linear mixed model, vectorised across chains.

Model (see :mod:`metamodels.bayes.gibbs`)::

    y = X b + sum_t Z_t u_t + e,   u_t ~ N(0, I (x) G_t),   e ~ N(0, R)

One iteration, for all chains at once (arrays carry a leading chain axis):

1. ``(b, u) | G, R, y_obs`` jointly, marginally over missing visits: Gaussian with
   precision ``P = W' R_obs^-1 W + blockdiag(P_b, I (x) G_t^-1)`` and mean
   ``P^-1 (W' R_obs^-1 y + P_b m_b)`` (``W = [X | Z]``), drawn as ``P^-1 (r + L z)``
   with ``L L' = P``.  Independent residuals: ``W' R^-1 W = sum_k w_k T_k`` with
   precomputed ``T_k``.  ``UN`` residuals: ``R_oo^-1`` once per missingness pattern,
   accumulated from small per-subject products over the columns each subject touches.
2. Residual covariance.  Independent residuals (``ID``/``VC``; ``CS`` after its
   random-intercept representation): inverse gamma (or half-t) update per class.
   ``UN``: data augmentation -- the residuals of missing visits are drawn from their
   conditional normal given the observed ones (Matheron's rule:
   ``eps ~ N(0, R)``, ``e_m = eps_m + R_mo R_oo^-1 (e_o - eps_o)``), then
   ``R ~ IW(nu + n_subjects, Psi + sum_s e_s e_s')`` from the completed vectors.
3. ``G_t | u_t``: inverse gamma / inverse Wishart (or their half-t versions).

Step 1 does not condition on the imputed residuals: conditioning on them instead (the
textbook augmented sampler) makes ``b`` mix very slowly when repeated measures are
strongly correlated, because the imputations carry the previous ``b``.  Steps 1 and the
imputation together draw ``(b, u, e_m)`` from their joint conditional, so the chain
remains a valid (blocked) Gibbs sampler.
"""
from __future__ import annotations

import time
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from .layout import build_layout
from .priors import GibbsPriors, draw_diag, draw_full

if TYPE_CHECKING:
    from numpy.typing import ArrayLike

    from ...mixed.model import MixedModel

__all__ = ["GibbsSampler", "GibbsDraws"]

_GEMM_SINGLE = 250_000      # m * n * k below which OpenBLAS's GEMM runs single-threaded


@dataclass(frozen=True, eq=False)
class GibbsDraws:
    """Raw output of :meth:`GibbsSampler.run`.

    Parameters
    ----------
    beta : ndarray (chains, kept, p)
        Fixed effects.
    theta : ndarray (chains, kept, n_theta)
        Covariance parameters in ``model.spec`` order (``res.theta`` of the frequentist fit).
    u_mean : ndarray (chains, n_u)
        Posterior mean of the random effects (``W`` column order after ``X``).
    iteration : ndarray (kept,)
        Iteration number (1-based, after burn-in) of each kept draw.
    seconds : float
        Sampling time.
    """

    beta: np.ndarray
    theta: np.ndarray
    u_mean: np.ndarray
    iteration: np.ndarray
    seconds: float


def _gram(WT, A):
    """``WT @ A`` for ``A`` (C, m, K), summed over row chunks small enough for OpenBLAS to
    stay single-threaded (its threaded GEMM is very slow on a busy machine, and these
    products are small)."""
    K, m = WT.shape
    step = max(64, _GEMM_SINGLE // max(1, K * A.shape[-1]))
    if step >= m:
        return WT @ A
    out = WT[:, :step] @ A[:, :step]
    for a in range(step, m, step):
        out += WT[:, a:a + step] @ A[:, a:a + step]
    return out


class _Chains:
    """State and per-run constants of ``C`` chains (one :meth:`GibbsSampler.run`)."""

    def __init__(self, lay, yC, rng, mats, invs, auxs):
        self.lay, self.rng = lay, rng
        self.C = C = yC.shape[0]
        self.y = yC
        self.mats, self.invs, self.auxs = mats, invs, auxs
        self.WT = np.ascontiguousarray(lay.W.T)
        self.P0 = lay.beta_prec
        self.P0m = self.P0 @ lay.beta_mean
        self.has_prior = bool(np.any(self.P0))
        self.level_onehot = []
        for tb in lay.terms:
            k = lay.components[tb.component].n_classes
            self.level_onehot.append(None if k == 1 else np.eye(k)[tb.level_class])
        if lay.resid_kind != "un":
            return
        d, N, K = lay.dim, lay.n_units, lay.K
        ypad = np.zeros((C, N * d))
        ypad[:, lay.slots] = yC
        # [W | y] per chain: one product gives both W' R^-1 W and W' R^-1 y
        if lay.compact:
            kc = lay.Wc.shape[2]
            self.Wy = np.concatenate([np.broadcast_to(lay.Wc, (C, N, d, kc)),
                                      ypad.reshape(C, N, d, 1)], axis=3)
            cols = np.concatenate([lay.compact_cols, np.full((N, 1), K)], axis=1)
            K2 = K + 2
            self.scatter = (np.arange(C)[:, None, None, None] * K2 * K2
                            + lay.compact_cols[None, :, :, None] * K2
                            + cols[None, :, None, :]).ravel()
        else:
            self.Wy = np.concatenate([np.broadcast_to(lay.Wpad, (C, N, d, K)),
                                      ypad.reshape(C, N, d, 1)], axis=3)
        self.E = np.zeros((C, N * d))
        self.obs = lay.obs[..., None]
        self.root = np.linalg.cholesky(mats[lay.resid_component])
        self.Ru = None

    # ------------------------------------------------------------ (b, u) step
    def precision(self):
        """``(W' R_obs^-1 W, W' R_obs^-1 y)`` of each chain."""
        lay, C, K = self.lay, self.C, self.lay.K
        rc = lay.resid_component
        if lay.resid_kind != "un":
            rp = self.invs[rc][:, :, 0, 0]
            wrow = rp[:, lay.row_class]
            if lay.T is not None:
                P = (rp @ lay.T).reshape(C, K, K)
            else:
                P = (self.WT[None] * wrow[:, None, :]) @ lay.W
            return P, (self.y * wrow) @ lay.W
        # R_oo^-1 of every missingness pattern, zero-padded to dim x dim
        R = self.mats[rc]
        tab = np.linalg.inv(R[:, lay.pattern_cg] * lay.pat_obs2 + lay.pat_eye_mis)
        tab -= lay.pat_eye_mis
        self.Ru = Ru = tab[:, lay.unit_pattern]                               # (C, N, d, d)
        if lay.compact:
            G = lay.WcT @ (Ru @ self.Wy)                                  # (C, N, kc, kc+1)
            K2 = K + 2
            PR = np.bincount(self.scatter, G.ravel(), C * K2 * K2).reshape(C, K2, K2)
        else:
            PR = _gram(lay.WflatT, (Ru @ self.Wy).reshape(C, lay.n_units * lay.dim, K + 1))
        return PR[:, :K, :K], PR[:, :K, K]

    def draw_bu(self):
        lay, p = self.lay, self.lay.p
        P, rhs = self.precision()
        if self.has_prior:
            P[:, :p, :p] += self.P0
            rhs[:, :p] += self.P0m
        for tb, (ii, jj), oh in zip(lay.terms, lay.term_index, self.level_onehot):
            Gi = self.invs[tb.component]
            P[:, ii, jj] += Gi[:, 0][:, None] if oh is None else Gi[:, tb.level_class]
        # N(P^-1 r, P^-1) as P^-1 (r + L z) with L L' = P: one factorisation, one solve
        Lc = np.linalg.cholesky(P)
        rhs += (Lc @ self.rng.standard_normal((self.C, lay.K, 1)))[..., 0]
        return np.linalg.solve(P, rhs[..., None])[..., 0]

    # ---------------------------------------------------------- covariances
    def update_residual(self, e):
        lay, C = self.lay, self.C
        rc = lay.resid_component
        comp = lay.components[rc]
        if comp.fixed is not None:
            return
        if lay.resid_kind != "un":
            ss = (e * e) @ lay.row_onehot
            v = draw_diag(comp.prior, ss[..., None], comp.counts, self.auxs[rc], self.rng)
            self.mats[rc] = v[..., None]
            self.invs[rc] = 1.0 / self.mats[rc]
            return
        d, N = lay.dim, lay.n_units
        E = self.E
        E[:, lay.slots] = e
        R = self.mats[rc]
        if lay.mis_slots.size:
            # e_m | e_o by conditioning a joint draw (Matheron's rule):
            # eps ~ N(0, R), e_m = eps_m + R_mo R_oo^-1 (e_o - eps_o); root root' = R
            z = self.rng.standard_normal((C, N, d))
            if lay.ncg == 1:
                eps = z @ np.swapaxes(self.root[:, 0], 1, 2)
                k = (self.Ru @ ((E.reshape(C, N, d) - eps)[..., None] * self.obs))[..., 0]
                x = eps + k @ R[:, 0]
            else:
                eps = (self.root[:, lay.unit_cg] @ z[..., None])[..., 0]
                k = self.Ru @ ((E.reshape(C, N, d) - eps)[..., None] * self.obs)
                x = eps + (R[:, lay.unit_cg] @ k)[..., 0]
            E[:, lay.mis_slots] = x.reshape(C, N * d)[:, lay.mis_slots]
        E3 = E.reshape(C, N, d)
        if lay.ncg == 1:
            S = (np.swapaxes(E3, 1, 2) @ E3)[:, None]
        else:
            S = np.einsum("cua,cub,ug->cgab", E3, E3, lay.cg_onehot)
        self.mats[rc], _, self.root = draw_full(comp.prior, S, comp.counts, self.auxs[rc],
                                                self.rng, inverse=False)

    def update_terms(self, bu):
        lay, C = self.lay, self.C
        for tb, oh in zip(lay.terms, self.level_onehot):
            ci = tb.component
            comp = lay.components[ci]
            if comp.fixed is not None:
                continue
            U = bu[:, tb.offset:tb.offset + tb.n_levels * tb.q].reshape(C, tb.n_levels, tb.q)
            if comp.kind == "diag":
                uu = U * U
                ss = uu.sum(axis=1)[:, None] if oh is None else np.einsum("clq,lk->ckq", uu, oh)
                v = draw_diag(comp.prior, ss, comp.counts, self.auxs[ci], self.rng)[..., None]
                if tb.q > 1:
                    v = v * np.eye(tb.q)
                self.mats[ci] = v
                self.invs[ci] = 1.0 / v if tb.q == 1 else np.linalg.inv(v)
            else:
                S = (np.swapaxes(U, 1, 2) @ U)[:, None] if oh is None else \
                    np.einsum("clq,clr,lk->ckqr", U, U, oh)
                self.mats[ci], self.invs[ci], _ = draw_full(comp.prior, S, comp.counts,
                                                            self.auxs[ci], self.rng)

    def theta(self):
        flat = np.concatenate([m.reshape(self.C, -1) for m in self.mats], axis=1)
        return flat[:, self.lay.theta_index]


class GibbsSampler:
    """Gibbs sampler of a :class:`~metamodels.MixedModel`.

    The blocked sampler of :mod:`metamodels.bayes.gibbs.sampler`: per iteration
    ``(b, u)`` jointly, the missing repeated measures of ``UN`` residuals, then ``R`` and
    each ``G_t`` from their conjugate full conditionals, for all chains at once.  Most
    users call :func:`fit_bayes` (``MixedModel.fit_bayes``) instead.

    Parameters
    ----------
    model : MixedModel
        The model; random terms and residual structure as listed in :func:`fit_bayes`.
    priors : GibbsPriors, optional
        Prior settings (default ``GibbsPriors()``).

    Raises
    ------
    NotImplementedError
        For covariance structures without a conjugate prior.
    ValueError
        For invalid ``fixed`` priors.

    Notes
    -----
    The layout (design, precomputed precision basis, priors) is built once; :meth:`run`
    can be called repeatedly, also with other responses of the same design (``y=`` with one
    response per chain, as used for simulation-based calibration).

    Examples
    --------
    >>> import metamodels as mm
    >>> from metamodels.bayes.gibbs import GibbsSampler
    >>> df = mm.datasets.load("sleepstudy")
    >>> model = mm.MixedModel.from_formula("Reaction ~ Days + (Days | Subject)", data=df)
    >>> raw = GibbsSampler(model).run(draws=200, burn=100, chains=2, seed=1)
    >>> raw.beta.shape, raw.theta.shape        # (chains, kept, parameters)
    ((2, 200, 2), (2, 200, 4))
    """

    def __init__(self, model: MixedModel, priors: GibbsPriors | None = None) -> None:
        self.priors = priors if priors is not None else GibbsPriors()
        self.layout = build_layout(model, self.priors)

    # ------------------------------------------------------------------ start
    def _start(self, yC, rng):
        lay = self.layout
        C = yC.shape[0]
        coef = np.linalg.lstsq(lay.X, yC.T, rcond=None)[0]
        r = yC - (lay.X @ coef).T
        s2 = np.maximum(np.sum(r * r, axis=1) / max(1, lay.n - lay.p), 1e-8)   # (C,)
        n_terms = max(1, len(lay.terms))
        mats, invs, auxs = [], [], []
        for ci, comp in enumerate(lay.components):
            q, k = comp.q, comp.n_classes
            if comp.fixed is not None:
                m = np.broadcast_to(comp.fixed, (C, k, q, q)).copy()
            else:
                if ci == lay.resid_component:
                    base = s2 / 2.0 if lay.terms else s2
                elif comp.name == "CS":
                    base = 0.25 * s2
                else:
                    base = s2 / (2.0 * n_terms)
                jit = np.exp(0.3 * rng.standard_normal((C, k, q)))
                m = (base[:, None, None] * jit)[..., None] * np.eye(q)
            mats.append(m)
            invs.append(np.linalg.inv(m))
            aux = None
            if comp.prior.has_aux:
                aux = np.full((C, k, q), 1.0 / comp.prior.A ** 2)
            auxs.append(aux)
        return mats, invs, auxs

    # -------------------------------------------------------------------- run
    def run(self, draws: int = 1000, burn: int = 500, thin: int = 1, chains: int = 2,
            seed: int | np.random.SeedSequence | np.random.Generator | None = None,
            y: ArrayLike | None = None) -> GibbsDraws:
        """Run the chains.

        Parameters
        ----------
        draws : int
            Iterations after burn-in per chain (SAS ``NMC=``); every ``thin``-th is kept.
        burn : int
            Burn-in iterations per chain (SAS ``NBI=``).
        thin : int
            Keep every ``thin``-th iteration (SAS ``THIN=``).
        chains : int
            Number of chains, run together (vectorised).
        seed : int, SeedSequence or Generator, optional
            Seed or generator of the random numbers (None: fresh entropy).
        y : array_like (n,) or (chains, n), optional
            Response(s); default the model's.  One row per chain runs independent
            analyses of different data sets in one vectorised sweep.

        Returns
        -------
        GibbsDraws
            ``draws // thin`` kept draws per chain.

        Raises
        ------
        ValueError
            Unless ``draws >= thin >= 1``, ``burn >= 0`` and ``chains >= 1``.
        """
        lay = self.layout
        draws, burn, thin, chains = int(draws), int(burn), int(thin), int(chains)
        if draws < 1 or burn < 0 or thin < 1 or chains < 1 or draws < thin:
            raise ValueError("need draws >= thin >= 1, burn >= 0 and chains >= 1")
        rng = seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)
        yC = lay.y if y is None else np.asarray(y, dtype=float)
        yC = np.broadcast_to(yC, (chains, lay.n)).copy()
        C, p = chains, lay.p
        ch = _Chains(lay, yC, rng, *self._start(yC, rng))
        kept = draws // thin
        out_beta = np.empty((C, kept, p))
        out_theta = np.empty((C, kept, len(lay.theta_index)))
        u_sum = np.zeros((C, lay.K - p))
        t0 = time.perf_counter()
        s = 0
        for it in range(burn + kept * thin):
            bu = ch.draw_bu()
            ch.update_residual(yC - bu @ ch.WT)
            ch.update_terms(bu)
            if it >= burn and (it - burn + 1) % thin == 0:
                out_beta[:, s] = bu[:, :p]
                out_theta[:, s] = ch.theta()
                u_sum += bu[:, p:]
                s += 1
        seconds = time.perf_counter() - t0
        iteration = (np.arange(kept) + 1) * thin
        return GibbsDraws(out_beta, out_theta, u_sum / max(kept, 1), iteration, seconds)
