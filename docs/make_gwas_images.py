"""Regenerate the images of docs/gwas_methods.md: ``python docs/make_gwas_images.py``.

A simulated trans-ethnic GWAS: six studies from three ancestries (two each), 20,000
variants on five chromosomes; one locus with the same effect everywhere, one whose
effect differs by ancestry, the rest null.
"""
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

import metamodels as mm  # noqa: E402

OUT = Path(__file__).parent / "img"
STUDIES = ["EUR-1", "EUR-2", "EAS-1", "EAS-2", "AFR-1", "AFR-2"]


def simulate(seed=2026):
    rng = np.random.default_rng(seed)
    m, k = 20000, 6
    pop = np.array([0.25, 0.25, 0.4, 0.4, 0.6, 0.6])            # ancestral frequencies
    base = rng.uniform(0.05, 0.95, m)
    freq = np.clip(base[:, None] + (pop - 0.4)[None, :] * rng.normal(0, 0.6, (m, 1))
                   + rng.normal(0, 0.02, (m, k)), 0.02, 0.98)
    n = np.array([40000, 30000, 25000, 20000, 15000, 12000])
    se = 1 / np.sqrt(2 * freq * (1 - freq) * n)
    beta = rng.normal(size=(m, k)) * se
    chrom = np.repeat(np.arange(1, 6), m // 5)
    pos = np.tile(np.arange(m // 5), 5)
    hom = (chrom == 2) & (np.abs(pos - 2000) < 15)             # same effect everywhere
    het = (chrom == 4) & (np.abs(pos - 1200) < 15)             # differs by ancestry
    shape_h = np.exp(-np.abs(pos - 2000) / 5.0)[:, None]
    shape_a = np.exp(-np.abs(pos - 1200) / 5.0)[:, None]
    beta += np.where(hom[:, None], 0.045 * shape_h, 0.0)
    beta += np.where(het[:, None], np.array([0.0, 0.0, 0.09, 0.09, -0.09, -0.09]) * shape_a,
                     0.0)
    return beta, se, freq, chrom, pos


def main():
    OUT.mkdir(exist_ok=True)
    beta, se, freq, chrom, pos = simulate()
    D = mm.batch.distance_from_frequencies(freq)
    res = mm.batch.mantra(beta, se, distance=D)
    fe = mm.batch.meta_analyze(beta, se)

    fig, axes = plt.subplots(2, 1, figsize=(9, 5.5), sharex=True)
    x = (chrom - 1) * 4000 + pos
    col = np.where(chrom % 2 == 1, "#1f4e79", "#7fa7d1")
    axes[0].scatter(x, -fe["log10p"], s=3, c=col)
    axes[0].axhline(-np.log10(5e-8), color="grey", lw=0.8, ls="--")
    axes[0].set_ylabel("-log10 p (fixed effect)")
    axes[1].scatter(x, res["log10_bf"], s=3, c=col)
    axes[1].axhline(6, color="grey", lw=0.8, ls="--")
    axes[1].set_ylabel("log10 BF (MANTRA-class)")
    axes[1].set_xticks([(c - 1) * 4000 + 2000 for c in range(1, 6)], [str(c) for c in
                                                                       range(1, 6)])
    axes[1].set_xlabel("chromosome")
    fig.tight_layout()
    fig.savefig(OUT / "gwas_mantra_manhattan.png", dpi=100)
    plt.close(fig)

    fig, axes = plt.subplots(1, 2, figsize=(9, 3.6), sharey=True)
    colours = plt.cm.tab10.colors
    for ax, lead, title in ((axes[0], np.argmax(np.where(chrom == 2, res["log10_bf"], -1e9)),
                             "homogeneous locus"),
                            (axes[1], np.argmax(np.where(chrom == 4, res["log10_bf"], -1e9)),
                             "ancestry-specific locus")):
        d = mm.batch.mantra_detail(beta[lead], se[lead], distance=D, names=STUDIES)
        cl = d.effects["cluster"].to_numpy()
        for j, name in enumerate(STUDIES):
            c = colours[list(dict.fromkeys(cl)).index(cl[j])]
            ax.errorbar(beta[lead, j], j, xerr=1.96 * se[lead, j], fmt="o", color=c)
        ax.axvline(0, color="grey", lw=0.8)
        ax.set_yticks(range(6), STUDIES)
        ax.invert_yaxis()
        ax.set_xlabel("effect (95% CI)")
        ax.set_title(f"{title}\nlog10 BF {d.log10_bf:.1f}, P(C>1) {d.p_heterogeneous:.2f}",
                     fontsize=10)
    fig.tight_layout()
    fig.savefig(OUT / "gwas_mantra_clusters.png", dpi=100)
    plt.close(fig)
    return beta, se, D, res


if __name__ == "__main__":
    main()
