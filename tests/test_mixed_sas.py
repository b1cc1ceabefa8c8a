"""Satterthwaite and Kenward-Roger for every covariance structure against a dense,
brute-force implementation written from the papers.

The reference builds the full ``n x n`` matrix ``V(theta)`` and differentiates it by
central differences (no analytic structure derivative, no block algebra of the engine):

* ``V_j``, ``V_jk`` by finite differences of ``V``;
* ``P = V^-1 - V^-1 X Phi X'V^-1``, ``Phi = (X'V^-1X)^-1``; expected information
  ``I_jk = 1/2 tr(P V_j P V_k)``; observed information (minus the Hessian of the REML
  log-likelihood) ``J_jk = -1/2 tr(P V_j P V_k) + 1/2 tr(P V_jk) + y'P V_j P V_k P y
  - 1/2 y'P V_jk P y``;
* Satterthwaite (Giesbrecht and Burns 1985): ``df = 2 (l'Phi l)^2 / (g'J^-1 g)`` with
  ``g_j = d(l'Phi(theta) l)/dtheta_j`` by finite differences of ``Phi(theta)``;
* Kenward and Roger (1997): ``P_j = -X'V^-1 V_j V^-1 X``,
  ``Q_jk = X'V^-1 V_j V^-1 V_k V^-1 X``, ``R_jk = X'V^-1 V_jk V^-1 X``,
  ``Phi_A = Phi + 2 Phi [sum_jk W_jk (Q_jk - P_j Phi P_k - R_jk / 4)] Phi`` and the
  moment-matched ``F`` approximation (their section 4: ``A_1``, ``A_2``, ``B``, ``g``,
  ``c_1..c_3``, ``E*``, ``V*``, ``rho``, ``m``, ``lambda``), with ``W = J^-1`` (SAS's
  ``DDFM=KR``), ``W = I^-1`` (pbkrtest) and without ``R_jk`` (``kenward-roger-linear``).
"""
import warnings

import numpy as np
import pandas as pd
import pytest

from metamodels import MixedModel

STRUCTS = ["ID", "VC", "CS", "CSH", "AR1", "ARH1", "TOEP", "TOEPH", "UN", "UNR", "ANTE1"]


# ----------------------------------------------------------------------------- data
def _data(seed=11, n_sub=36, d=4, p_miss=0.2):
    rng = np.random.default_rng(seed)
    sd = np.linspace(1.0, 1.8, d)
    lag = np.abs(np.subtract.outer(np.arange(d), np.arange(d)))
    R = np.outer(sd, sd) * 0.6 ** lag
    rows = []
    for s in range(n_sub):
        arm = "trt" if s % 2 else "pbo"
        x = rng.normal()
        e = np.linalg.cholesky(R) @ rng.normal(size=d)
        keep = rng.uniform(size=d) > p_miss
        keep[0] = True
        for v in range(d):
            if keep[v]:
                y = 1.0 + 0.5 * (arm == "trt") + 0.3 * v + 0.4 * x + 0.5 * rng.normal() + e[v]
                rows.append(dict(subj=f"s{s}", arm=arm, visit=v, x=x, y=y,
                                 w=rng.uniform(0.5, 2.0)))
    return pd.DataFrame(rows)


def _model(struct, variant="plain"):
    if variant == "two_visits":              # d = 2 complete visits = 2 AR1 parameters
        df = _data(seed=5, n_sub=40, d=2, p_miss=0.0)
    else:
        df = _data()
    kw = dict(repeated="visit", subject="subj", cov_struct=struct)
    formula = "y ~ C(arm) * C(visit) + x"
    if variant == "weights":
        kw["weights"] = "w"
    elif variant == "group":
        kw["cov_group"] = "arm"
    elif variant == "random":
        formula += " + (1 | subj)"
    elif variant == "g_nonlinear":           # a G matrix non-linear in theta
        formula, kw = "y ~ C(arm) + visit + x + (1 + visit | subj)", dict(re_struct="CSH")
        # subject intercepts and slopes with correlation 0.3, so that the CSH estimate of G
        # lies inside its parameter space (derivatives are checked at an interior point)
        rng = np.random.default_rng(11)
        subj = df["subj"].unique()
        u = rng.multivariate_normal([0, 0], [[1.0, 0.3 * 0.6], [0.3 * 0.6, 0.36]], len(subj))
        idx = pd.Index(subj).get_indexer(df["subj"])
        df = df.assign(y=df["y"] + u[idx, 0] + u[idx, 1] * df["visit"])
    return MixedModel.from_formula(formula, df, **kw)


