"""Inference helpers shared by all models: information criteria and test outcomes."""
from .criteria import information_criteria
from .tests import LRTestResult, WaldTestResult, lr_test

__all__ = ["information_criteria", "LRTestResult", "WaldTestResult", "lr_test"]
