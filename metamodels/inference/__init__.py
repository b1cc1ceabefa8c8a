"""Inference helpers shared by all models: information criteria and test outcomes."""
from .criteria import information_criteria
from .tests import LRTestResult, WaldTestResult, lr_test
from . import hlm_df  # noqa: F401  registers ddf="hlm" (kept out of ddf.py: no import circle)

__all__ = ["information_criteria", "LRTestResult", "WaldTestResult", "lr_test"]
