r"""MANTRA-class trans-ethnic meta-analysis, computed exactly (no MCMC).

The partition model of Morris (2011, Genet Epidemiol 35:809-822) -- studies from
populations that are close (distance ``D``) share an effect, the others may not -- is
summed over all its partitions and integrated over its continuous parameters, for
every variant at once.

Notes
-----
For ``k`` studies with estimates ``b_i ~ N(beta_i, s_i^2)`` and a ``k x k`` distance
matrix ``D``:

* number of clusters ``C``: ``P(C = 1) = 1/2``,
  ``P(C = c) = 2^{-c} 2^{k-1} / (2^{k-1} - 1)`` for ``c = 2..k`` (``k = 1``: ``C = 1``);
* given ``C = c``, a uniformly chosen set of ``c`` centre studies; every other study
  joins its nearest centre by ``D`` (ties to the lower index); a study has the effect
  of its cluster;
* cluster effects ``beta_g ~ N(mu, tau^2)`` independently, ``tau^2 ~ Exp(1)``,
  ``mu ~ N(0, mu_sd^2)`` (a proper prior: with a flat ``mu`` the Bayes factor against
  the null is not defined; ``mu_sd = 1`` by default);
* null model: every effect 0.

Given a partition with clusters ``g`` (``W_g = sum_{i in g} 1/s_i^2``,
``T_g = sum_{i in g} b_i/s_i^2``) the data enter through the cluster estimates
``T_g / W_g ~ N(beta_g, 1/W_g)``, so ``beta`` and ``mu`` integrate analytically:
with ``r_g = 1/(1 + tau^2 W_g)`` and ``s^2 = mu_sd^2``,

.. math::

    \log BF(\tau^2) = -\tfrac12 \Big[\sum_g \log(1 + \tau^2 W_g) + \log(1 + s^2 B)\Big]
        + \tfrac12 \sum_g \tau^2 T_g^2 r_g + \tfrac12 \frac{s^2 C^2}{1 + s^2 B},
    \qquad B = \sum_g W_g r_g, \; C = \sum_g T_g r_g.

``BF = int_0^inf BF(t) e^{-t} dt`` is computed in ``u = log t`` by the trapezoidal
rule on the whole line (step 0.5, from ``u = -log max W - 8`` to ``log 30``, the
exponential tail below the last node summed geometrically): the
integrand is analytic in a strip and decays at both ends, so the rule converges
geometrically; the same sum with step 1 (every other node) gives the error estimate
``quad_error`` (absolute, in log10 BF; it bounds the error of the coarse rule, the
reported value is far more accurate).  The centre sets giving one partition are
grouped (their prior probabilities summed) so that every distinct partition is
integrated once; the sums over the clusters of all partitions are one matrix product
per quantity, vectorised over variants.

A missing study drops out of its variant's enumeration (the model is that of the
remaining studies and their distances).  The enumeration is exact up to
``k = MANTRA_MAX_K`` studies (2^k - 1 centre sets).
"""
from __future__ import annotations

import functools
from typing import TYPE_CHECKING, Any, Sequence

import numpy as np
from scipy import special

from .numpy_engine import run_threaded
from .subsets import check_k, missing_patterns, study_arrays, valid_mask

if TYPE_CHECKING:
    import pandas as pd
    from numpy.typing import ArrayLike

__all__ = ["mantra", "mantra_detail", "distance_from_frequencies", "cluster_prior",
           "partitions", "MANTRA_MAX_K", "MantraDetail"]

#: Exact enumeration limit: 2^k - 1 centre sets, up to as many distinct partitions.
MANTRA_MAX_K = 14
#: Trapezoid step in log tau^2 and the range of the rule.
QUAD_STEP = 0.5
QUAD_HI = np.log(30.0)
QUAD_BELOW = 8.0
_CELLS = 1 << 21
LN10 = np.log(10.0)


