r"""The GLMMs of metafor's ``rma.glmm`` written as cluster designs (Stijnen, Hamza &
Ozdemir 2010; Jackson et al. 2018).

Study ``i`` (moderator row ``x_i``, ``k`` studies, coefficients ``b``) is a cluster of
``J`` observations with canonical linear predictor

``eta_ij = offset_ij + X_ij' b + W_ij' w + A_ij' alpha_i + Z_ij' diag(sd) v_i``,
``v_i ~ N(0, I)``,

where ``w`` are further shared coefficients, ``alpha_i`` fixed study effects and ``sd``
the random-effects standard deviations.  With ``g_j = 1, 0`` marking the two groups
(``c_j = +1/2, -1/2``, metafor's ``coding = 1/2``):

* ``UM.FS`` (OR: binomial, IRR: Poisson with offset ``log t_ij``): ``J = 2``,
  ``eta_ij = alpha_i + g_j x_i' b + c_j u_i``, ``u_i ~ N(0, tau^2)``;
* ``UM.RS``: ``eta_ij = w + a_i + g_j x_i' b + c_j u_i`` with independent
  ``a_i ~ N(0, sigma^2)`` and ``u_i ~ N(0, tau^2)``;
* ``CM.AL`` (OR; IRR's ``CM.EL``): ``a_i`` (``x1_i``) of ``a_i + c_i`` (``x1_i + x2_i``)
  events is binomial with ``logit p_i = log(n1_i / n2_i) + x_i' b + u_i``
  (``log(t1_i / t2_i)`` for IRR);
* ``CM.EL`` (OR): ``a_i`` given the margins has Fisher's noncentral hypergeometric
  distribution with log odds ratio ``x_i' b + u_i``;
* ``PLO`` / ``IRLN`` (one group): ``x_i`` of ``n_i`` binomial with logit ``x_i' b + u_i`` /
  Poisson with ``log`` rate ``log t_i + x_i' b + u_i``.

The equal-effects fit (``method="EE"``) drops ``u_i`` (``UM.RS`` keeps ``a_i``).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .families import Binomial, NoncentralHypergeometric, Poisson

__all__ = ["GLMMDesign", "build_design"]


@dataclass(frozen=True)
class GLMMDesign:
    """Arrays of one model (see the module Notes); shapes ``(k, J, ·)``.

    ``Z_fe`` holds the random columns kept by the equal-effects fit, ``Z`` all of them;
    ``A_sat`` the columns of the per-study effects of the saturated model when it is a
    GLMM of its own (``UM.FS``/``UM.RS``: the group-1 indicator), else None;
    ``local_start`` are starting values of ``alpha`` and ``w_start`` of ``w``;
    ``sd_names`` name the random-effects standard deviations (``Z``'s columns);
    ``cor``: the random effects of the ML fit are correlated (``UM.RS`` with metafor's
    ``cor=TRUE``), parametrised by the lower-triangular Cholesky factor ``L`` of their
    covariance (``v_i -> L v_i``, lme4's ``theta``).
    """

    family: object
    offset: np.ndarray
    X: np.ndarray
    W: np.ndarray
    A: np.ndarray
    Z: np.ndarray
    Z_fe: np.ndarray
    A_sat: np.ndarray | None
    local_start: np.ndarray
    w_start: np.ndarray
    sd_names: tuple
    cor: bool = False


def _link_start(y, n_or_t, poisson):
    with np.errstate(divide="ignore", invalid="ignore"):
        if poisson:
            return np.log((y + 0.5) / n_or_t)
        p = (y + 0.5) / (n_or_t + 1.0)
        return np.log(p / (1 - p))


def build_design(measure, model, counts, X, coding=0.5, cor=False):
    """The :class:`GLMMDesign` of ``measure``/``model`` for study-level counts.

    ``counts`` maps metafor's names to float arrays: ``a, b, c, d`` (OR),
    ``x1, t1, x2, t2`` (IRR), ``x, n`` (PLO), ``x, t`` (IRLN).  ``coding`` places the
    random effect ``u_i`` of ``UM.FS``/``UM.RS`` (metafor's ``coding``): ``1/2`` gives
    ``c_j = +1/2, -1/2``, ``1`` gives ``1, 0`` (group 1 only), ``0`` gives ``0, 1``.
    """
    k, p = X.shape
    none = np.zeros((k, 1, 0))
    if measure in ("PLO", "IRLN"):
        x = counts["x"][:, None]
        if measure == "PLO":
            fam, off = Binomial(x, counts["n"][:, None]), np.zeros((k, 1))
        else:
            fam, off = Poisson(x), np.log(counts["t"])[:, None]
        return GLMMDesign(fam, off, X[:, None, :], none, none, np.ones((k, 1, 1)), none, None,
                          np.zeros((k, 0)), np.zeros(0), ("tau",))
    if model in ("CM.AL", "CM.EL"):
        Xc = X[:, None, :]
        if measure == "IRR":
            x1, x2 = counts["x1"], counts["x2"]
            fam = Binomial(x1[:, None], (x1 + x2)[:, None])
            off = np.log(counts["t1"] / counts["t2"])[:, None]
        elif model == "CM.AL":
            a, c = counts["a"], counts["c"]
            n1, n2 = a + counts["b"], c + counts["d"]
            fam = Binomial(a[:, None], (a + c)[:, None])
            off = np.log(n1 / n2)[:, None]
        else:
            a, c = counts["a"], counts["c"]
            n1, n2 = a + counts["b"], c + counts["d"]
            fam = NoncentralHypergeometric(a[:, None], n1[:, None], n2[:, None], (a + c)[:, None])
            off = np.zeros((k, 1))
            return GLMMDesign(fam, off, Xc, none, none, np.ones((k, 1, 1)), none, None,
                              np.zeros((k, 0)), np.zeros(0), ("tau",))
        return GLMMDesign(fam, off, Xc, none, none, np.ones((k, 1, 1)), none, None,
                          np.zeros((k, 0)), np.zeros(0), ("tau",))
    # unconditional models: two arms per study
    if measure == "OR":
        y = np.column_stack([counts["a"], counts["c"]])
        n = np.column_stack([counts["a"] + counts["b"], counts["c"] + counts["d"]])
        fam, off = Binomial(y, n), np.zeros((k, 2))
        start = _link_start(y.sum(axis=1), n.sum(axis=1), False)
    else:
        y = np.column_stack([counts["x1"], counts["x2"]])
        t = np.column_stack([counts["t1"], counts["t2"]])
        fam, off = Poisson(y), np.log(t)
        start = _link_start(y.sum(axis=1), t.sum(axis=1), True)
    g1 = np.array([1.0, 0.0])
    grp = {0.5: np.array([0.5, -0.5]), 1.0: np.array([1.0, 0.0]), 0.0: np.array([0.0, 1.0])}[float(coding)]
    Xa = g1[None, :, None] * X[:, None, :]
    Zg = np.broadcast_to(grp[None, :, None], (k, 2, 1)).copy()
    ones = np.ones((k, 2, 1))
    A_sat = np.broadcast_to(g1[None, :, None], (k, 2, 1)).copy()
    if model == "UM.FS":
        return GLMMDesign(fam, off, Xa, np.zeros((k, 2, 0)), ones, Zg, np.zeros((k, 2, 0)), A_sat,
                          start[:, None], np.zeros(0), ("tau",))
    if model == "UM.RS":
        return GLMMDesign(fam, off, Xa, ones, np.zeros((k, 2, 0)), np.concatenate([ones, Zg], axis=2),
                          ones, A_sat, np.zeros((k, 0)), np.array([np.mean(start)]),
                          ("sigma", "tau"), bool(cor))
    raise ValueError(f"unknown model {model!r}")
