# Reference values for metamodels.diagnostics (influence, leave-one-out, cumulative,
# permutation tests, subgroup analysis; rma.mv Cook's distances / DFBETAS / hat values)
# from metafor 3.8 with tight convergence.
# Run from the repository root: Rscript tests/reference/scripts/meta_influence.R
suppressMessages({library(metafor); library(jsonlite)})
ctrl <- list(threshold = 1e-12, maxiter = 1000, tol = 1e-13)
mvctrl <- list(optimizer = "optim", optmethod = "BFGS", reltol = 1e-15, maxit = 10000)
unctrl <- list(rel.tol = 1e-12, iter.max = 1000, eval.max = 2000)

bcg <- escalc(measure = "RR", ai = tpos, bi = tneg, ci = cpos, di = cneg, data = dat.bcg)
hack <- dat.hackshaw1998
mol <- escalc(measure = "ZCOR", ri = ri, ni = ni, data = dat.molloy2014)
konst <- dat.konstantopoulos2011
berkey <- dat.berkey1998
Vb <- bldiag(lapply(split(berkey[, c("v1i", "v2i")], berkey$trial), as.matrix))

df_of <- function(d, cols) { d <- as.data.frame(d)[, cols]; for (c in cols) d[[c]] <- as.vector(d[[c]]); d }
data <- list(
  bcg = df_of(bcg, c("trial", "author", "year", "ablat", "alloc", "yi", "vi")),
  hackshaw1998 = df_of(hack, c("study", "author", "year", "yi", "vi")),
  molloy2014 = df_of(mol, c("authors", "year", "meanage", "yi", "vi")),
  konstantopoulos2011 = df_of(konst, c("district", "school", "study", "year", "yi", "vi")),
  berkey1998 = df_of(berkey, c("trial", "year", "outcome", "yi", "v1i", "v2i")))

infl_out <- function(fit) {
  inf <- influence(fit)
  list(rstudent = inf$inf$rstudent, dffits = inf$inf$dffits, cooks_d = inf$inf$cook.d,
       cov_ratio = inf$inf$cov.r, tau2_deleted = inf$inf$tau2.del, q_deleted = inf$inf$QE.del,
       hat = inf$inf$hat, weight = inf$inf$weight, is_influential = inf$is.infl,
       dfbetas = lapply(as.list(inf$dfbs[, seq_len(fit$p), drop = FALSE]), as.numeric))
}
tab_out <- function(x) {
  x <- as.data.frame(x)
  list(estimate = x$estimate, se = x$se, statistic = if (!is.null(x$zval)) x$zval else x$tval,
       pvalue = x$pval, ci_lower = x$ci.lb, ci_upper = x$ci.ub, q = x$Q, q_pvalue = x$Qp,
       tau2 = x$tau2, i2 = x$I2 / 100, h2 = x$H2)
}

cases <- list()
add_uni <- function(name, dataset, formula, method, test, d, mods = NULL, order = NULL,
                    perm = FALSE) {
  fit <- if (is.null(mods)) rma(yi, vi, data = d, method = method, test = test, control = ctrl)
         else rma(yi, vi, mods = mods, data = d, method = method, test = test, control = ctrl)
  r <- list(params = as.numeric(coef(fit)), names = names(coef(fit)), tau2 = fit$tau2,
            influence = infl_out(fit))
  if (fit$int.only) {
    r$leave1out <- tab_out(leave1out(fit))
    if (!is.null(order)) r$cumulative <- tab_out(cumul(fit, order = d[[order]]))
  }
  if (perm) {
    pt <- permutest(fit, exact = TRUE, progbar = FALSE, control = list(comptol = 1e-8))
    r$permutation <- list(pvalues = as.numeric(pt$pval), qm_pvalue = pt$QMp,
                          n = length(pt$QM.perm))
  }
  cases[[length(cases) + 1]] <<- list(name = name, dataset = dataset, formula = formula,
                                      method = method, test = test, order = order, result = r)
}
add_uni("bcg_REML", "bcg", "yi ~ 1", "REML", "z", bcg, order = "year", perm = TRUE)
add_uni("bcg_ablat_REML_knha", "bcg", "yi ~ ablat", "REML", "knha", bcg, mods = ~ ablat)
add_uni("bcg_ablat_ML", "bcg", "yi ~ ablat", "ML", "z", bcg, mods = ~ ablat)
add_uni("bcg_DL", "bcg", "yi ~ 1", "DL", "z", bcg, order = "ablat")
add_uni("hackshaw_DL", "hackshaw1998", "yi ~ 1", "DL", "z", hack, order = "year")
add_uni("hackshaw_REML_knha", "hackshaw1998", "yi ~ 1", "REML", "knha", hack, order = "year")
add_uni("molloy_FE", "molloy2014", "yi ~ 1", "FE", "z", mol, order = "year")
add_uni("molloy_PM", "molloy2014", "yi ~ 1", "PM", "z", mol, order = "year")
add_uni("molloy_meanage_EB", "molloy2014", "yi ~ meanage", "EB", "z", mol, mods = ~ meanage)
# exact permutation test of a meta-regression (7! = 5040 permutations of X)
bcg7 <- bcg[1:7, ]
add_uni("bcg7_ablat_REML_perm", "bcg7", "yi ~ ablat", "REML", "z", bcg7, mods = ~ ablat, perm = TRUE)
add_uni("molloy8_DL_perm", "molloy8", "yi ~ 1", "DL", "knha", mol[1:8, ], perm = TRUE)

