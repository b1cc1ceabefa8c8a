"""GLMM meta-analysis of counts (metafor's ``rma.glmm``): binomial-normal and
Poisson-normal models, unconditional and conditional (see :mod:`.designs`)."""
from .model import MEASURES, MODELS, MetaGLMM
from .results import MetaGLMMResults

__all__ = ["MetaGLMM", "MetaGLMMResults", "MEASURES", "MODELS"]