# ------------------------------------------------------------------ dense reference
def _dense_V(spec, theta, inverse=False):
    """``V(theta)`` as a dense ``n x n`` matrix (or its inverse, inverted block by block:
    a dense LAPACK solve of this size may stall on an oversubscribed machine)."""
    n = spec.layout.nobs
    V = np.zeros((n, n))
    for rows, v in zip(spec.layout.groups, spec.build(theta)):
        v = np.asarray(v)
        if v.ndim == 1:
            v = v[:, None, None]
        if inverse:
            v = np.linalg.inv(v)
        for b in range(rows.shape[0]):
            V[np.ix_(rows[b], rows[b])] = v[b]
    return V


def _steps(theta, rel):
    return rel * np.maximum(1.0, np.abs(theta))


class Dense:
    """Everything Satterthwaite and Kenward-Roger need, computed densely at ``theta``."""

    def __init__(self, res):
        mod = res.model
        self.spec, self.X, self.y = mod.spec, mod.exog, mod.endog
        self.theta = th = np.asarray(res._fit.theta, dtype=float)
        q = th.size
        V = _dense_V(self.spec, th)
        h1, h2 = _steps(th, 1e-5), _steps(th, 1e-4)
        E = np.eye(q)
        Vj = [(_dense_V(self.spec, th + h1[j] * E[j]) - _dense_V(self.spec, th - h1[j] * E[j]))
              / (2 * h1[j]) for j in range(q)]
        Vjk = np.empty((q, q), dtype=object)
        for j in range(q):
            for k in range(j + 1):
                a, b = h2[j] * E[j], h2[k] * E[k]
                f = [_dense_V(self.spec, th + sa * a + sb * b) for sa in (1, -1) for sb in (1, -1)]
                Vjk[j, k] = Vjk[k, j] = (f[0] - f[1] - f[2] + f[3]) / (4 * h2[j] * h2[k])
        Vi = _dense_V(self.spec, th, inverse=True)
        np.testing.assert_allclose(Vi @ V, np.eye(V.shape[0]), atol=1e-9)
        X, y = self.X, self.y
        self.Phi = Phi = self._phi(th)
        P = Vi - Vi @ X @ Phi @ X.T @ Vi
        Py = P @ y
        PV = [P @ Vj[j] for j in range(q)]
        self.I = np.array([[0.5 * np.sum(PV[j] * PV[k].T) for k in range(q)] for j in range(q)])
        self.J = np.array([[-0.5 * np.sum(PV[j] * PV[k].T) + 0.5 * np.sum(P * Vjk[j, k].T)
                            + Py @ Vj[j] @ P @ Vj[k] @ Py - 0.5 * Py @ Vjk[j, k] @ Py
                            for k in range(q)] for j in range(q)])
        ViX = Vi @ X
        self.Pj = np.array([-ViX.T @ Vj[j] @ ViX for j in range(q)])
        self.Q = np.array([[ViX.T @ Vj[j] @ Vi @ Vj[k] @ ViX for k in range(q)] for j in range(q)])
        self.R = np.array([[ViX.T @ Vjk[j, k] @ ViX for k in range(q)] for j in range(q)])
        self.h1 = h1

    def _phi(self, theta):
        Vi = _dense_V(self.spec, theta, inverse=True)
        return np.linalg.inv(self.X.T @ Vi @ self.X)

    # Satterthwaite: brute-force gradient of l'Phi(theta)l
    def satterthwaite_df(self, l):
        if not hasattr(self, "_dphi"):
            E, h = np.eye(self.theta.size), self.h1
            self._dphi = [(self._phi(self.theta + h[j] * E[j])
                           - self._phi(self.theta - h[j] * E[j])) / (2 * h[j])
                          for j in range(self.theta.size)]
        g = np.array([l @ d @ l for d in self._dphi])
        return 2 * (l @ self.Phi @ l) ** 2 / (g @ np.linalg.solve(self.J, g))

    def W(self, flavour):
        return np.linalg.inv(self.I if flavour == "kenward-roger-expected" else self.J)

    def phi_a(self, flavour):
        W, Phi, Pj = self.W(flavour), self.Phi, self.Pj
        q = W.shape[0]
        lam = np.zeros_like(Phi)
        for j in range(q):
            for k in range(q):
                term = self.Q[j, k] - Pj[j] @ Phi @ Pj[k]
                if flavour != "kenward-roger-linear":
                    term = term - 0.25 * self.R[j, k]
                lam += W[j, k] * term
        return Phi + 2 * Phi @ lam @ Phi

    def kr_test(self, L, b, flavour):
        """Kenward and Roger (1997), section 4: (F*, m)."""
        L = np.atleast_2d(L)
        q = L.shape[0]
        W, Phi, Pj = self.W(flavour), self.Phi, self.Pj
        Theta = L.T @ np.linalg.inv(L @ Phi @ L.T) @ L
        M = [Theta @ Phi @ Pj[j] @ Phi for j in range(W.shape[0])]
        A1 = sum(W[j, k] * np.trace(M[j]) * np.trace(M[k])
                 for j in range(len(M)) for k in range(len(M)))
        A2 = sum(W[j, k] * np.trace(M[j] @ M[k]) for j in range(len(M)) for k in range(len(M)))
        B = (A1 + 6 * A2) / (2 * q)
        g = ((q + 1) * A1 - (q + 4) * A2) / ((q + 2) * A2)
        c1, c2, c3 = (np.array([g, q - g, q + 2 - g]) / (3 * q + 2 * (1 - g)))
        Es = 1 / (1 - A2 / q)
        Vs = (2 / q) * (1 + c1 * B) / ((1 - c2 * B) ** 2 * (1 - c3 * B))
        rho = Vs / (2 * Es ** 2)
        m = 4 + (q + 2) / (q * rho - 1)
        lam = m / (Es * (m - 2))
        Lb = L @ b
        F = Lb @ np.linalg.solve(L @ self.phi_a(flavour) @ L.T, Lb) / q
        return lam * F, m


