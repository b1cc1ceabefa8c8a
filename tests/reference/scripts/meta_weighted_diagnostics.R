# Leave-one-out, cumulative, influence, rstudent, regression test, trim-and-fill,
# subgroups, robust() and exact permutation tests of rma.uni fits with user weights
# (weights = w), where every refit must keep the weights of the studies it uses; and of
# a Sidik-Jonkman fit with a starting value, which every refit must start from too.
# Run from the repository root: Rscript tests/reference/scripts/meta_weighted_diagnostics.R
suppressMessages({library(metafor); library(jsonlite)})
dat <- escalc(measure = "RR", ai = tpos, bi = tneg, ci = cpos, di = cneg, data = dat.bcg)
w <- (1:13) / 3
ctrl <- list(threshold = 1e-12, maxiter = 1000)
num <- function(x) as.numeric(x)
infl <- function(r) {
  i <- influence(r)
  list(rstudent = num(i$inf$rstudent), dffits = num(i$inf$dffits), cooks_d = num(i$inf$cook.d),
       cov_ratio = num(i$inf$cov.r), tau2_deleted = num(i$inf$tau2.del),
       q_deleted = num(i$inf$QE.del), hat = num(i$inf$hat), weight = num(i$inf$weight),
       dfbetas = lapply(as.list(i$dfbs), num))
}
out <- list(yi = num(dat$yi), vi = num(dat$vi), ablat = num(dat$ablat), w = w, cases = list())
for (m in c("REML", "DL")) {
  r0 <- rma(yi, vi, weights = w, data = dat, method = m, control = ctrl)
  r1 <- rma(yi, vi, weights = w, mods = ~ablat, data = dat, method = m, control = ctrl)
  l1 <- leave1out(r0); cu <- cumul(r0); rs <- rstudent(r0); rs1 <- rstudent(r1)
  rt0 <- regtest(r0); rt1 <- regtest(r1); tf <- trimfill(r0)
  d9 <- dat[5:13, ]; d9$w <- w[5:13]   # studies whose weights change the p-value
  pe <- permutest(rma(yi, vi, weights = w, data = d9, method = m, control = ctrl),
                  exact = TRUE, progbar = FALSE)
  d8 <- dat[1:6, ]; d8$w <- w[1:6]
  r9 <- rma(yi, vi, weights = w, mods = ~ablat, data = d8, method = m, control = ctrl)
  pe9 <- permutest(r9, exact = TRUE, progbar = FALSE)
  out$cases[[m]] <- list(
    beta = num(r0$beta), se = num(r0$se), tau2 = r0$tau2,
    beta_mods = num(r1$beta), se_mods = num(r1$se), tau2_mods = r1$tau2,
    leave1out = list(estimate = num(l1$estimate), se = num(l1$se), tau2 = num(l1$tau2),
                     q = num(l1$Q), i2 = num(l1$I2)),
    cumulative = list(estimate = num(cu$estimate), se = num(cu$se), tau2 = num(cu$tau2)),
    rstudent = num(rs$z), rstudent_mods = num(rs1$z),
    influence = infl(r0), influence_mods = infl(r1),
    regtest = list(z = rt0$zval, p = rt0$pval, limit = num(rt0$est)),
    regtest_mods = list(z = rt1$zval, p = rt1$pval),
    trimfill = list(k0 = tf$k0, beta = num(tf$beta), se = num(tf$se), tau2 = tf$tau2),
    permutation = list(n = 2^9, pvalues = num(pe$pval), qm_pvalue = pe$QMp),
    permutation_mods6 = list(pvalues = num(pe9$pval), qm_pvalue = pe9$QMp))
}
# subgroups (alloc): each subgroup's fit keeps its studies' weights; the mixed-effects
# test of the subgroup factor is the weighted meta-regression's QM
sg <- list()
for (a in sort(unique(dat$alloc))) {
  s <- dat$alloc == a
  r <- rma(yi, vi, weights = w[s], data = dat[s, ], method = "REML", control = ctrl)
  sg[[a]] <- list(estimate = num(r$beta), se = num(r$se), tau2 = r$tau2)
}
rq <- rma(yi, vi, weights = w, mods = ~factor(alloc), data = dat, method = "REML",
          control = ctrl)
out$subgroups <- list(alloc = as.character(dat$alloc), groups = sg, qm = rq$QM, qm_p = rq$QMp)
# cluster-robust inference of weighted fits: metafor's robust() (adjust = TRUE: CR1p,
# FALSE: CR0; t tests on m - p df)
rw <- list()
for (adj in c(TRUE, FALSE)) {
  r1 <- rma(yi, vi, weights = w, mods = ~ablat, data = dat, method = "REML", control = ctrl)
  a1 <- robust(r1, cluster = dat$alloc, adjust = adj)
  r0 <- rma(yi, vi, weights = w, data = dat, method = "REML", control = ctrl)
  a0 <- robust(r0, cluster = 1:13, adjust = adj)
  rw[[if (adj) "CR1p" else "CR0"]] <- list(
    mods = list(se = num(a1$se), t = num(a1$zval), df = num(a1$dfs), p = num(a1$pval)),
    intercept = list(se = num(a0$se), t = num(a0$zval), df = num(a0$dfs), p = num(a0$pval)))
}
out$robust <- rw
# Sidik-Jonkman with a starting value (control = list(tau2.init = 0.05)): every refit
# starts from it too
sj <- rma(yi, vi, data = dat, method = "SJ", control = list(tau2.init = 0.05))
sjm <- rma(yi, vi, mods = ~ablat, data = dat, method = "SJ", control = list(tau2.init = 0.05))
d9 <- dat[5:13, ]
sj9 <- rma(yi, vi, data = d9, method = "SJ", control = list(tau2.init = 0.05))
out$sj_init <- list(
  tau2 = sj$tau2, leave1out_tau2 = num(leave1out(sj)$tau2),
  leave1out_estimate = num(leave1out(sj)$estimate), cumul_tau2 = num(cumul(sj)$tau2),
  rstudent = num(rstudent(sj)$z), tau2_deleted_mods = num(influence(sjm)$inf$tau2.del),
  regtest_z = regtest(sj)$zval,
  permutation9 = num(permutest(sj9, exact = TRUE, progbar = FALSE)$pval))
# a fit whose trim-and-fill fills a study: the filled study has the weight of the one
# it mirrors
w3 <- 1 / (dat$vi + 0.3)
tf3 <- trimfill(rma(yi, vi, weights = w3, data = dat, method = "REML", control = ctrl))
# trimfill refits the filled data with metafor's default convergence (1e-5 in tau^2):
# the reference is the same fit converged tightly
tf3c <- rma(tf3$yi, tf3$vi, weights = tf3$weights, method = "REML", control = ctrl)
out$trimfill_filled <- list(w = w3, k0 = tf3$k0, beta = num(tf3c$beta), se = num(tf3c$se),
                            tau2 = tf3c$tau2, weights = num(tf3$weights),
                            yi = num(tf3$yi))
writeLines(toJSON(out, digits = NA, auto_unbox = TRUE, pretty = TRUE),
           "tests/reference/meta_weighted_diagnostics.json")