def cluster_prior(k):
    """Prior ``P(C = c)``, ``c = 1..k``, of the number of clusters."""
    if k == 1:
        return np.ones(1)
    c = np.arange(1, k + 1)
    p = 2.0 ** -c * 2.0 ** (k - 1) / (2.0 ** (k - 1) - 1)
    p[0] = 0.5
    return p


class Partitions:
    """The distinct partitions of ``k`` studies under a distance matrix.

    Attributes
    ----------
    labels : (P, k) int
        Cluster label of each study: the lowest-numbered study of its cluster.
    logprior : (P,)
        Log prior probability of each partition (its centre sets summed).
    nclust : (P,) int
    clusters : (S, k) float
        0/1 membership of every distinct cluster appearing in some partition.
    incidence : (S, P) float
        ``incidence[s, p] = 1`` when cluster ``s`` is a block of partition ``p``.
    """

    def __init__(self, labels, logprior, nclust, clusters, incidence, n_centre_sets):
        self.labels, self.logprior, self.nclust = labels, logprior, nclust
        self.clusters, self.incidence = clusters, incidence
        self.n_centre_sets = n_centre_sets


@functools.lru_cache(maxsize=256)
def _partitions_cached(k, dbytes):
    D = np.frombuffer(dbytes, dtype=np.float64).reshape(k, k)
    prior_c = cluster_prior(k)
    log_nsets = np.array([special.gammaln(k + 1) - special.gammaln(c + 1)
                          - special.gammaln(k - c + 1) for c in range(1, k + 1)])
    found = {}
    idx = np.arange(k)
    for mask in range(1, 2 ** k):
        centres = idx[(mask >> idx) & 1 == 1]
        lab = centres[np.argmin(D[:, centres], axis=1)]     # first minimum: lower index
        lab[centres] = centres
        # canonical labels: the lowest-numbered study of each cluster
        _, first, inv = np.unique(lab, return_index=True, return_inverse=True)
        lab = first[inv]
        key = lab.tobytes()
        c = centres.size
        lp = np.log(prior_c[c - 1]) - log_nsets[c - 1]
        if key in found:
            found[key][1] = np.logaddexp(found[key][1], lp)
        else:
            found[key] = [lab, lp, c]
    labels = np.array([v[0] for v in found.values()])
    logprior = np.array([v[1] for v in found.values()])
    nclust = np.array([v[2] for v in found.values()])
    cl_index = {}
    pairs = []
    for p, lab in enumerate(labels):
        for centre in np.unique(lab):
            member = (lab == centre).astype(np.float64)
            key = member.tobytes()
            s = cl_index.setdefault(key, len(cl_index))
            pairs.append((s, p))
    clusters = np.array([np.frombuffer(key) for key in cl_index])
    inc = np.zeros((len(cl_index), len(labels)))
    for s, p in pairs:
        inc[s, p] = 1.0
    return Partitions(labels, logprior, nclust, clusters, inc, 2 ** k - 1)


def partitions(distance):
    """The distinct partitions (:class:`Partitions`) of the studies of ``distance``."""
    D = np.ascontiguousarray(distance, dtype=np.float64)
    k = D.shape[0]
    check_k(k, MANTRA_MAX_K, "The MANTRA-class model")
    return _partitions_cached(k, D.tobytes())


def _grid(wmax):
    lo = -np.log(wmax) - QUAD_BELOW
    n = int(np.ceil((QUAD_HI - lo) / QUAD_STEP))
    n += n % 2                                   # even: the coarse rule uses every other
    u = QUAD_HI - QUAD_STEP * np.arange(n + 1)
    t = np.exp(u)
    logw = np.log(QUAD_STEP) + u - t             # du * jacobian t * prior density e^-t
    # below the last node the integrand is exponential in u (t W << 1): its nodes
    # continue geometrically, sum h g(u_n) e^{-jh} -> the last weight / (1 - e^{-h})
    logw[-1] -= np.log1p(-np.exp(-QUAD_STEP))
    return t, logw


