"""Regenerate the images of docs/plots.md: ``python docs/make_images.py``."""
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import numpy as np  # noqa: E402

import metamodels as mm  # noqa: E402

OUT = Path(__file__).parent / "img"


def main():
    OUT.mkdir(exist_ok=True)
    dat = mm.datasets.load("bcg")
    es = mm.effect_size("RR", dat, ai="tpos", bi="tneg", ci="cpos", di="cneg")
    es.index = es["author"] + ", " + es["year"].astype(str)

    res = mm.MetaRandom.from_formula("yi ~ 1", data=es, vi="vi").fit()
    res.plot_forest(transform=np.exp, xscale="log", xlabel="Risk ratio (log scale)").savefig(
        OUT / "forest_bcg.png", dpi=100)

    reg = mm.MetaRandom.from_formula("yi ~ ablat", data=es, vi="vi").fit()
    reg.plot_forest(sort="effect", xlabel="Log risk ratio").savefig(
        OUT / "forest_bcg_ablat.png", dpi=100)

    res.plot_funnel(xlabel="Log risk ratio").savefig(OUT / "funnel_bcg.png", dpi=100)

    # Mantel-Haenszel forest plot (odds ratios on a log axis by default)
    mh = mm.mantel_haenszel(es, ai="tpos", bi="tneg", ci="cpos", di="cneg", measure="OR")
    mh.plot_forest().savefig(OUT / "forest_mh_bcg.png", dpi=80)

    # multivariate forest plot: two outcomes per trial, a pooled diamond per outcome
    b = mm.datasets.load("berkey1998")
    blocks = [b.loc[b.trial == t, ["v1i", "v2i"]].to_numpy() for t in b.trial.unique()]
    mv = mm.MetaMixed.from_formula("yi ~ 0 + outcome + (0 + outcome | trial)", b,
                                   V=blocks).fit()
    mv.plot_forest(labels=(b["author"] + " " + b["year"].astype(str)).tolist(),
                   xlabel="Mean difference (mm)").savefig(OUT / "forest_mv_berkey.png", dpi=80)

    # joint confidence region of the two pooled effects (BivariateMeta)
    pd_, al = b[b.outcome == "PD"].set_index("trial"), b[b.outcome == "AL"].set_index("trial")
    wide = pd_[["yi"]].rename(columns={"yi": "PD"}).assign(AL=al.yi, vPD=pd_.v1i,
                                                          cov=pd_.v2i, vAL=al.v2i)
    bv = mm.BivariateMeta.from_formula("PD + AL ~ 1", wide,
                                       within_cov=["vPD", "cov", "vAL"]).fit()
    fig = bv.plot_confidence_region(alpha=[0.05, 0.5])
    fig.set_size_inches(4.2, 3.8)
    fig.savefig(OUT / "region_berkey.png", dpi=80)

    # mixed model: caterpillar plot of the EBLUPs and residual diagnostics
    ss = mm.datasets.load("sleepstudy")
    fit = mm.MixedModel.from_formula("Reaction ~ Days + (Days | Subject)", ss).fit()
    fit.plot_caterpillar(figsize=(7, 4.2)).savefig(OUT / "caterpillar_sleepstudy.png", dpi=80)
    fit.plot_diagnostics(figsize=(10, 3.2)).savefig(OUT / "diagnostics_sleepstudy.png",
                                                    dpi=80)


if __name__ == "__main__":
    main()
