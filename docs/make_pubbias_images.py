"""Regenerate the images of docs/publication_bias.md: ``python docs/make_pubbias_images.py``."""
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

import metamodels as mm  # noqa: E402

OUT = Path(__file__).parent / "img"


def main():
    OUT.mkdir(exist_ok=True)
    dat = mm.datasets.load("bangertdrowns2004")
    res = mm.MetaRandom.from_formula("yi ~ 1", data=dat, vi="vi").fit(method="REML")
    tf = mm.trim_and_fill(res)
    tf.filled.plot_funnel(contours=None, xlabel="Standardised mean difference").savefig(
        OUT / "funnel_trimfill_bangertdrowns.png", dpi=100)

    res_ml = mm.MetaRandom.from_formula("yi ~ 1", data=dat, vi="vi").fit(method="ML")
    p = np.linspace(0.0005, 1, 400)
    fig, ax = plt.subplots(figsize=(6, 4))
    step = mm.selection_model(res_ml, type="stepfun", steps=[0.025, 1])
    ax.step(np.r_[0, 0.025, 1], np.r_[1, step.delta[1], step.delta[1]], where="post",
            label="step function (0.025)")
    for kind, w in [("halfnorm", lambda d: np.exp(-d[0] * p ** 2)),
                    ("negexp", lambda d: np.exp(-d[0] * p)),
                    ("beta", lambda d: p ** (d[0] - 1) * (1 - p) ** (d[1] - 1))]:
        sel = mm.selection_model(res_ml, type=kind)
        wp = w(sel.delta)
        ax.plot(p, wp / wp.max(), label=kind)
    ax.set_xlabel("one-sided p-value")
    ax.set_ylabel("relative probability of selection")
    ax.set_ylim(0, 1.05)
    ax.legend(frameon=False)
    fig.tight_layout()
    fig.savefig(OUT / "selection_functions_bangertdrowns.png", dpi=100)


if __name__ == "__main__":
    main()
