"""Priors of the Gibbs sampler for :class:`~metamodels.MixedModel` and their conjugate
updates (vectorised over chains and parameter classes).

Variance components come in two shapes:

* ``"diag"`` components: independent scalar variances ``v_k`` (a random intercept's
  variance, the diagonal of a ``VC`` G matrix, the residual variance of ``ID``/``VC``
  residuals, both parts of a ``CS`` residual).  Prior: inverse gamma ``IG(a, b)`` with
  density ``b^a / Gamma(a) v^(-a-1) exp(-b/v)``, or a half-t on the standard deviation,
  ``sqrt(v) ~ half-t(nu, A)``, written as the scale mixture
  ``v | c ~ IG(nu/2, nu/c)``, ``c ~ IG(1/2, 1/A^2)`` (Wand et al. 2011) so both steps stay
  conjugate.
* ``"full"`` components: unstructured ``q x q`` covariance matrices (``UN`` G matrices and
  ``UN`` residual matrices).  Prior: inverse Wishart ``IW(nu, Psi)`` with density
  proportional to ``|S|^(-(nu+q+1)/2) exp(-tr(Psi S^-1)/2)``, or the Huang-Wand (2013)
  prior ``S | c ~ IW(nu + q - 1, 2 nu diag(1/c))``, ``c_k ~ IG(1/2, 1/A_k^2)``, which gives
  half-t(nu, A_k) standard deviations and, for ``nu = 2``, uniform marginal correlations.

With ``n`` independent mean-zero vectors of sum of squares and products ``S`` the full
conditionals are ``IG(a + n/2, b + S/2)`` and ``IW(nu + n, Psi + S)``; the mixing variables
update as ``c | v ~ IG((nu + 1)/2, nu/v + 1/A^2)`` and
``c_k | S ~ IG((nu + q)/2, nu (S^-1)_kk + 1/A_k^2)``.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal, Mapping

import numpy as np

if TYPE_CHECKING:
    from numpy.typing import ArrayLike

__all__ = ["GibbsPriors", "ComponentPrior", "resolve_priors", "draw_diag", "draw_full",
           "sample_iw"]

_VARIANCE = {"igamma": "ig", "ig": "ig", "inverse-gamma": "ig", "half-t": "ht", "halft": "ht",
             "half-cauchy": "ht"}
_COVARIANCE = {"iwishart": "iw", "iw": "iw", "inverse-wishart": "iw", "half-t": "hw",
               "huang-wand": "hw", "halft": "hw"}
_DEFAULTS = ("metamodels", "sas")
# PROC BGLIMM-style defaults (``priors="sas"``): every q x q covariance matrix
# IW(q + 3, (q + 3) I); a scalar variance is the q = 1 case, IW(4, 4) = IG(2, 2).
# See GibbsPriors.sas and docs/bayes_mixed.md for the sources.
_SAS_EXTRA_DF = 3.0


@dataclass(frozen=True)
class GibbsPriors:
    r"""Prior distributions of :func:`~metamodels.bayes.gibbs.fit_bayes`.

    The model is ``y = X b + sum_t Z_t u_t + e`` with ``u_t ~ N(0, I (x) G_t)`` and
    ``e ~ N(0, R)``; the priors are independent across ``b``, the ``G_t`` and ``R``.

    Parameters
    ----------
    beta_mean : float or array_like (p,)
        Mean of the normal prior on the fixed effects ``b`` (ignored when flat).
    beta_precision : None, float, array_like (p,) or (p, p)
        Precision of the normal prior ``b ~ N(beta_mean, beta_precision^-1)``; a scalar or a
        vector gives a diagonal precision.  ``None`` (default) is the flat prior
        ``p(b) = 1`` (PROC BGLIMM's default, ``CPRIOR=CONSTANT``); BGLIMM's
        ``CPRIOR=NORMAL`` is ``beta_precision=1e-4``.
    variance : {"igamma", "half-t"}
        Prior of every scalar variance component (random-intercept variances, diagonal
        ``G`` elements of ``VC`` terms, ``ID``/``VC`` residual variances, both ``CS``
        parameters).
    ig_shape, ig_scale : float
        ``a, b`` of ``v ~ IG(a, b)`` (default ``IG(0.001, 0.001)``).
    half_t_df, half_t_scale : float
        ``nu, A`` of ``sqrt(v) ~ half-t(nu, A)`` (``variance="half-t"``) and the ``A_k`` of
        the Huang-Wand prior (``covariance="half-t"``).  ``half_t_df=1`` is the half-Cauchy;
        ``half_t_scale=None`` uses the standard deviation of the response.
    covariance : {"iwishart", "half-t"}
        Prior of unstructured (``UN``) covariance matrices: inverse Wishart, or the
        Huang-Wand half-t prior (degrees of freedom ``hw_df``, scales ``half_t_scale``).
    iw_df : float, optional
        ``nu`` of ``IW(nu, Psi)``; default ``q + 1`` for a ``q x q`` matrix (the
        smallest integer that gives uniform marginal correlations for ``Psi = s I``).
    iw_scale : float or array_like (q, q), optional
        ``Psi``; a scalar means ``Psi = iw_scale * I``.  Default: data-scaled and
        diagonal (in the spirit of Kass and Natarajan 2006), one pseudo-observation's
        worth of scatter: ``Psi = s2 diag((Z'Z / L)^-1)`` for a ``UN`` random term
        (``s2`` the OLS residual variance, ``L`` the number of levels: the variance of one
        level's least-squares coefficients), and ``Psi = 0.1 diag(v_1, ..., v_d)`` for a
        ``UN`` residual matrix (``v_j`` the OLS residual variance at visit ``j``).  The
        prior median of a variance is about ``0.72 Psi_jj``.  The residual scale is
        smaller because repeated measures are usually strongly correlated: a diagonal
        ``Psi`` of the size of the variances would inflate the small eigenvalues of
        ``R`` (and shrink its correlations).  A tiny ``Psi`` (e.g. ``0.001 I``) is not
        vague either: the density ``|S|^(-(nu+q+1)/2)`` then pulls the posterior towards
        singular matrices, and with missing visits the data augmentation mixes very
        slowly there.
    hw_df : float
        ``nu`` of the Huang-Wand prior (2: uniform marginal correlations).
    defaults : {"metamodels", "sas"}
        Which rule fills in the unset inverse Wishart hyperparameters: this package's
        data-scaled ones (``"metamodels"``, described under ``iw_scale``), or PROC
        BGLIMM's ``IW(q + 3, (q + 3) I)`` (``"sas"``; use :meth:`GibbsPriors.sas`, which
        also sets the scalar variances' ``IG(2, 2)``).
    fixed : dict, optional
        Point-mass priors: ``{name: value}`` with the names of the frequentist ``res.theta``
        (e.g. ``{"Residual": 1.0, "patient Var((Intercept))": 0.5}``).  Every parameter of a
        component (a random term's ``G``, the residual variances of all ``cov_group``
        levels, one ``UN`` residual matrix per level) must be fixed together.

    Notes
    -----
    All defaults are vague and this package's own choices.  PROC BGLIMM shares the
    families (a flat prior on ``b``, inverse gamma priors on scalar variances, inverse
    Wishart priors on ``UN`` matrices) with informative hyperparameters;
    :meth:`GibbsPriors.sas` (``fit_bayes(priors="sas")``) reproduces them.  With few
    random-effect levels ``IG(0.001, 0.001)`` can be influential (Gelman 2006);
    ``variance="half-t"`` is then the usual alternative.

    .. math::

        b \sim N(m, P^{-1}) \text{ or } p(b) \propto 1, \quad
        p(v) = \frac{b^a}{\Gamma(a)} v^{-a-1} e^{-b/v}, \quad
        p(S) \propto |S|^{-(\nu + q + 1)/2} e^{-\operatorname{tr}(\Psi S^{-1})/2}.

    Raises
    ------
    ValueError
        For an unknown ``variance``, ``covariance`` or ``defaults``, non-positive
        hyperparameters, or ``fixed`` that is not a dict.

    References
    ----------
    Gelman A (2006). Prior distributions for variance parameters in hierarchical
    models. Bayesian Analysis 1(3), 515-534.
    Huang A, Wand MP (2013). Simple marginally noninformative prior distributions for
    covariance matrices. Bayesian Analysis 8(2), 439-452.
    Kass RE, Natarajan R (2006). A default conjugate prior for variance components in
    generalized linear mixed models. Bayesian Analysis 1(3), 535-542.

    Examples
    --------
    >>> from metamodels.bayes.gibbs import GibbsPriors
    >>> GibbsPriors.sas().ig_shape, GibbsPriors.sas().defaults
    (2.0, 'sas')
    >>> pri = GibbsPriors(beta_precision=1e-4, variance="half-t", half_t_scale=1.0)
    >>> pri.component("diag", 1, y_scale=2.0).describe()
    'half-t(df=1, scale=1) on the SD'
    """

    beta_mean: float | ArrayLike = 0.0
    beta_precision: float | ArrayLike | None = None
    variance: Literal["igamma", "half-t"] = "igamma"
    ig_shape: float = 0.001
    ig_scale: float = 0.001
    half_t_df: float = 1.0
    half_t_scale: float | None = None
    covariance: Literal["iwishart", "half-t"] = "iwishart"
    iw_df: float | None = None
    iw_scale: float | ArrayLike | None = None
    hw_df: float = 2.0
    defaults: Literal["metamodels", "sas"] = "metamodels"
    fixed: Mapping[str, float] | None = None

    def __post_init__(self):
        if str(self.variance).lower() not in _VARIANCE:
            raise ValueError(f"variance must be 'igamma' or 'half-t', got {self.variance!r}")
        if str(self.covariance).lower() not in _COVARIANCE:
            raise ValueError("covariance must be 'iwishart' or 'half-t', got "
                             f"{self.covariance!r}")
        for name in ("ig_shape", "ig_scale", "half_t_df", "hw_df"):
            if not float(getattr(self, name)) > 0:
                raise ValueError(f"{name} must be positive")
        if self.half_t_scale is not None and not float(self.half_t_scale) > 0:
            raise ValueError("half_t_scale must be positive")
        if self.defaults not in _DEFAULTS:
            raise ValueError(f"defaults must be 'metamodels' or 'sas', got {self.defaults!r}")
        if self.fixed is not None and not hasattr(self.fixed, "items"):
            raise ValueError("fixed must be a dict {parameter name: value}")

    @classmethod
    def sas(cls, **overrides: Any) -> GibbsPriors:
        """PROC BGLIMM's default priors for normal data (``fit_bayes(priors="sas")``).

        * fixed effects: flat, ``p(b) = 1`` (BGLIMM ``CPRIOR=CONSTANT``, documented
          default);
        * each unstructured ``q x q`` matrix (``UN`` G or R):
          ``IW(q + 3, (q + 3) I)`` (inverse Wishart: BGLIMM's documented default family
          for ``TYPE=UN``; hyperparameters: SAS's documented ``DF = SCALE = dim + 3``
          rule of PROC BCHOICE's ``COVPRIOR=IWISHART``);
        * each scalar variance (a random intercept's, ``VC`` diagonals, residual
          variances): the same rule for ``q = 1``, ``IW(4, 4) = IG(2, 2)`` (inverse
          gamma: BGLIMM's documented default family for ``TYPE=VC``).

        The numeric hyperparameters reproduce the posterior means SAS publishes for its
        BGLIMM repeated-measures example (see ``docs/bayes_mixed.md``); BGLIMM's own
        option pages were not available to confirm them.  Keyword arguments override
        fields (e.g. ``GibbsPriors.sas(beta_precision=1e-4)`` for ``CPRIOR=NORMAL``).

        Parameters
        ----------
        **overrides
            Fields of :class:`GibbsPriors` to set differently.

        Returns
        -------
        GibbsPriors
            With ``defaults="sas"`` and ``ig_shape = ig_scale = 2``.

        Notes
        -----
        ``IW(q + 3, (q + 3) I)`` has prior mean ``(q + 3) / 2 I``, and ``IG(2, 2)`` prior
        mean 2 and mode 2/3: informative for responses whose variances are far below 1
        (on the FEV data they pull the residual variances from about 0.2 to 0.35).
        Rescale the response, or set ``iw_scale`` / ``ig_scale``, if that matters.
        """
        kw = dict(defaults="sas", ig_shape=0.5 * (1.0 + _SAS_EXTRA_DF),
                  ig_scale=0.5 * (1.0 + _SAS_EXTRA_DF))
        kw.update(overrides)
        return cls(**kw)

    # -------------------------------------------------------------- fixed effects
    def beta_prior(self, p: int) -> tuple[np.ndarray, np.ndarray]:
        """``(mean (p,), precision (p, p))`` of the normal prior (zero precision if flat).

        Parameters
        ----------
        p : int
            Number of fixed effects.

        Returns
        -------
        mean : ndarray (p,)
        precision : ndarray (p, p)
            Symmetrised; all zeros for the flat prior.

        Raises
        ------
        ValueError
            If ``beta_precision`` has the wrong shape or is not positive semi-definite.
        """
        mean = np.broadcast_to(np.asarray(self.beta_mean, dtype=float), (p,)).copy()
        if self.beta_precision is None:
            return mean, np.zeros((p, p))
        P = np.asarray(self.beta_precision, dtype=float)
        if P.ndim == 0:
            P = np.eye(p) * float(P)
        elif P.ndim == 1:
            P = np.diag(np.broadcast_to(P, (p,)))
        if P.shape != (p, p):
            raise ValueError(f"beta_precision must be a scalar, ({p},) or ({p}, {p})")
        if np.linalg.eigvalsh(0.5 * (P + P.T)).min() < 0:
            raise ValueError("beta_precision must be positive semi-definite")
        return mean, 0.5 * (P + P.T)

    # ------------------------------------------------------------ components
    def component(self, kind: Literal["diag", "full"], q: int, y_scale: float,
                  psi_default: np.ndarray | None = None) -> ComponentPrior:
        """The resolved prior of one variance component.

        Parameters
        ----------
        kind : {"diag", "full"}
            Independent scalar variances, or an unstructured ``q x q`` matrix.
        q : int
            Size of the component.
        y_scale : float
            Scale used for ``half_t_scale=None`` (the response's standard deviation).
        psi_default : ndarray (q, q), optional
            The data-scaled inverse Wishart scale used when ``iw_scale`` is None (and
            ``defaults="metamodels"``); the identity when omitted.

        Returns
        -------
        ComponentPrior

        Raises
        ------
        ValueError
            If ``iw_df <= q - 1`` or ``iw_scale`` has the wrong shape;
            ``numpy.linalg.LinAlgError`` if it is not positive definite.
        """
        A = float(self.half_t_scale) if self.half_t_scale is not None else float(y_scale)
        if kind == "diag":
            fam = _VARIANCE[str(self.variance).lower()]
            if fam == "ig":
                return ComponentPrior("ig", q, shape=float(self.ig_shape),
                                      scale=float(self.ig_scale))
            return ComponentPrior("ht", q, df=float(self.half_t_df), A=A)
        fam = _COVARIANCE[str(self.covariance).lower()]
        if fam == "hw":
            return ComponentPrior("hw", q, df=float(self.hw_df), A=A)
        sas = self.defaults == "sas"
        if self.iw_df is not None:
            df = float(self.iw_df)
        else:
            df = float(q) + (_SAS_EXTRA_DF if sas else 1.0)
        if not df > q - 1:
            raise ValueError(f"iw_df must exceed q - 1 = {q - 1} for a {q} x {q} matrix")
        if self.iw_scale is None and sas:
            S = (q + _SAS_EXTRA_DF) * np.eye(q)
        elif self.iw_scale is None:
            S = np.eye(q) if psi_default is None else psi_default
        else:
            S = self.iw_scale
        S = np.asarray(S, dtype=float)
        S = np.eye(q) * float(S) if S.ndim == 0 else S
        if S.shape != (q, q):
            raise ValueError(f"iw_scale must be a scalar or a ({q}, {q}) matrix")
        np.linalg.cholesky(S)
        return ComponentPrior("iw", q, df=df, psi=S)


def resolve_priors(priors: GibbsPriors | dict[str, Any] | str | None) -> GibbsPriors:
    """A :class:`GibbsPriors` from ``None`` (this package's defaults), ``"sas"``
    (:meth:`GibbsPriors.sas`), ``"metamodels"``, a dict of fields (with
    ``defaults="sas"`` it starts from :meth:`GibbsPriors.sas`) or a
    :class:`GibbsPriors`.

    Parameters
    ----------
    priors : GibbsPriors, dict, str or None
        The prior specification of :func:`~metamodels.bayes.gibbs.fit_bayes`.

    Returns
    -------
    GibbsPriors

    Raises
    ------
    ValueError
        For an unknown string.
    TypeError
        For any other type.
    """
    if priors is None:
        return GibbsPriors()
    if isinstance(priors, GibbsPriors):
        return priors
    if isinstance(priors, str):
        key = priors.lower()
        if key not in _DEFAULTS:
            raise ValueError(f"priors must be 'sas', 'metamodels', a dict or a GibbsPriors, "
                             f"got {priors!r}")
        return GibbsPriors.sas() if key == "sas" else GibbsPriors()
    if isinstance(priors, dict):
        kw = dict(priors)
        if str(kw.get("defaults", "metamodels")).lower() == "sas":
            kw.pop("defaults")
            return GibbsPriors.sas(**kw)
        return GibbsPriors(**kw)
    raise TypeError("priors must be 'sas', 'metamodels', a dict of GibbsPriors fields or a "
                    "GibbsPriors")


@dataclass(frozen=True, eq=False)
class ComponentPrior:
    """Resolved prior of one variance component: family ``"ig"``, ``"ht"`` (diagonal) or
    ``"iw"``, ``"hw"`` (full), with its hyperparameters."""

    family: str
    q: int
    shape: float = 0.0
    scale: float = 0.0
    df: float = 0.0
    A: float = 1.0
    psi: object = None

    @property
    def has_aux(self) -> bool:
        """Whether the family carries mixing variables (half-t, Huang-Wand)."""
        return self.family in ("ht", "hw")

    def describe(self) -> str:
        """Short text of the prior, e.g. ``"IG(shape=0.001, scale=0.001)"``.

        Returns
        -------
        str
        """
        if self.family == "ig":
            return f"IG(shape={self.shape:g}, scale={self.scale:g})"
        if self.family == "ht":
            return f"half-t(df={self.df:g}, scale={self.A:.4g}) on the SD"
        if self.family == "hw":
            return f"Huang-Wand(df={self.df:g}, scale={self.A:.4g})"
        s = self.psi
        dg = np.diag(s)
        if np.allclose(s, dg[0] * np.eye(self.q)):
            scale = f"{dg[0]:.4g} I"
        elif np.allclose(s, np.diag(dg)):
            scale = f"diag({dg.min():.4g}..{dg.max():.4g})"
        else:
            scale = "Psi"
        return f"IW(df={self.df:g}, scale={scale})"


def _inv_gamma(rng, shape, scale):
    """``IG(shape, scale)`` draws of the shape of ``scale`` (``shape`` broadcasts)."""
    scale = np.asarray(scale, dtype=float)
    return scale / rng.standard_gamma(shape, size=scale.shape)


def draw_diag(prior: ComponentPrior, ss: np.ndarray, count: ArrayLike, aux: np.ndarray | None,
              rng: np.random.Generator) -> np.ndarray:
    """Update independent variances given sums of squares.

    Parameters
    ----------
    prior : ComponentPrior ("ig" or "ht")
        The prior.
    ss : ndarray (C, k, q)
        Sums of squares of the ``count[k]`` mean-zero values of each variance.
    count : ndarray (k,)
        Number of values behind each variance.
    aux : ndarray (C, k, q) or None
        Half-t mixing variables (updated in place).
    rng : numpy.random.Generator
        Random number generator.

    Returns
    -------
    ndarray (C, k, q) of variances.
    """
    n = np.asarray(count, float)[None, :, None]
    if prior.family == "ig":
        return _inv_gamma(rng, prior.shape + 0.5 * n, prior.scale + 0.5 * ss)
    nu = prior.df
    v = _inv_gamma(rng, 0.5 * nu + 0.5 * n, nu / aux + 0.5 * ss)
    aux[...] = _inv_gamma(rng, 0.5 * (nu + 1.0), nu / v + 1.0 / prior.A ** 2)
    return v


_BARTLETT = {}


def _bartlett_constants(q):
    c = _BARTLETT.get(q)
    if c is None:
        c = (np.arange(q, dtype=float), np.tri(q, k=-1), np.eye(q))
        _BARTLETT[q] = c
    return c


def sample_iw(df: ArrayLike, psi: np.ndarray, rng: np.random.Generator,
              inverse: bool = True) -> tuple[np.ndarray, np.ndarray | None, np.ndarray]:
    """``S ~ IW(df, psi)`` by the Bartlett decomposition.

    ``df`` broadcasts against the leading axes of ``psi`` (..., q, q).  With
    ``psi = L L'`` and ``A`` lower triangular, ``A_ii^2 ~ chi2(df - i)``, ``A_ij ~ N(0, 1)``,
    ``L^-T A A' L^-1 ~ Wishart(df, psi^-1)``, so ``S = T T'`` with ``T = L A^-T``.

    Parameters
    ----------
    df : float or array_like
        Degrees of freedom, ``> q - 1``.
    psi : ndarray (..., q, q)
        Scale matrices.
    rng : numpy.random.Generator
        Random number generator.
    inverse : bool
        Also return ``S^-1``.

    Returns
    -------
    (S, S^-1 or None, T)
        ``T`` is a square root of ``S`` (``T T' = S``, not triangular).
    """
    q = psi.shape[-1]
    lead = psi.shape[:-2]
    idx, strict, eye = _bartlett_constants(q)
    chi2 = 2.0 * rng.standard_gamma(0.5 * (np.asarray(df, dtype=float)[..., None] - idx),
                                    size=lead + (q,))
    A = rng.standard_normal(lead + (q, q)) * strict + np.sqrt(chi2)[..., None] * eye
    T = np.linalg.cholesky(psi) @ np.swapaxes(np.linalg.inv(A), -1, -2)
    sig = T @ np.swapaxes(T, -1, -2)
    return sig, (np.linalg.inv(sig) if inverse else None), T


def draw_full(prior: ComponentPrior, S: np.ndarray, count: ArrayLike, aux: np.ndarray | None,
              rng: np.random.Generator,
              inverse: bool = True) -> tuple[np.ndarray, np.ndarray | None, np.ndarray]:
    """Update unstructured covariance matrices given scatter matrices.

    Parameters
    ----------
    prior : ComponentPrior ("iw" or "hw")
        The prior.
    S : ndarray (C, k, q, q)
        Sums of outer products of the ``count[k]`` mean-zero vectors of each matrix.
    count : ndarray (k,)
        Number of vectors behind each matrix.
    aux : ndarray (C, k, q) or None
        Huang-Wand mixing variables (updated in place).
    rng : numpy.random.Generator
        Random number generator.
    inverse : bool
        Also return ``Sigma^-1``.

    Returns
    -------
    (Sigma, Sigma^-1 or None, T), arrays (C, k, q, q) with ``T T' = Sigma``.
    """
    q = S.shape[-1]
    n = np.asarray(count, float)[None, :]
    if prior.family == "iw":
        return sample_iw(prior.df + n, prior.psi + S, rng, inverse)
    nu = prior.df
    psi = S + (2.0 * nu / aux)[..., None] * np.eye(q)
    sig, sinv, T = sample_iw(nu + q - 1.0 + n, psi, rng, True)
    idx = np.arange(q)
    aux[...] = _inv_gamma(rng, 0.5 * (nu + q), nu * sinv[..., idx, idx] + 1.0 / prior.A ** 2)
    return sig, sinv, T
