# Reference values for the Henmi-Copas method (metafor 3.8 hc(), tight tolerance).
# Run: Rscript tests/reference/scripts/meta_hc.R  (writes tests/reference/meta_hc.json)
suppressMessages({library(metafor); library(jsonlite)})
lee <- escalc(measure = "OR", ai = ai, n1i = n1i, ci = ci, n2i = n2i, data = dat.lee2004)
bcg <- escalc(measure = "RR", ai = tpos, bi = tneg, ci = cpos, di = cneg, data = dat.bcg)
nor <- escalc(measure = "SMD", m1i = m1i, sd1i = sd1i, n1i = n1i, m2i = m2i, sd2i = sd2i, n2i = n2i,
              data = dat.normand1999)
one <- function(name, d, level = 95) {
  r <- rma(yi, vi, data = d, method = "DL", level = level)   # hc() takes the level of the fit
  h <- hc(r, control = list(tol = 1e-13))
  list(name = name, level = level, yi = as.numeric(d$yi), vi = d$vi,
       beta = h$beta, se = h$se, ci_lower = h$ci.lb, ci_upper = h$ci.ub, tau2 = h$tau2)
}
cases <- list(one("lee2004", lee), one("bcg", bcg), one("normand1999", nor),
              one("bcg_90", bcg, 90))
writeLines(toJSON(list(source = paste("metafor", packageVersion("metafor")), cases = cases),
                  auto_unbox = TRUE, digits = NA, pretty = TRUE), "tests/reference/meta_hc.json")
