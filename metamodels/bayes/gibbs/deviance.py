"""Marginal deviance ``-2 log N(y; X b, V(theta))`` of a mixed model at many parameter
values, for the DIC.

Every covariance structure the sampler supports is linear in ``theta``, so
``V(theta) = sum_j theta_j dV/dtheta_j`` with constant derivatives (the engine's
``spec.jacobian``); the deviance of a batch of draws is then a tensor contraction
followed by batched Cholesky factorisations of the independent blocks.
"""
from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from numpy.typing import ArrayLike

    from ...mixed.model import MixedModel

__all__ = ["MarginalDeviance"]

_LOG2PI = np.log(2.0 * np.pi)


class MarginalDeviance:
    """``D(b, theta) = -2 log p(y | b, theta)`` with the random effects integrated out.

    Parameters
    ----------
    model : MixedModel
        A model whose covariance is linear in ``theta``.
    max_elements : int
        Memory budget (array elements) of one batch of ``V`` matrices.

    Raises
    ------
    NotImplementedError
        If the covariance model is not linear in ``theta``.
    """

    def __init__(self, model: MixedModel, max_elements: int = 2_000_000) -> None:
        spec = model.spec
        if not spec.is_linear:
            raise NotImplementedError("the marginal deviance needs a linear covariance model")
        self.y = np.asarray(model.endog, dtype=float)
        self.X = np.asarray(model.exog, dtype=float)
        theta0 = spec.start(1.0)
        self.groups = [(rows, D) for rows, D in zip(spec.layout.groups, spec.jacobian(theta0))]
        self.max_elements = int(max_elements)

    def __call__(self, beta: ArrayLike, theta: ArrayLike) -> np.ndarray:
        """Deviance at each row of ``beta`` (S, p) and ``theta`` (S, m); ``inf`` where
        ``V`` is not positive definite.

        Parameters
        ----------
        beta : array_like (S, p)
            Fixed effects.
        theta : array_like (S, m)
            Covariance parameters (``res.theta`` order).

        Returns
        -------
        ndarray (S,)
        """
        beta = np.atleast_2d(np.asarray(beta, dtype=float))
        theta = np.atleast_2d(np.asarray(theta, dtype=float))
        S = beta.shape[0]
        out = np.zeros(S)
        resid = self.y[None, :] - beta @ self.X.T                    # (S, n)
        for rows, D in self.groups:
            nb, m = rows.shape
            step = max(1, self.max_elements // max(1, nb * m * m))
            for a in range(0, S, step):
                sl = slice(a, min(S, a + step))
                V = np.tensordot(theta[sl], D, axes=(1, 0))          # (s, nb, m, m)
                r = resid[sl][:, rows]                                # (s, nb, m)
                try:
                    L = np.linalg.cholesky(V)
                except np.linalg.LinAlgError:
                    out[sl] = np.inf
                    continue
                z = np.linalg.solve(L, r[..., None])[..., 0]
                logdet = 2.0 * np.log(np.diagonal(L, axis1=-2, axis2=-1)).sum(axis=-1)
                out[sl] += np.sum(m * _LOG2PI + logdet + np.sum(z * z, axis=-1), axis=-1)
        return out
