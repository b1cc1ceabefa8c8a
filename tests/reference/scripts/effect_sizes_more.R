# Reference values from metafor::escalc (3.8) for the measures added for issue 14:
# SMCC, SMCR, SMDH, IRR, IRD, IRLN, MN, MNLN, CVR, VR, PHI (ST, CS), PCOR, ZPCOR,
# OR2DN, OR2DL, D2ORN, D2ORL and PETO, with zero cells and the add/to/drop00 rules.
# (R2 and ZR2 are not in metafor 3.8.)
#
# Run from the repository root:
#   Rscript tests/reference/scripts/effect_sizes_more.R
# Writes tests/reference/effect_sizes_more.json (jsonlite, digits = NA, NA -> null).

suppressMessages({
  library(metafor)
  library(jsonlite)
})

normand <- dat.normand1999[, c("study", "n1i", "m1i", "sd1i", "n2i", "m2i", "sd2i")]
# a small pre-post (change score) set
morris <- data.frame(study = 1:5, m_pre = c(30.6, 23.5, 0.5, 53.4, 35.6),
                     m_post = c(38.5, 26.8, 0.7, 75.9, 36.0),
                     sd_pre = c(15.0, 3.1, 0.1, 14.5, 4.7), sd_post = c(11.6, 4.1, 0.1, 4.4, 4.6),
                     ni = c(20, 50, 9, 10, 14), ri = c(0.47, 0.64, 0.77, 0.89, 0.44))
aloe <- dat.aloe2013[, c("study", "tval", "n", "preds")]
hart <- dat.hart1999[, c("trial", "x1i", "t1i", "x2i", "t2i")]
toyir <- data.frame(study = 1:5, x1i = c(0, 3, 5, 0, 8), t1i = c(100, 120, 90, 50, 200),
                    x2i = c(2, 0, 7, 0, 12), t2i = c(110, 100, 95, 60, 190))
bcg <- dat.bcg[, c("trial", "tpos", "tneg", "cpos", "cneg")]
toy2x2 <- data.frame(study = 1:6,
                     ai = c(0, 5, 3, 0, 4, 2), bi = c(10, 5, 7, 10, 0, 8),
                     ci = c(2, 0, 4, 0, 6, 3), di = c(8, 10, 6, 10, 0, 9))
datasets <- list(normand1999 = normand, morris2008 = morris, aloe2013 = aloe, hart1999 = hart,
                 toyir = toyir, bcg = bcg, toy2x2 = toy2x2)

cases <- list()
run <- function(measure, dataset, columns, args = list()) {
  dat <- datasets[[dataset]]
  call_args <- c(list(measure = measure, data = dat), lapply(columns, as.name), args)
  es <- suppressWarnings(do.call(escalc, call_args))
  cases[[length(cases) + 1]] <<- list(measure = measure, dataset = dataset,
                                      args = c(list(columns = columns), args),
                                      yi = as.numeric(es$yi), vi = as.numeric(es$vi))
}

mean_cols <- list(m1i = "m1i", sd1i = "sd1i", n1i = "n1i", m2i = "m2i", sd2i = "sd2i", n2i = "n2i")
for (m in c("SMDH", "CVR", "D2ORN", "D2ORL")) run(m, "normand1999", mean_cols)
run("VR", "normand1999", list(sd1i = "sd1i", n1i = "n1i", sd2i = "sd2i", n2i = "n2i"))
run("MN", "normand1999", list(mi = "m1i", sdi = "sd1i", ni = "n1i"))
run("MNLN", "normand1999", list(mi = "m1i", sdi = "sd1i", ni = "n1i"))
run("SMCC", "morris2008", list(m1i = "m_post", m2i = "m_pre", sd1i = "sd_post", sd2i = "sd_pre",
                               ni = "ni", ri = "ri"))
run("SMCR", "morris2008", list(m1i = "m_post", m2i = "m_pre", sd1i = "sd_pre", ni = "ni", ri = "ri"))
run("PCOR", "aloe2013", list(ti = "tval", ni = "n", mi = "preds"))
run("ZPCOR", "aloe2013", list(ti = "tval", ni = "n", mi = "preds"))
ir_cols <- list(x1i = "x1i", t1i = "t1i", x2i = "x2i", t2i = "t2i")
for (ds in c("hart1999", "toyir")) {
  for (m in c("IRR", "IRD")) {
    run(m, ds, ir_cols)
    run(m, ds, ir_cols, list(drop00 = TRUE))
    run(m, ds, ir_cols, list(to = "all"))
    run(m, ds, ir_cols, list(to = "if0all", add = 0.25))
  }
  run("IRLN", ds, list(xi = "x1i", ti = "t1i"))
  run("IRLN", ds, list(xi = "x2i", ti = "t2i"), list(add = 1))
}
bcg_cols <- list(ai = "tpos", bi = "tneg", ci = "cpos", di = "cneg")
tab_cols <- list(ai = "ai", bi = "bi", ci = "ci", di = "di")
for (m in c("PETO", "OR2DN", "OR2DL")) {
  run(m, "bcg", bcg_cols)
  run(m, "toy2x2", tab_cols)
  run(m, "toy2x2", tab_cols, list(drop00 = TRUE))
  run(m, "toy2x2", tab_cols, list(to = "all"))
}
for (v in c("ST", "CS")) {
  run("PHI", "bcg", bcg_cols, list(vtype = v))
  run("PHI", "toy2x2", tab_cols, list(vtype = v))
}
out <- list(datasets = datasets, cases = cases,
            metafor = as.character(packageVersion("metafor")))
writeLines(toJSON(out, digits = NA, auto_unbox = TRUE, na = "null", dataframe = "columns"),
           "tests/reference/effect_sizes_more.json")
