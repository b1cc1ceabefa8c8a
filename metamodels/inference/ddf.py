"""Denominator degrees of freedom of Wald t and F tests of fixed effects: one object per method.

Every test and interval of a fit (``t_test``, ``f_test``, ``wald_test``, ``conf_int``,
``pvalues``, ``bse``, ``summary``, ``anova``) asks one :class:`DdfMethod` for

* :meth:`~DdfMethod.cov` — the covariance of ``beta`` the method uses (Kenward-Roger's
  adjusted one, else ``C``),
* :meth:`~DdfMethod.t_df` — the df of each single-row contrast ``l'b``,
* :meth:`~DdfMethod.f_test` — the F statistic, its numerator and denominator df and the
  p-value of ``L b = rhs`` (:meth:`~DdfMethod.f_df` the denominator df alone),
* :meth:`~DdfMethod.chi2_test` — the Wald chi2 form with the method's covariance,

reading only the frozen :class:`~metamodels.inference.inputs.InferenceInputs` of the fit.

=========================  =============================================================
name                       method
=========================  =============================================================
satterthwaite              Satterthwaite (1946), lmerTest's ``contestMD`` for F
kenward-roger              SAS ``DDFM=KR``: ``W`` inverse observed information, with the
                           second-derivative term
kenward-roger-linear       without the second-derivative term (mmrm's "Kenward-Roger-Linear")
kenward-roger-expected     ``W`` inverse expected information, as pbkrtest
residual                   ``n - rank(X)``
containment                SAS ``DDFM=CONTAIN``
between-within             SAS ``DDFM=BETWITHIN`` (basic form)
hlm                        HLM software's df (:mod:`.hlm_df`, which registers itself when the package is imported)
=========================  =============================================================

Adding a df method
------------------
Write one subclass of :class:`DdfMethod` (here, or in a new module of ``inference/``
imported below) with ``name``, ``aliases`` and :meth:`~DdfMethod.t_df` (and
:meth:`~DdfMethod.f_test` when the F test is not the Wald F with the smallest t df, or
:meth:`~DdfMethod.cov` when it adjusts the covariance), decorated with
:func:`register_ddf`.  ``ddf="<name>"`` then works in every test, interval, summary and
ANOVA of every results class that builds :class:`InferenceInputs`; what else a method
needs from a fit goes into :class:`InferenceInputs` (filled in by the results).

References
----------
Satterthwaite FE (1946); Giesbrecht FG, Burns JC (1985) Biometrics 41; Fai AH, Cornelius PL
(1996) J Stat Comput Simul 54; Kuznetsova A, Brockhoff PB, Christensen RHB (2017) lmerTest,
J Stat Softw 82.  Kenward MG, Roger JH (1997) Biometrics 53: 983-997; Halekoh U, Hojsgaard S
(2014) pbkrtest, J Stat Softw 59.  SAS/STAT User's Guide, PROC MIXED, DDFM= option.
"""
from __future__ import annotations

from functools import cached_property
from typing import NamedTuple

import numpy as np
from scipy import stats

from .ddf_kernels import (EigenContrast, KRFTest, SatterthwaiteFTest, eigen_contrast,
                          fstat_ddf, kenward_roger_adjust, kenward_roger_cov, kenward_roger_f,
                          pinv_psd, satterthwaite_f, satterthwaite_t_df)
from .inputs import FixedTerm, InferenceInputs, RandomEffect

__all__ = ["DdfMethod", "FTest", "register_ddf", "check_ddf", "get_ddf", "ddf_class", "ddf_methods",
           "DDF_METHODS", "KR_FLAVOURS", "Residual", "Containment", "BetweenWithin",
           "Satterthwaite", "KenwardRoger", "KenwardRogerLinear", "KenwardRogerExpected",
           "containment_table", "between_within_table",
           "InferenceInputs", "FixedTerm", "RandomEffect",
           # kernels (:mod:`.ddf_kernels`), re-exported
           "EigenContrast", "eigen_contrast", "fstat_ddf", "satterthwaite_t_df",
           "satterthwaite_f", "kenward_roger_cov", "kenward_roger_adjust", "kenward_roger_f",
           "KRFTest", "SatterthwaiteFTest", "pinv_psd"]

