"""Tests of the covariance structures in ``metamodels.core.structures``."""
import zlib

import numpy as np
import pytest

from metamodels.core.structures import (
    ANTE1, AR1, ARH1, CS, CSH, DIAG, ID, STRUCTURES, TOEP, TOEPH, UN, UNR, VC, Spatial,
    Structure, get_structure,
)

NAMES = sorted(STRUCTURES)
DIMS = [1, 2, 3, 4, 5, 6]
CASES = [(name, d) for name in NAMES for d in DIMS]

N_PARAMS = {
    "ID": lambda d: 1, "VC": lambda d: d, "DIAG": lambda d: d, "CS": lambda d: 2,
    "CSH": lambda d: d + 1, "AR1": lambda d: 2, "ARH1": lambda d: d + 1,
    "TOEP": lambda d: d, "TOEPH": lambda d: 2 * d - 1, "UN": lambda d: d * (d + 1) // 2,
    "UNR": lambda d: d * (d + 1) // 2, "ANTE1": lambda d: 2 * d - 1,
    "SPEXP": lambda d: 2, "SPGAU": lambda d: 2, "SPPOW": lambda d: 2, "SPSPH": lambda d: 2,
    "CAR": lambda d: 2,
}


def random_theta(struct, rng):
    """Random interior point with a positive definite Sigma."""
    lo, hi = struct.lower, struct.upper
    for _ in range(200):
        theta = np.empty(struct.n_params)
        for j in range(struct.n_params):
            if lo[j] == 0.0 and np.isinf(hi[j]):          # variance
                theta[j] = rng.uniform(0.5, 2.0)
            elif np.isfinite(lo[j]) and np.isfinite(hi[j]):  # correlation (SP(POW): >= 0)
                theta[j] = rng.uniform(max(lo[j], -0.6), min(hi[j], 0.6))
            else:                                          # covariance
                theta[j] = rng.uniform(-0.3, 0.3)
        if np.linalg.eigvalsh(struct.matrix(theta)).min() > 1e-3:
            return theta
    raise AssertionError("no positive definite point found")  # pragma: no cover


def fd_jacobian(f, theta, h=1e-6):
    out = []
    for j in range(len(theta)):
        e = np.zeros_like(theta)
        e[j] = h * max(1.0, abs(theta[j]))
        out.append((f(theta + e) - f(theta - e)) / (2 * e[j]))
    return np.stack(out)


@pytest.fixture(params=CASES, ids=[f"{n}-{d}" for n, d in CASES])
def case(request):
    name, d = request.param
    rng = np.random.default_rng(zlib.crc32(f"{name}-{d}".encode()))
    if issubclass(STRUCTURES[name], Spatial):   # irregular 2-D positions
        s = STRUCTURES[name](d, coords=rng.uniform(0.0, 1.5, size=(d, 2)))
    else:
        s = get_structure(name, d)
    return s, random_theta(s, rng)


def test_shapes_and_symmetry(case):
    s, theta = case
    d, q = s.dim, s.n_params
    S = s.matrix(theta)
    assert S.shape == (d, d)
    np.testing.assert_allclose(S, S.T, rtol=0, atol=1e-15)
    D = s.derivatives(theta)
    assert D.shape == (q, d, d)
    np.testing.assert_allclose(D, np.swapaxes(D, 1, 2), rtol=0, atol=1e-15)
    H = s.second_derivatives(theta)
    assert H.shape == (q, q, d, d)
    np.testing.assert_allclose(H, np.swapaxes(H, 0, 1), rtol=0, atol=1e-15)
    np.testing.assert_allclose(H, np.swapaxes(H, 2, 3), rtol=0, atol=1e-15)
    assert len(s.param_names) == q == len(set(s.param_names))
    assert s.lower.shape == s.upper.shape == (q,)
    assert np.all(s.lower < s.upper)
    assert np.all((s.lower <= theta) & (theta <= s.upper))


def test_derivatives_match_finite_differences(case):
    s, theta = case
    fd = fd_jacobian(s.matrix, theta)
    np.testing.assert_allclose(s.derivatives(theta), fd, rtol=1e-6, atol=1e-8)


def test_second_derivatives_match_finite_differences(case):
    s, theta = case
    fd = fd_jacobian(s.derivatives, theta)    # fd[k, j] = d/dtheta_k dSigma/dtheta_j
    np.testing.assert_allclose(s.second_derivatives(theta), fd, rtol=1e-6, atol=1e-8)


