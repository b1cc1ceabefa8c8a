# Reference values for the proportion / rate measures PLN, PAS, PFT, AS, IR, IRS, IRFT
# (metafor 3.8 escalc), summary.escalc, the Freeman-Tukey back-transformations and
# to.long / to.table.
# Run: Rscript tests/reference/scripts/effect_sizes_arcsine.R  (writes tests/reference/effect_sizes_arcsine.json)
suppressMessages({library(metafor); library(jsonlite)})
prop <- data.frame(xi = c(0, 5, 10, 3, 1, 17), ni = c(10, 20, 10, 7, 40, 90))
tab <- dat.bcg[, c("tpos", "tneg", "cpos", "cneg")]
tab0 <- data.frame(ai = c(0, 3, 5, 4), n1i = c(10, 10, 5, 30), ci = c(2, 0, 1, 4), n2i = c(12, 9, 8, 31))
rate <- data.frame(xi = c(0, 4, 9, 30), ti = c(100, 50.5, 20, 1000))
meas <- list()
for (m in c("PR", "PLN", "PLO", "PAS", "PFT")) {
  e <- escalc(m, xi = xi, ni = ni, data = prop); meas[[m]] <- list(yi = as.numeric(e$yi), vi = e$vi)
}
for (m in c("AS")) {
  e <- escalc(m, ai = tpos, bi = tneg, ci = cpos, di = cneg, data = tab)
  e0 <- escalc(m, ai = ai, n1i = n1i, ci = ci, n2i = n2i, data = tab0)
  meas[["AS_bcg"]] <- list(yi = as.numeric(e$yi), vi = e$vi)
  meas[["AS_zero"]] <- list(yi = as.numeric(e0$yi), vi = e0$vi)
}
for (m in c("IR", "IRS", "IRFT", "IRLN")) {
  e <- escalc(m, xi = xi, ti = ti, data = rate); meas[[m]] <- list(yi = as.numeric(e$yi), vi = e$vi)
}
bcg <- escalc(measure = "RR", ai = tpos, bi = tneg, ci = cpos, di = cneg, data = dat.bcg)
s <- summary(bcg, level = 90)
st <- summary(bcg, transf = exp)
summ <- list(yi = as.numeric(bcg$yi), vi = bcg$vi, sei = s$sei, zi = s$zi, pval = s$pval,
             ci_lower_90 = s$ci.lb, ci_upper_90 = s$ci.ub,
             exp_yi = as.numeric(st$yi), exp_ci_lower = st$ci.lb, exp_ci_upper = st$ci.ub)
# pooled Freeman-Tukey estimate back-transformed (harmonic mean of ni, and at a given n)
e <- escalc("PFT", xi = xi, ni = ni, data = prop)
res <- rma(yi, vi, data = e, method = "REML", control = list(threshold = 1e-13))
pft <- list(estimate = as.numeric(coef(res)), ipft_hm = transf.ipft.hm(as.numeric(coef(res)), targs = list(ni = prop$ni)),
            grid = seq(-0.1, 1.7, by = 0.1),
            ipft_n20 = transf.ipft(seq(-0.1, 1.7, by = 0.1), ni = 20),
            iarcsin = transf.iarcsin(seq(0, 1.5, by = 0.1)),
            ftgrid = seq(0, 1.2, by = 0.05), iirft_t50 = transf.iirft(seq(0, 1.2, by = 0.05), ti = 50),
            rates = c(0, 0.01, 0.06, 0.2, 1.5), irft_t50 = transf.irft(c(0, 0.01, 0.06, 0.2, 1.5), ti = 50))
long_tab <- to.long(measure = "RR", ai = tpos, bi = tneg, ci = cpos, di = cneg, data = dat.bcg[1:3, ])
long_ir <- to.long(measure = "IRR", x1i = c(3, 4), t1i = c(10, 20), x2i = c(1, 5), t2i = c(12, 22))
long_md <- to.long(measure = "MD", m1i = c(3, 4), sd1i = c(1, 2), n1i = c(10, 20), m2i = c(1, 5), sd2i = c(1, 1), n2i = c(12, 22))
long_prop <- to.long(measure = "PLO", xi = c(3, 4), ni = c(10, 20))
long <- list(table = list(group = as.integer(as.character(long_tab$group)), out1 = long_tab$out1, out2 = long_tab$out2),
             rates = list(group = as.integer(as.character(long_ir$group)), events = long_ir$events, ptime = long_ir$ptime),
             means = list(group = as.integer(as.character(long_md$group)), mean = long_md$mean, sd = long_md$sd, n = long_md$n),
             prop = list(out1 = long_prop$out1, out2 = long_prop$out2))
out <- list(source = paste("metafor", packageVersion("metafor")), prop = prop, tab0 = tab0, rate = rate,
            bcg = dat.bcg[, c("tpos", "tneg", "cpos", "cneg")],
            measures = meas, summary = summ, pft = pft, long = long)
writeLines(toJSON(out, auto_unbox = TRUE, digits = NA, pretty = TRUE), "tests/reference/effect_sizes_arcsine.json")
