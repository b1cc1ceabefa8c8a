"""Compatibility shims across statsmodels versions."""
try:  # statsmodels >= 0.15
    from statsmodels.tools._decorators import cache_readonly
except ImportError:  # pragma: no cover - older statsmodels
    from statsmodels.tools.decorators import cache_readonly

__all__ = ["cache_readonly"]