def test_linear_structures(case):
    s, theta = case
    H = s.second_derivatives(theta)
    if s.is_linear:
        np.testing.assert_allclose(s.matrix(theta),
                                   np.tensordot(theta, s.derivatives(theta), axes=1),
                                   rtol=1e-14, atol=1e-15)
        assert np.all(H == 0)
        # derivatives do not depend on theta
        np.testing.assert_array_equal(s.derivatives(theta), s.derivatives(2 * theta + 1))
    elif s.dim > 1:
        assert np.any(H != 0)


@pytest.mark.parametrize("variance", [1.0, 3.7, 1e-4, 0.0, -1.0, np.nan])
def test_start_positive_definite(case, variance):
    s, _ = case
    theta0 = s.start(variance)
    assert theta0.shape == (s.n_params,)
    assert np.all((s.lower <= theta0) & (theta0 <= s.upper))
    S = s.matrix(theta0)
    assert np.linalg.eigvalsh(S).min() > 0
    v = variance if np.isfinite(variance) and variance > 0 else 1.0
    np.testing.assert_allclose(np.diag(S), v, rtol=1e-12)


def test_correlation(case):
    s, theta = case
    S = s.matrix(theta)
    C = s.correlation(theta)
    sd = np.sqrt(np.diag(S))
    np.testing.assert_allclose(C, S / np.outer(sd, sd), rtol=1e-12)
    np.testing.assert_allclose(np.diag(C), 1.0)


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("d", DIMS)
def test_param_counts(name, d):
    assert get_structure(name, d).n_params == N_PARAMS[name](d)


# -- closed forms ------------------------------------------------------------------------
def test_ar1_closed_form():
    s = get_structure("AR(1)", 3)
    assert isinstance(s, AR1)
    assert s.param_names == ("Residual", "AR(1)")
    np.testing.assert_allclose(s.matrix([2.0, 0.5]),
                               [[2, 1, .5], [1, 2, 1], [.5, 1, 2]])
    np.testing.assert_allclose(s.correlation([2.0, 0.5]),
                               [[1, .5, .25], [.5, 1, .5], [.25, .5, 1]])


def test_ar1_rho_zero_derivatives():
    s = AR1(4)
    D = s.derivatives([1.5, 0.0])
    np.testing.assert_allclose(D[1], 1.5 * (np.abs(np.subtract.outer(range(4), range(4))) == 1))
    H = s.second_derivatives([1.5, 0.0])
    np.testing.assert_allclose(H[1, 1], 1.5 * 2 * (np.abs(np.subtract.outer(range(4), range(4))) == 2))


def test_un_ordering():
    s = UN(3)
    assert s.param_names == ("UN(1,1)", "UN(2,1)", "UN(2,2)", "UN(3,1)", "UN(3,2)", "UN(3,3)")
    theta = [1.0, 0.2, 2.0, 0.3, 0.4, 3.0]
    np.testing.assert_allclose(s.matrix(theta),
                               [[1.0, 0.2, 0.3], [0.2, 2.0, 0.4], [0.3, 0.4, 3.0]])
    np.testing.assert_allclose(s.theta_from_matrix(s.matrix(theta)), theta)
    np.testing.assert_array_equal(s.lower, [0, -np.inf, 0, -np.inf, -np.inf, 0])
    assert s.is_linear


def test_cs_closed_form():
    s = CS(3)
    assert s.param_names == ("CS", "Residual")
    np.testing.assert_allclose(s.matrix([0.5, 2.0]),
                               [[2.5, .5, .5], [.5, 2.5, .5], [.5, .5, 2.5]])
    assert s.lower[0] == -np.inf and s.lower[1] == 0
    # dim 1 degenerates gracefully
    np.testing.assert_allclose(CS(1).matrix([0.5, 2.0]), [[2.5]])