# subgroup analysis (metafor's "separate tau^2 per subgroup" example)
sub <- list()
for (m in c("REML", "DL")) {
  groups <- sort(unique(as.character(bcg$alloc)))
  fits <- lapply(groups, function(g) rma(yi, vi, data = bcg, subset = alloc == g, method = m,
                                         control = ctrl))
  est <- sapply(fits, function(f) as.numeric(coef(f)))
  se <- sapply(fits, function(f) f$se)
  between <- rma(est, sei = se, mods = ~ groups, method = "FE")
  mixed <- rma(yi, vi, mods = ~ alloc, data = bcg, method = m, control = ctrl)
  sub[[m]] <- list(groups = groups, estimate = est, se = se, tau2 = sapply(fits, function(f) f$tau2),
                   k = sapply(fits, function(f) f$k),
                   q_between = between$QM, q_between_df = between$QMdf[1], q_between_pvalue = between$QMp,
                   mixed_qm = mixed$QM, mixed_qm_pvalue = mixed$QMp, mixed_tau2 = mixed$tau2)
}

# rma.mv: Cook's distances, DFBETAS (variance components re-estimated), hat values
mv <- list()
fk <- rma.mv(yi, vi, random = ~ 1 | district/school, data = konst, method = "REML", control = mvctrl)
loo <- t(sapply(unique(konst$district), function(g) {
  f <- rma.mv(yi, vi, random = ~ 1 | district/school, data = konst, subset = district != g,
              method = "REML", control = mvctrl)
  c(coef(f), f$se, f$sigma2)
}))
mv$konst <- list(params = as.numeric(coef(fk)), sigma2 = fk$sigma2,
  cooks_d = as.numeric(cooks.distance(fk)), dfbetas = as.numeric(dfbetas(fk)[, 1]),
  hat = as.numeric(hatvalues(fk)),
  cluster_ids = as.numeric(sort(unique(konst$district))),
  cooks_d_cluster = as.numeric(cooks.distance(fk, cluster = district)),
  cooks_d_cluster_fixed_vc = as.numeric(cooks.distance(fk, cluster = district, reestimate = FALSE)),
  dfbetas_cluster_fixed_vc = as.numeric(dfbetas(fk, cluster = district, reestimate = FALSE)[, 1]),
  dfbetas_cluster = as.numeric(dfbetas(fk, cluster = district)[, 1]),
  loo_cluster = list(ids = unique(konst$district), estimate = loo[, 1], se = loo[, 2],
                     sigma2_1 = loo[, 3], sigma2_2 = loo[, 4]))
fb <- rma.mv(yi, Vb, mods = ~ outcome - 1, random = ~ outcome | trial, struct = "UN",
             data = berkey, method = "REML", control = unctrl)
mv$berkey <- list(params = as.numeric(coef(fb)), tau2 = fb$tau2, rho = fb$rho,
  cooks_d = as.numeric(cooks.distance(fb)),
  dfbetas = tryCatch(lapply(as.list(dfbetas(fb)), as.numeric), error = function(e) NULL),
  hat = as.numeric(hatvalues(fb)),
  cooks_d_cluster = as.numeric(cooks.distance(fb, cluster = trial)),
  dfbetas_cluster = tryCatch(lapply(as.list(dfbetas(fb, cluster = trial)), as.numeric),
                             error = function(e) NULL))

out <- list(metafor = as.character(packageVersion("metafor")), data = data, cases = cases,
            subgroup = sub, rma_mv = mv)
write(toJSON(out, digits = NA, auto_unbox = TRUE, null = "null", na = "null"),
      "tests/reference/meta_influence.json")
