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


if __name__ == "__main__":
    main()