def test_id_vc_diag_toep():
    np.testing.assert_allclose(ID(2).matrix([3.0]), 3 * np.eye(2))
    assert ID(2).param_names == ("Residual",)
    np.testing.assert_allclose(VC(3).matrix([1, 2, 3]), np.diag([1, 2, 3]))
    assert VC(2).param_names == DIAG(2).param_names == ("Var(1)", "Var(2)")
    assert get_structure("diag", 2).name == "DIAG" and get_structure("vc", 2).name == "VC"
    t = TOEP(3)
    assert t.param_names == ("Residual", "TOEP(2)", "TOEP(3)")
    np.testing.assert_allclose(t.matrix([4, 2, 1]), [[4, 2, 1], [2, 4, 2], [1, 2, 4]])


def test_heterogeneous_closed_forms():
    v = np.array([1.0, 4.0, 9.0])
    sd = np.sqrt(v)
    P = np.outer(sd, sd)
    csh = CSH(3)
    assert csh.param_names == ("Var(1)", "Var(2)", "Var(3)", "CSH")
    np.testing.assert_allclose(csh.matrix([*v, 0.3]),
                               P * np.array([[1, .3, .3], [.3, 1, .3], [.3, .3, 1]]))
    arh = ARH1(3)
    assert arh.param_names[-1] == "ARH(1)"
    np.testing.assert_allclose(arh.matrix([*v, 0.5]),
                               P * np.array([[1, .5, .25], [.5, 1, .5], [.25, .5, 1]]))
    toeph = TOEPH(3)
    assert toeph.param_names[3:] == ("TOEPH(1)", "TOEPH(2)")
    np.testing.assert_allclose(toeph.matrix([*v, 0.5, 0.2]),
                               P * np.array([[1, .5, .2], [.5, 1, .5], [.2, .5, 1]]))
    ante = ANTE1(3)
    assert ante.param_names[3:] == ("Rho(1)", "Rho(2)")
    np.testing.assert_allclose(ante.matrix([*v, 0.5, 0.4]),
                               P * np.array([[1, .5, .2], [.5, 1, .4], [.2, .4, 1]]))
    unr = UNR(3)
    assert unr.param_names[3:] == ("Corr(2,1)", "Corr(3,1)", "Corr(3,2)")
    np.testing.assert_allclose(unr.matrix([*v, 0.1, 0.2, 0.3]),
                               P * np.array([[1, .1, .2], [.1, 1, .3], [.2, .3, 1]]))
    np.testing.assert_allclose(unr.correlation([*v, 0.1, 0.2, 0.3]),
                               [[1, .1, .2], [.1, 1, .3], [.2, .3, 1]])


def test_heterogeneous_matches_homogeneous():
    # equal variances reduce ARH1 -> AR1, CSH -> CS, TOEPH -> TOEP
    np.testing.assert_allclose(ARH1(4).matrix([2, 2, 2, 2, 0.4]), AR1(4).matrix([2, 0.4]))
    np.testing.assert_allclose(CSH(4).matrix([2, 2, 2, 2, 0.4]), CS(4).matrix([0.8, 1.2]))
    np.testing.assert_allclose(TOEPH(3).matrix([2, 2, 2, 0.4, 0.1]), TOEP(3).matrix([2, 0.8, 0.2]))


@pytest.mark.parametrize("name", ["CSH", "ARH1", "TOEPH", "UNR", "ANTE1"])
def test_zero_variance_derivatives_finite(name):
    s = get_structure(name, 3)
    theta = s.start(1.0)
    theta[1] = 0.0
    S = s.matrix(theta)
    assert np.all(np.isfinite(S)) and np.all(S[1] == 0)
    assert np.all(np.isfinite(s.derivatives(theta)))
    assert np.all(np.isfinite(s.second_derivatives(theta)))
    theta[:3] = 0.0
    assert np.all(np.isfinite(s.derivatives(theta)))
    assert np.all(np.isfinite(s.second_derivatives(theta)))
    np.testing.assert_array_equal(s.correlation(theta), np.eye(3))


