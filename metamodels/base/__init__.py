"""Model base classes on statsmodels' LikelihoodModel."""
