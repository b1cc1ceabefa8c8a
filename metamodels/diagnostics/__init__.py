"""Diagnostics and sensitivity analyses of fitted models (a layer above the models).

Results methods implemented here are registered as results extensions
(:mod:`metamodels.base.registry`) when this package is imported, which
``import metamodels`` does.
"""
from ..base.registry import register_extension
from . import robust as _robust

# influence, leave-one-out, cumulative, permutation tests, subgroups, diagnostic plots
from .cumulative import cumulative
from .influence import get_influence
from .leave1out import leave_one_out
from .permutation import permutation_test
from .plots import baujat_plot, profile_plot, qq_plot, radial_plot
from .subgroup import subgroup_analysis

register_extension("robust", _robust.robust)

register_extension("get_influence", get_influence)
register_extension("leave_one_out", leave_one_out)
register_extension("cumulative", cumulative)
register_extension("permutation_test", permutation_test)
register_extension("plot_baujat", baujat_plot)
register_extension("plot_radial", radial_plot)
register_extension("plot_qq", qq_plot)
register_extension("plot_profile", profile_plot)

__all__ = ["get_influence", "leave_one_out", "cumulative", "permutation_test",
           "subgroup_analysis", "baujat_plot", "radial_plot", "qq_plot", "profile_plot"]