_METHODS = {}       # canonical name -> class, in registration order
_ALIASES = {}       # alias -> canonical name


def register_ddf(cls):
    """Class decorator: make ``cls`` (a :class:`DdfMethod`) available as ``ddf=cls.name``
    (and its ``aliases``)."""
    if _METHODS.get(cls.name, cls) is not cls:
        raise ValueError(f"ddf method {cls.name!r} is registered twice")
    _METHODS[cls.name] = cls
    for a in cls.aliases:
        _ALIASES[a] = cls.name
    return cls


def ddf_methods():
    """Canonical names of the registered df methods."""
    return tuple(_METHODS)


def check_ddf(ddf):
    """Canonical name of a ddf method (case, ``_``/``-`` and SAS abbreviations accepted)."""
    key = str(ddf).lower().replace("_", "-")
    key = _ALIASES.get(key, key)
    if key not in _METHODS:
        raise ValueError(f"unknown ddf method {ddf!r}; valid values are "
                         f"{', '.join(_METHODS)}")
    return key


def ddf_class(ddf):
    """The :class:`DdfMethod` subclass of ``ddf`` (any accepted spelling)."""
    return _METHODS[check_ddf(ddf)]


def get_ddf(ddf, inputs):
    """The df method ``ddf`` (any accepted spelling) on ``inputs``."""
    return ddf_class(ddf)(inputs)


class FTest(NamedTuple):
    """Outcome of an F test: unpacks as ``(statistic, df_num, df_denom, pvalue)``."""

    statistic: float
    df_num: int
    df_denom: float
    pvalue: float


class DdfMethod:
    """One denominator-df method on the frozen inputs of a fit.

    Parameters
    ----------
    inputs : InferenceInputs

    Attributes
    ----------
    name : str
        Canonical name (``ddf=`` value).
    aliases : tuple of str
        Other accepted spellings (lower case, ``-`` for ``_``).
    adjusts_cov : bool
        The method replaces ``C = (X'V^{-1}X)^{-1}`` by its own covariance (:meth:`cov`),
        which then also gives the standard errors.
    """

    name = "?"
    aliases = ()
    adjusts_cov = False

    def __init__(self, inputs):
        self.inputs = inputs

    def cov(self):
        """Covariance of ``beta`` used by the method's tests and intervals."""
        return self.inputs.cov_beta

    def t_df(self, L):  # pragma: no cover - abstract
        """Denominator df of each row ``l'b`` of ``L`` (an array of ``L.shape[0]``)."""
        raise NotImplementedError

    def _f_den(self, L, term=None):
        """Denominator df of the Wald F of ``L`` (``term``: the ANOVA term it tests)."""
        return float(np.min(self.t_df(L)))

    def f_df(self, L, term=None):
        """Denominator df of the F test of ``L b = 0``."""
        return self.f_test(L, term=term).df_denom

    def f_test(self, L, rhs=None, term=None):
        """F test of ``L b = rhs``: the Wald F ``(Lb - rhs)'(L C L')^+ (Lb - rhs) / q`` on
        the row space of ``L`` (``q`` its rank) with this method's denominator df."""
        L = np.atleast_2d(L)
        inp = self.inputs
        ec = eigen_contrast(L, inp.beta, inp.cov_beta, rhs)
        F, q = ec.wald_f, ec.q
        den = self._f_den(L, term)
        return FTest(F, q, float(den), float(stats.f.sf(F, q, den)))

    def chi2_test(self, L, rhs=None):
        """``(chi2, df, pvalue)`` of ``L b = rhs``: the Wald statistic ``q F`` with the
        method's covariance, referred to chi2(q) (no denominator df)."""
        inp = self.inputs
        ec = eigen_contrast(np.atleast_2d(L), inp.beta, inp.cov_beta, rhs)
        stat, q = ec.wald_f * ec.q, ec.q
        return stat, q, float(stats.chi2.sf(stat, q))

    def __repr__(self):
        return f"{type(self).__name__}()"