VARIANTS = [(s, "plain") for s in STRUCTS] + [
    ("AR1", "two_visits"), ("ANTE1", "weights"), ("UN", "weights"), ("CSH", "group"),
    ("AR1", "random"), ("ID", "g_nonlinear")]
FLAVOURS = ["kenward-roger", "kenward-roger-linear", "kenward-roger-expected"]


@pytest.fixture(scope="module", params=VARIANTS, ids=[f"{s}-{v}" for s, v in VARIANTS])
def fitted(request):
    struct, variant = request.param
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        res = _model(struct, variant).fit()
    assert res.converged
    return res, Dense(res)


def test_observed_and_expected_information(fitted):
    res, ref = fitted
    f = res._fit
    np.testing.assert_allclose(f.exp_info, ref.I, rtol=1e-6, atol=1e-8 * np.abs(ref.I).max())
    np.testing.assert_allclose(f.obs_info, ref.J, rtol=1e-5, atol=1e-7 * np.abs(ref.J).max())


def test_sensitivities(fitted):
    res, ref = fitted
    s = res._sens
    scale = np.abs(ref.Q).max()
    np.testing.assert_allclose(s.B, -ref.Pj, rtol=1e-6, atol=1e-9 * np.abs(ref.Pj).max())
    np.testing.assert_allclose(s.Q, ref.Q, rtol=1e-6, atol=1e-9 * scale)
    if res.model.spec.is_linear:
        assert s.R is None
        np.testing.assert_allclose(ref.R, 0.0, atol=1e-6 * np.abs(ref.Pj).max())
    else:
        np.testing.assert_allclose(s.R, ref.R, rtol=1e-5, atol=1e-7 * np.abs(ref.R).max())
    # the W-contractions Kenward-Roger uses, for an arbitrary symmetric W
    rng = np.random.default_rng(0)
    A = rng.normal(size=(ref.theta.size,) * 2)
    W = A @ A.T
    WQ = np.einsum("jk,jkps->ps", W, ref.Q)
    np.testing.assert_allclose(s.q_contract(W), WQ, rtol=1e-6, atol=1e-9 * np.abs(WQ).max())
    if res.model.spec.is_linear:
        assert s.r_contract(W) is None
    else:
        WR = np.einsum("jk,jkps->ps", W, ref.R)
        np.testing.assert_allclose(s.r_contract(W), WR, rtol=1e-5,
                                   atol=1e-7 * np.abs(WR).max())