# -- sub-matrices (missing visits), GROUP= levels and weights, as the engine gathers them --
def _residual_spec(name, d, rng, weights=False, random_struct=None):
    """A MixedCovariance over subjects observed at 1..d of ``d`` visits (random patterns),
    two ``cov_group`` levels, optional weights and an optional random term."""
    from metamodels.mixed.covariance import MixedCovariance, RandomPart, ResidualPart
    visit, subject, group = [], [], []
    sizes = list(range(1, d + 1)) * 2 + [d, d]
    for s, m in enumerate(sizes):
        v = np.sort(rng.choice(d, size=m, replace=False))
        visit += list(v)
        subject += [s] * m
        group += [s % 2] * m
    visit, subject, group = (np.asarray(a, dtype=np.int64) for a in (visit, subject, group))
    n = visit.shape[0]
    struct = get_structure(name, d)
    w = rng.uniform(0.3, 3.0, n) if weights else None
    res = ResidualPart(struct, visit, subject, group, 2, ("a", "b"), w)
    random, thetas = [], []
    if random_struct is not None:
        gs = get_structure(random_struct, 2)
        clusters = subject // 3
        Z = np.column_stack([np.ones(n), rng.normal(size=n)])
        random.append(RandomPart("g", Z, clusters, gs, ("(Intercept)", "x")))
        thetas.append(random_theta(gs, rng))
        blocks = clusters
    else:
        blocks = subject
    thetas += [random_theta(struct, rng), random_theta(struct, rng)]
    return MixedCovariance(random, res, blocks), np.concatenate(thetas)


def _fd(f, theta, h=1e-6):
    """Central differences of a function returning a list of arrays: list of (q, ...)."""
    out = []
    for j in range(len(theta)):
        e = np.zeros_like(theta)
        e[j] = h * max(1.0, abs(theta[j]))
        plus, minus = f(theta + e), f(theta - e)
        out.append([(a - b) / (2 * e[j]) for a, b in zip(plus, minus)])
    return [np.stack([o[g] for o in out]) for g in range(len(out[0]))]


@pytest.mark.parametrize("d", [1, 2, 4, 6])
@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("extra", ["plain", "weights", "random"])
def test_engine_derivatives_of_submatrices_match_finite_differences(name, d, extra):
    """dV/dtheta and d2V/dtheta2 of the blocks the engine builds (gathered sub-matrices of
    missing visits, GROUP= levels, SAS weights, a non-linear G) against differences of
    ``build`` and ``jacobian``."""
    rng = np.random.default_rng(zlib.crc32(f"{name}-{d}-{extra}".encode()))
    spec, theta = _residual_spec(name, d, rng, weights=extra == "weights",
                                 random_struct="CSH" if extra == "random" else None)
    sizes = {g.shape[1] for g in spec.layout.groups}
    assert len(sizes) == len(spec.layout.groups) and (extra == "random" or sizes >= {1, d})
    fd1 = _fd(lambda t: [np.asarray(v) for v in spec.build(t)], theta)
    for a, b in zip(spec.jacobian(theta), fd1):
        np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-8)
    H = spec.hessian_terms(theta)
    if spec.is_linear:
        assert H is None
        return
    fd2 = _fd(lambda t: spec.jacobian(t), theta)         # fd2[g][k, j] = d/dk dV/dj
    for a, b in zip(H, fd2):
        np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-8)
        # second derivatives are symmetric in (j, k) and in the matrix indices
        np.testing.assert_allclose(a, np.swapaxes(a, 0, 1), rtol=0, atol=1e-14)
        np.testing.assert_allclose(a, np.swapaxes(a, 3, 4), rtol=0, atol=1e-14)


# -- registry ----------------------------------------------------------------------------
@pytest.mark.parametrize("spelling,cls", [
    ("un", UN), ("UN", UN), ("Un", UN), ("us", UN), ("ar(1)", AR1), ("AR1", AR1),
    ("ARH(1)", ARH1), ("ante(1)", ANTE1), ("AD1", ANTE1), ("UN(1)", VC), ("toeph", TOEPH),
    ("TP", TOEP), ("cs", CS), ("CSH", CSH), ("id", ID), ("unr", UNR),
])
def test_get_structure_spellings(spelling, cls):
    s = get_structure(spelling, 3)
    assert type(s) is cls and s.dim == 3


def test_get_structure_errors():
    with pytest.raises(ValueError, match="valid names: .*AR1.*UN"):
        get_structure("SP(MATERN)", 3)
    with pytest.raises(ValueError):
        get_structure(None, 3)
    with pytest.raises(ValueError, match="dim"):
        get_structure("UN", 0)
    with pytest.raises(ValueError, match="parameters"):
        UN(2).matrix([1.0, 2.0])
    s = UN(2)
    assert get_structure(s, 2) is s
    with pytest.raises(ValueError):
        get_structure(s, 3)
    assert isinstance(s, Structure) and "UN" in repr(s)