# ---------------------------------------------------------------- Satterthwaite / KR
@register_ddf
class Satterthwaite(DdfMethod):
    """Satterthwaite df: ``df = 2 (l'Cl)^2 / (g'Ag)``, ``g_j = l' C B_j C l``, ``A`` the
    inverse observed information; multi-df F by eigen-contrasts (Fai and Cornelius 1996,
    lmerTest's ``contestMD``)."""

    name = "satterthwaite"
    aliases = ("sat",)

    def t_df(self, L):
        inp = self.inputs
        return satterthwaite_t_df(L, inp.cov_beta, inp.sensitivities.B, inp.cov_theta)

    def f_test(self, L, rhs=None, term=None):
        inp = self.inputs
        r = satterthwaite_f(L, inp.beta, inp.cov_beta, inp.sensitivities.B, inp.cov_theta,
                            rhs)
        return FTest(r.statistic, r.df_num, r.df_denom, r.pvalue)


@register_ddf
class KenwardRoger(DdfMethod):
    """Kenward-Roger as SAS ``DDFM=KR``: ``W`` the inverse observed information, the
    second-derivative term ``R_ij`` kept.  Tests use the adjusted covariance
    ``Phi_A = Phi + 2 Phi Lambda Phi`` and the scaled F (Kenward and Roger 1997)."""

    name = "kenward-roger"
    aliases = ("kr", "kenwardroger")
    adjusts_cov = True
    information = "observed"        # W: inverse "observed" or "expected" information
    second_order = True             # keep the second-derivative term R_ij

    @cached_property
    def W(self):
        """Covariance of theta the adjustment uses."""
        inp = self.inputs
        if not getattr(inp.sensitivities, "supports_kenward_roger", True):
            inp.sensitivities.q_contract(None)          # raises NotImplementedError
        return inp.cov_theta if self.information == "observed" else inp.expected_cov_theta

    @cached_property
    def cov_adjusted(self):
        inp = self.inputs
        s, W = inp.sensitivities, self.W
        return kenward_roger_adjust(inp.cov_beta, s.B, W, s.q_contract(W),
                                    s.r_contract(W) if self.second_order else None)

    def cov(self):
        return self.cov_adjusted

    def _kr(self, L, rhs=None):
        inp = self.inputs
        return kenward_roger_f(L, inp.beta, inp.cov_beta, self.cov_adjusted,
                               inp.sensitivities.B, self.W, rhs)

    def t_df(self, L):
        return np.array([self._kr(l[None]).df_denom for l in np.atleast_2d(L)])

    def f_test(self, L, rhs=None, term=None):
        r = self._kr(np.atleast_2d(L), rhs)
        return FTest(r.statistic, r.df_num, r.df_denom, r.pvalue)

    def chi2_test(self, L, rhs=None):
        r = self._kr(np.atleast_2d(L), rhs)
        stat, q = r.wald_f * r.df_num, r.df_num
        return stat, q, float(stats.chi2.sf(stat, q))


@register_ddf
class KenwardRogerLinear(KenwardRoger):
    """Kenward-Roger without the second-derivative term (mmrm's "Kenward-Roger-Linear")."""

    name = "kenward-roger-linear"
    aliases = ("kr-linear", "krlinear")
    second_order = False


@register_ddf
class KenwardRogerExpected(KenwardRoger):
    """Kenward-Roger with ``W`` the inverse expected information, as pbkrtest (R)."""

    name = "kenward-roger-expected"
    aliases = ("kr-expected", "pbkrtest", "kr-pbkrtest", "kenward-roger-pbkrtest")
    information = "expected"


# ------------------------------------------------------------------ classical methods
@register_ddf
class Residual(DdfMethod):
    """``n - rank(X)`` for every contrast."""

    name = "residual"

    def t_df(self, L):
        return np.full(np.atleast_2d(L).shape[0], self.inputs.df_resid)

    def _f_den(self, L, term=None):
        return self.inputs.df_resid


def _rank(M):
    return int(np.linalg.matrix_rank(M)) if M.size else 0


