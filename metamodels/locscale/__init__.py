"""Location-scale meta-analysis: modelling heterogeneity itself."""
from .bivariate import BivariateLocationScaleMeta
from .model import LocationScaleMeta
from .results import LocationScaleResults

__all__ = ["LocationScaleMeta", "LocationScaleResults", "BivariateLocationScaleMeta"]
