"""Diagnostics and sensitivity analyses of fitted models (a layer above the models).

Each method lives in its own module; this file only imports them.  Results methods
implemented here are registered as results extensions (:mod:`metamodels.base.registry`)
when this package is imported.
"""
from ..base.registry import register_extension
from . import robust as _robust
# publication bias (issue 14)
from .egger import egger_test
from .failsafe import fail_safe_n
from .henmi_copas import henmi_copas
from .petpeese import pet_peese
from .rank import rank_correlation_test
from .selection import selection_model
from .trimfill import trim_and_fill

# influence, leave-one-out, cumulative, permutation tests, subgroups, diagnostic plots
from .cumulative import cumulative
from .influence import get_influence
from .leave1out import leave_one_out
from .permutation import permutation_test
from .plots import baujat_plot, profile_plot, qq_plot, radial_plot
from .subgroup import subgroup_analysis

register_extension("robust", _robust.robust)
register_extension("henmi_copas", henmi_copas)

register_extension("get_influence", get_influence)
register_extension("leave_one_out", leave_one_out)
register_extension("cumulative", cumulative)
register_extension("permutation_test", permutation_test)
register_extension("plot_baujat", baujat_plot)
register_extension("plot_radial", radial_plot)
register_extension("plot_qq", qq_plot)
register_extension("plot_profile", profile_plot)

__all__ = ["egger_test", "rank_correlation_test", "trim_and_fill", "fail_safe_n",
           "pet_peese", "selection_model", "henmi_copas",
           "get_influence", "leave_one_out", "cumulative", "permutation_test",
           "subgroup_analysis", "baujat_plot", "radial_plot", "qq_plot", "profile_plot"]