def containment_table(inputs):
    """``{term: (df, columns)}`` of the containment method (SAS ``DDFM=CONTAIN``).

    A fixed effect ``F`` is contained in a random effect ``E`` when every variable of ``F``
    appears in ``E`` (for a random term ``(x | g)`` the effects are ``g`` and ``x*g``); its
    df is the smallest rank contribution ``rank([X Z]) - rank([X Z_{-E}])`` of a containing
    effect, else ``n - rank([X Z])``.
    """
    X = inputs.X
    n = int(inputs.nobs)
    effects = [(e.variables, e.dense(n)) for e in inputs.random_effects]
    Zall = np.hstack([X] + [Z for _, Z in effects])
    r_all = _rank(Zall)
    contrib = []
    for i in range(len(effects)):
        others = np.hstack([X] + [Z for j, (_, Z) in enumerate(effects) if j != i])
        contrib.append(r_all - _rank(others))
    resid = n - r_all
    out = {}
    for t in inputs.terms:
        dfs = [c for (evars, _), c in zip(effects, contrib) if t.variables <= evars and c > 0]
        out[t.name] = (min(dfs) if dfs else resid, list(t.columns))
    return out


def _r_side_unstructured_only(spec):
    """No random effects and an unstructured R side (SAS ``TYPE=UN``)."""
    res = getattr(spec, "residual", None)
    return (spec is not None and not getattr(spec, "random", ()) and res is not None
            and getattr(res.structure, "name", "") == "UN")


def between_within_table(inputs):
    """``{term: (df, columns)}`` of the between-within method (SAS ``DDFM=BETWITHIN``,
    basic form): effects constant within every subject get ``s - rank(X_between)``
    (``s`` subjects), the others ``n - rank([X Z_subject])``.  As SAS (and GLIMMIX's
    documentation of DDFM=BETWITHIN) does, a model with only an R side and
    ``TYPE=UN`` gives every effect the between-subject df, "for better small-sample
    approximations"."""
    import pandas as pd
    X = inputs.X
    subj = inputs.subject
    n = int(inputs.nobs)
    s = int(subj.max()) + 1
    varies = (pd.DataFrame(X).groupby(subj).nunique() > 1).any(axis=0).to_numpy()
    Zs = np.zeros((n, s))
    Zs[np.arange(n), subj] = 1.0
    within = n - _rank(np.hstack([X, Zs]))
    between = s - _rank(X[:, ~varies]) if (~varies).any() else s
    if _r_side_unstructured_only(inputs.spec):
        within = between
    out = {}
    for t in inputs.terms:
        cols = list(t.columns)
        out[t.name] = (within if varies[cols].any() else between, cols)
    return out


class _TermTableMethod(DdfMethod):
    """A df per fixed-effects term (:meth:`table`); a contrast gets the smallest df among
    the columns it involves, the F test of a term that term's df."""

    def table(self):  # pragma: no cover - abstract
        """``{term: (df, columns)}`` (computed; :attr:`term_table` keeps it)."""
        raise NotImplementedError

    @cached_property
    def term_table(self):
        """``{term: (df, columns)}``, computed once."""
        return self.table()

    @cached_property
    def _column_df(self):
        col_df = np.empty(self.inputs.k_fe)
        for df, cols in self.term_table.values():
            col_df[cols] = df
        return col_df

    def t_df(self, L):
        L = np.atleast_2d(L)
        col_df = self._column_df
        return np.array([col_df[np.abs(l) > 1e-12].min() if np.any(np.abs(l) > 1e-12)
                         else self.inputs.df_resid for l in L])

    def _f_den(self, L, term=None):
        if term is not None:
            return self.term_table[term][0]
        return float(self.t_df(L).min())


@register_ddf
class Containment(_TermTableMethod):
    """SAS ``DDFM=CONTAIN`` (:func:`containment_table`)."""

    name = "containment"
    aliases = ("contain",)

    def table(self):
        return containment_table(self.inputs)


@register_ddf
class BetweenWithin(_TermTableMethod):
    """SAS ``DDFM=BETWITHIN`` (:func:`between_within_table`)."""

    name = "between-within"
    aliases = ("betwithin",)

    def table(self):
        return between_within_table(self.inputs)


#: canonical names of the df methods defined here (:func:`ddf_methods` also lists
#: methods registered elsewhere)
DDF_METHODS = ddf_methods()

#: Kenward-Roger flavours: (W = inverse observed (SAS) or expected (pbkrtest) information,
#: keep the second-derivative term R_ij)
KR_FLAVOURS = {cls.name: (cls.information, cls.second_order)
               for cls in _METHODS.values() if issubclass(cls, KenwardRoger)}
