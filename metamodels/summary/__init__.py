"""The tables every ``summary()`` prints, built in one place.

* :mod:`.tables` -- the coefficient table (Coef., Std.Err., [df,] z or t, p-value,
  confidence limits) of every results class and plain-text tables;
* :mod:`.blocks` -- the statsmodels ``Summary`` assembled from a header block (model
  information as ``label: value`` pairs) and tables, and the text blocks the command line
  prints (heterogeneity, pooled or fitted effects).

Layer: next to :mod:`metamodels.inference`, below :mod:`metamodels.base` (whose results
base calls into it); functions read a results object only through its public attributes.
"""
from .blocks import heterogeneity_block, make_summary, prediction_block
from .tables import coef_table, coef_table_of, text_table

__all__ = ["coef_table", "coef_table_of", "text_table", "make_summary", "heterogeneity_block",
           "prediction_block"]