def _node_logbf(T, W, part, mu_sd, t):
    """``log BF(tau^2 = t_j)`` of every partition: ``(P, r, J)``.

    Cluster-level terms are laid out ``(S, ., r, J)`` so that the sums over the
    clusters of every partition are one wide matrix product ``incidence' @ terms``.
    """
    CW = (W @ part.clusters.T).T[:, :, None]     # (S, r, 1)
    CT = (T @ part.clusters.T).T[:, :, None]
    S, r = CW.shape[:2]
    J = t.size
    stack = np.empty((S, 4, r, J))
    tw = np.multiply(CW, t[None, None, :])       # t W_g
    np.log1p(tw, out=stack[:, 0])                # log(1 + t W_g)
    tw += 1.0
    np.divide(1.0, tw, out=tw)                   # r_g
    np.multiply(tw, CW, out=stack[:, 1])         # W_g r_g
    np.multiply(tw, CT, out=stack[:, 2])         # T_g r_g
    np.multiply(stack[:, 2], CT, out=stack[:, 3])
    stack[:, 3] *= t                             # t T_g^2 r_g
    sums = (part.incidence.T @ stack.reshape(S, 4 * r * J)).reshape(-1, 4, r, J)
    SL, SB, SC, SA = (sums[:, i] for i in range(4))
    s2 = mu_sd * mu_sd
    d = SB
    d *= s2
    d += 1.0                                     # 1 + s^2 B
    SC *= SC
    SC *= s2
    SC /= d
    SC += SA                                     # sum t T^2 r + s^2 C^2 / d
    np.log(d, out=d)
    d += SL
    SC -= d
    SC *= 0.5
    return SC


def _integrate(T, W, part, mu_sd):
    """Integrated ``log BF`` of every partition (fine and coarse rule): ``(r, P)``."""
    t, logw = _grid(max(float(W.max()), 1e-300))
    nodes = _node_logbf(T, W, part, mu_sd, t)
    nodes += logw
    fine, coarse = _lse_nodes(nodes)
    return fine.T, coarse.T


def _lse_nodes(nodes):
    """log of the sums over the last axis (nodes) of ``exp(nodes)``: all nodes
    (step h) and every other node (step 2h)."""
    mx = nodes.max(axis=-1, keepdims=True)
    nodes -= mx
    np.exp(nodes, out=nodes)
    fine = np.log(nodes.sum(axis=-1)) + mx[..., 0]
    # step 2h: twice the even nodes, the last one's tail factor for step 2h
    last = nodes[..., -1]
    coarse = np.log(2.0 * (nodes[..., ::2].sum(axis=-1) - last)
                    + last * 2.0 / (1.0 + np.exp(-QUAD_STEP))) + mx[..., 0]
    return fine, coarse


def _lse_rows(x):
    mx = x.max(axis=1)
    return np.log(np.exp(x - mx[:, None]).sum(axis=1)) + mx


def _summarise(fine, coarse, part):
    lp = part.logprior[None, :]
    total = _lse_rows(fine + lp)
    total_c = _lse_rows(coarse + lp)
    c1 = fine[:, part.nclust == 1][:, 0]
    post = np.exp(fine + lp - total[:, None])
    return total, total_c, c1, post


def _check_inputs(beta, se, distance):
    beta, se = study_arrays(beta, se)
    k = beta.shape[1]
    D = np.asarray(distance, dtype=np.float64)
    if D.shape != (k, k):
        raise ValueError(f"distance must be a {k} x {k} matrix (one row and column per "
                         f"study), got shape {D.shape}")
    if not np.all(np.isfinite(D)) or np.any(D < 0):
        raise ValueError("distance must be finite and non-negative")
    check_k(k, MANTRA_MAX_K, "The MANTRA-class model")
    return beta, se, D


