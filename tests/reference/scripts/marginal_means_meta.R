# Marginal means of a meta-regression (metafor rma, z and Knapp-Hartung tests) with emmeans'
# qdrg() reference grid, for tests/test_marginal_means.py.  Data: bundled bcg (log RR).
# Run from the repository root: Rscript tests/reference/scripts/marginal_means_meta.R
suppressMessages({library(metafor); library(emmeans); library(jsonlite)})
dat <- escalc("RR", ai = tpos, bi = tneg, ci = cpos, di = cneg,
              data = read.csv("metamodels/datasets/bcg/bcg.csv"))
frame <- function(s) {
  s <- as.data.frame(s)
  est <- if ("emmean" %in% names(s)) "emmean" else "estimate"
  lo <- if ("lower.CL" %in% names(s)) "lower.CL" else "asymp.LCL"
  hi <- if ("upper.CL" %in% names(s)) "upper.CL" else "asymp.UCL"
  st <- if ("t.ratio" %in% names(s)) "t.ratio" else "z.ratio"
  lab <- setdiff(names(s), c(est, "SE", "df", lo, hi, st, "p.value"))
  list(labels = lapply(s[lab], as.character), estimate = s[[est]], se = s$SE,
       df = ifelse(is.finite(s$df), s$df, -1), statistic = s[[st]], pvalue = s$p.value,
       ci_lower = s[[lo]], ci_upper = s[[hi]])
}
inf <- function(x) frame(summary(x, infer = c(TRUE, TRUE)))
out <- list()
for (test in c("z", "knha")) {
  res <- rma(yi, vi, mods = ~ ablat + alloc, data = dat, method = "REML", test = test,
             control = list(threshold = 1e-12, maxiter = 1000))
  # qdrg matches coefficients by name: give them the model matrix's names
  nm <- colnames(model.matrix(~ ablat + alloc, dat))
  b <- setNames(unname(coef(res)), nm)
  V <- unname(vcov(res)); dimnames(V) <- list(nm, nm)
  g <- qdrg(~ ablat + alloc, data = dat, coef = b, vcov = V,
            df = if (test == "z") Inf else res$k - res$p)
  e <- emmeans(g, "alloc")
  out[[test]] <- list(beta = unname(coef(res)), means = inf(e),
                      pairs_tukey = inf(pairs(e, adjust = "tukey")),
                      pairs_holm = inf(pairs(e, adjust = "holm")))
}
writeLines(toJSON(list(source = "bcg log risk ratios, rma(yi, vi, mods = ~ ablat + alloc), emmeans qdrg; df = -1 means Inf",
                       versions = list(metafor = as.character(packageVersion("metafor")),
                                       emmeans = as.character(packageVersion("emmeans"))),
                       results = out), auto_unbox = TRUE, digits = NA),
           "tests/reference/marginal_means_meta.json")
