"""Generate fev_sim.csv: a simulated three-drug crossover asthma trial.

Run ``python -m metamodels.datasets.fev_sim.make_fev_sim`` to regenerate (seeded, so
the bundled file is reproducible).  The design copies the SAS PROC MIXED/BGLIMM asthma
example (24 patients, drugs a, c and placebo p, FEV1 at hours 1-8, a baseline per
patient and drug, about 28% of the visits missing); the parameter values are our own.

Model: fev = 1.0 + 0.6 baseval + (0.35 [drug a], 0.55 [drug c], 0 [placebo])
             - 0.06 (hour - 1) + u_patient + e,
u_patient ~ N(0, 0.30), e over hours 1-8 ~ N(0, R) with standard deviations rising from
0.30 to 0.44 and correlations 0.85^|i-j| (a heterogeneous AR(1), a special case of UN).
"""
from pathlib import Path

import numpy as np
import pandas as pd


def simulate(seed=20261122):
    rng = np.random.default_rng(seed)
    hours = np.arange(1, 9)
    sd = np.linspace(0.30, 0.44, 8)
    R = np.outer(sd, sd) * 0.85 ** np.abs(np.subtract.outer(hours, hours))
    L = np.linalg.cholesky(R)
    effect = {"a": 0.35, "c": 0.55, "p": 0.0}
    rows = []
    for patient in range(201, 225):
        u = rng.normal(0.0, np.sqrt(0.30))
        base_p = rng.normal(2.6, 0.5)
        for drug in ("a", "c", "p"):
            baseval = round(base_p + rng.normal(0.0, 0.12), 2)
            e = L @ rng.standard_normal(8)
            mu = 1.0 + 0.6 * baseval + effect[drug] - 0.06 * (hours - 1) + u
            keep = rng.random(8) > 0.28
            keep[0] = True                       # every patient-drug unit has hour 1
            for h, y, k in zip(hours, mu + e, keep):
                if k:
                    rows.append((patient, baseval, drug, int(h), round(float(y), 2)))
    return pd.DataFrame(rows, columns=["patient", "baseval", "drug", "hour", "fev"])


if __name__ == "__main__":
    out = Path(__file__).with_name("fev_sim.csv")
    simulate().to_csv(out, index=False)
    print("wrote", out)