def mantra(beta: ArrayLike, se: ArrayLike, distance: ArrayLike, *, mu_sd: float = 1.0,
           as_frame: bool = True, index: ArrayLike | None = None,
           n_threads: int | None = None) -> pd.DataFrame | dict[str, Any]:
    """MANTRA-class Bayes factors of every variant, by exact enumeration.

    Parameters
    ----------
    beta, se : array_like, shape (m, k)
        Effects and standard errors; NaN marks a missing study.
    distance : array_like, shape (k, k)
        Distances between the study populations (e.g. mean absolute difference in
        allele frequency, :func:`distance_from_frequencies`, or F_ST).
    mu_sd : float
        Prior standard deviation of the mean effect ``mu`` (default 1).
    as_frame : bool
        DataFrame (default) or dict of arrays.
    index : array_like, optional
        Row labels of the frame (default: those of ``beta`` if it is a DataFrame).
    n_threads : int, optional
        Threads working on blocks of variants (default: CPUs, at most 8).

    Returns
    -------
    DataFrame or dict
        ``k`` (studies present), ``log10_bf`` (the model against the null of no
        effect), ``log10_bf_c1`` (the one-cluster model alone against the null),
        ``p_heterogeneous`` (posterior ``P(C > 1)``), ``c_mean`` (posterior mean of
        ``C``) and ``quad_error`` (error estimate of ``log10_bf``, see Notes).

    Raises
    ------
    ValueError
        More than :data:`MANTRA_MAX_K` studies, or a malformed distance matrix.

    Notes
    -----
    The model and its computation are given in :mod:`metamodels.batch.mantra`.
    Per variant and partition the cost is one trapezoid rule of about 40 nodes over
    the clusters; for ``k = 6`` about 60 microseconds of CPU a variant (MANTRA's MCMC
    takes minutes).  The model is that of Morris (2011), Genetic Epidemiology 35(8),
    809-822.

    Examples
    --------
    >>> import numpy as np
    >>> from metamodels.batch import mantra
    >>> beta = np.array([[0.30, 0.25, 0.02], [0.10, 0.12, 0.09]])
    >>> se = np.full((2, 3), 0.05)
    >>> D = np.array([[0, 0.1, 0.3], [0.1, 0, 0.25], [0.3, 0.25, 0]])
    >>> print(mantra(beta, se, D)[["log10_bf", "p_heterogeneous"]].round(3))
       log10_bf  p_heterogeneous
    0     9.753            0.995
    1     0.848            0.063
    """
    if index is None and hasattr(beta, "index") and hasattr(beta, "columns"):
        index = beta.index
    beta, se, D = _check_inputs(beta, se, distance)
    if not mu_sd > 0:
        raise ValueError("mu_sd must be positive")
    m, k = beta.shape
    valid = valid_mask(beta, se)
    out = {"k": valid.sum(axis=1)}
    for c in ("log10_bf", "log10_bf_c1", "p_heterogeneous", "c_mean", "quad_error"):
        out[c] = np.full(m, np.nan)
    tasks = []
    for cols, rows in missing_patterns(valid):
        part = partitions(D[np.ix_(cols, cols)])
        step = max(1, _CELLS // (64 * max(part.clusters.shape[0], part.labels.shape[0])))
        tasks += [(cols, rows[i:i + step], part) for i in range(0, rows.size, step)]

    def run(task):
        cols, rows, part = task
        s = se[np.ix_(rows, cols)]
        W = 1.0 / (s * s)
        T = beta[np.ix_(rows, cols)] * W
        fine, coarse, = _integrate(T, W, part, float(mu_sd))
        total, total_c, c1, post = _summarise(fine, coarse, part)
        out["log10_bf"][rows] = total / LN10
        out["log10_bf_c1"][rows] = c1 / LN10
        out["quad_error"][rows] = np.abs(total - total_c) / LN10
        p1 = post[:, part.nclust == 1][:, 0]
        out["p_heterogeneous"][rows] = np.clip(1.0 - p1, 0.0, 1.0)
        out["c_mean"][rows] = post @ part.nclust

    run_threaded(run, tasks, n_threads)
    if not as_frame:
        return out
    import pandas as pd

    return pd.DataFrame(out, index=index)


class MantraDetail:
    """The posterior of one variant under the MANTRA-class model
    (:func:`mantra_detail`).

    Attributes
    ----------
    log10_bf, log10_bf_c1, p_heterogeneous, quad_error : float
        As the columns of :func:`mantra`.
    posterior_c : Series
        Posterior ``P(C = c)``, ``c = 1..k`` (studies present).
    coclustering : DataFrame
        ``(k, k)`` posterior probability that two studies share their effect
        (NaN for a missing study).
    effects : DataFrame
        Per study the posterior mean and SD of its effect (``mean``, ``sd``) and its
        cluster in the most probable partition (``cluster``: the lowest-numbered
        study of the cluster, 1-based).
    partitions : DataFrame
        Every distinct partition (``labels``: for each present study the
        lowest-numbered study of its cluster),
        its number of clusters, prior and posterior probability, by decreasing
        posterior.
    """

    def __init__(self, **kw):
        self.__dict__.update(kw)

    def __repr__(self):
        return (f"MantraDetail(log10_bf={self.log10_bf:.4g}, "
                f"log10_bf_c1={self.log10_bf_c1:.4g}, "
                f"p_heterogeneous={self.p_heterogeneous:.4g})")


def mantra_detail(beta: ArrayLike, se: ArrayLike, distance: ArrayLike, *,
                  mu_sd: float = 1.0, names: Sequence[str] | None = None) -> MantraDetail:
    """The MANTRA-class posterior of one variant in detail.

    Parameters
    ----------
    beta, se : array_like, shape (k,)
        One variant's effects and standard errors (NaN: missing study).
    distance : array_like, shape (k, k)
        Distances between the study populations (as :func:`mantra`).
    mu_sd : float
        Prior standard deviation of the mean effect.
    names : list of str, optional
        Study names (default ``1..k``).

    Returns
    -------
    MantraDetail
        Bayes factors, posterior of the number of clusters, co-clustering matrix,
        per-study posterior effects and the posterior of every partition.

    Notes
    -----
    Given a partition and ``tau^2``, the cluster effects have the Gaussian posterior
    with precision ``Sigma^{-1} + diag(W)`` and mean ``cov T``, with
    ``Sigma = tau^2 I + mu_sd^2 11'``; the reported moments mix these over the
    quadrature nodes and partitions with their posterior weights.
    """
    import pandas as pd

    beta = np.asarray(beta, dtype=np.float64).ravel()
    se = np.asarray(se, dtype=np.float64).ravel()
    b2, s2_, D = _check_inputs(beta[None, :], se[None, :], distance)
    k = beta.size
    names = [str(j + 1) for j in range(k)] if names is None else [str(n) for n in names]
    valid = valid_mask(b2, s2_)[0]
    cols = np.flatnonzero(valid)
    if cols.size == 0:
        raise ValueError("no study has a finite estimate and a positive standard error")
    part = partitions(D[np.ix_(cols, cols)])
    W = 1.0 / se[cols] ** 2
    T = beta[cols] * W
    t, logw = _grid(float(W.max()))
    nodes = _node_logbf(T[None, :], W[None, :], part, float(mu_sd), t)[:, 0].T  # (J, P)
    nodes = nodes + logw[:, None]
    fine, coarse = _lse_nodes(nodes.T.copy())
    fine, coarse = fine[None, :], coarse[None, :]
    total, total_c, c1, post = _summarise(fine, coarse, part)
    post = post[0]
    kk = cols.size
    # posterior weights of (node, partition)
    wjp = np.exp(nodes + part.logprior[None, :] - total[0])
    mean = np.zeros(kk)
    second = np.zeros(kk)
    s2 = float(mu_sd) ** 2
    for p, lab in enumerate(part.labels):
        cents = np.unique(lab)
        g = np.searchsorted(cents, lab)                  # cluster of each study
        Wg = np.bincount(g, weights=W)
        Tg = np.bincount(g, weights=T)
        c = cents.size
        Sig = t[:, None, None] * np.eye(c)[None] + s2        # (J, c, c)
        prec = np.linalg.inv(Sig) + np.diag(Wg)[None]
        cov = np.linalg.inv(prec)
        mu = cov @ Tg
        var = np.diagonal(cov, axis1=1, axis2=2)
        wj = wjp[:, p]
        mean += (wj @ mu)[g]
        second += (wj @ (var + mu * mu))[g]
    sd = np.sqrt(np.maximum(second - mean ** 2, 0.0))
    co = np.full((k, k), np.nan)
    same = (part.labels[:, :, None] == part.labels[:, None, :]).astype(float)
    co[np.ix_(cols, cols)] = np.tensordot(post, same, axes=1)
    best = part.labels[np.argmax(post)]
    eff = pd.DataFrame({"mean": np.nan, "sd": np.nan, "cluster": pd.NA}, index=names)
    eff["cluster"] = eff["cluster"].astype("Int64")
    eff.loc[[names[j] for j in cols], "mean"] = mean
    eff.loc[[names[j] for j in cols], "sd"] = sd
    eff.loc[[names[j] for j in cols], "cluster"] = cols[best] + 1
    pc = np.bincount(part.nclust - 1, weights=post, minlength=kk)
    order = np.argsort(-post)
    parts = pd.DataFrame({
        "labels": [" ".join(str(cols[x] + 1) for x in part.labels[i]) for i in order],
        "n_clusters": part.nclust[order],
        "prior": np.exp(part.logprior[order]),
        "posterior": post[order]})
    return MantraDetail(
        log10_bf=float(total[0] / LN10), log10_bf_c1=float(c1[0] / LN10),
        p_heterogeneous=float(np.clip(1 - pc[0], 0, 1)),
        quad_error=float(abs(total[0] - total_c[0]) / LN10),
        posterior_c=pd.Series(pc, index=pd.RangeIndex(1, kk + 1, name="C")),
        coclustering=pd.DataFrame(co, index=names, columns=names),
        effects=eff, partitions=parts.reset_index(drop=True))


def distance_from_frequencies(freq: ArrayLike) -> np.ndarray:
    """Distance matrix of the study populations from their allele frequencies.

    Parameters
    ----------
    freq : array_like, shape (m, k) or (k,)
        Effect-allele frequency of each variant in each study (NaN: missing).

    Returns
    -------
    ndarray, shape (k, k)
        ``D[i, j]`` = mean over the variants present in both studies of
        ``|f_i - f_j|`` (the allele-frequency distance of Morris 2011).

    Raises
    ------
    ValueError
        A pair of studies without any variant in common, or frequencies outside
        [0, 1].

    Examples
    --------
    >>> import numpy as np
    >>> from metamodels.batch import distance_from_frequencies
    >>> freq = np.array([[0.1, 0.2, 0.5], [0.3, 0.3, 0.6]])
    >>> distance_from_frequencies(freq).round(3)
    array([[0.  , 0.05, 0.35],
           [0.05, 0.  , 0.3 ],
           [0.35, 0.3 , 0.  ]])
    """
    f = np.atleast_2d(np.asarray(freq, dtype=np.float64))
    if np.any((f < 0) | (f > 1)):
        raise ValueError("allele frequencies must be between 0 and 1")
    ok = np.isfinite(f)
    fz = np.where(ok, f, 0.0)
    k = f.shape[1]
    D = np.zeros((k, k))
    for i in range(k):
        both = ok[:, i:i + 1] & ok
        n = both.sum(axis=0)
        if np.any(n == 0):
            j = int(np.flatnonzero(n == 0)[0])
            raise ValueError(f"studies {i + 1} and {j + 1} have no allele frequency in "
                             "common: their distance is unknown")
        D[i] = np.sum(np.where(both, np.abs(fz[:, i:i + 1] - fz), 0.0), axis=0) / n
    return D