def test_satterthwaite_t_df(fitted):
    res, ref = fitted
    p = res.model.k_fe
    ours = res.df_fixed("satterthwaite").to_numpy()
    want = [ref.satterthwaite_df(np.eye(p)[i]) for i in range(p)]
    np.testing.assert_allclose(ours, want, rtol=1e-5)


@pytest.mark.parametrize("flavour", FLAVOURS)
def test_kenward_roger(fitted, flavour):
    res, ref = fitted
    p = res.model.k_fe
    b = np.asarray(res._fit.beta)
    C_adj, W = res.kenward_roger_parts(flavour)
    np.testing.assert_allclose(W, ref.W(flavour), rtol=1e-5, atol=1e-8 * np.abs(W).max())
    np.testing.assert_allclose(C_adj, ref.phi_a(flavour), rtol=1e-5,
                               atol=1e-8 * np.abs(C_adj).max())
    tab = res.coef_table(ddf=flavour)
    np.testing.assert_allclose(tab["Std.Err."], np.sqrt(np.diag(ref.phi_a(flavour))), rtol=1e-6)
    want_df = [ref.kr_test(np.eye(p)[i], b, flavour)[1] for i in range(p)]
    np.testing.assert_allclose(tab["df"], want_df, rtol=1e-5)
    # a two-row hypothesis: the full moment-matched F approximation
    L = np.zeros((2, p))
    L[0, 1], L[1, -1], L[1, 2] = 1.0, 1.0, -0.5
    F, num, den, _ = res.f_test_terms(L, ddf=flavour)
    Fr, mr = ref.kr_test(L, b, flavour)
    assert num == 2
    assert den == pytest.approx(mr, rel=1e-5)
    assert F == pytest.approx(Fr, rel=1e-6)


def test_linear_structures_kr_flavours_coincide(fitted):
    res, _ = fitted
    if not res.model.spec.is_linear:
        pytest.skip("second-derivative term present")
    np.testing.assert_allclose(res.kenward_roger_parts("kenward-roger")[0],
                               res.kenward_roger_parts("kenward-roger-linear")[0], rtol=1e-12)


@pytest.mark.parametrize("ddf", ["satterthwaite", "kenward-roger", "kenward-roger-linear",
                                 "kenward-roger-expected", "residual", "containment",
                                 "between-within"])
def test_every_df_method_runs_for_every_structure(fitted, ddf):
    res, _ = fitted
    tab = res.coef_table(ddf=ddf)
    assert np.all(np.isfinite(tab.to_numpy())) and np.all(tab["df"] > 0)
    assert ddf in str(res.summary(ddf=ddf))
    a = res.anova(type=3, ddf=ddf)
    assert np.all(np.isfinite(a.to_numpy(dtype=float))) and np.all(a["den_df"] > 0)
    assert res.conf_int(ddf=ddf).shape == (res.model.k_fe, 2)
    assert np.all(np.isfinite(res.pvalues))
