# Publication-bias methods on a meta-regression (dat.bcg, log RR ~ ablat), metafor 3.8:
# regtest keeps the moderators; selmodel with moderators (stepfun closed form, halfnorm).
# Run: Rscript tests/reference/scripts/meta_pubbias_mods.R  (writes tests/reference/meta_pubbias_mods.json)
suppressMessages({library(metafor); library(jsonlite)})
tight <- list(threshold = 1e-12, maxiter = 10000, stepadj = 0.5)
selctrl <- list(optimizer = "optim", optmethod = "BFGS", reltol = 1e-14, maxit = 10000,
                intCtrl = list(rel.tol = 1e-10, subdivisions = 1000L))
bcg <- escalc(measure = "RR", ai = tpos, bi = tneg, ci = cpos, di = cneg, data = dat.bcg)
d <- data.frame(yi = as.numeric(bcg$yi), vi = as.numeric(bcg$vi), ablat = bcg$ablat)
reml <- rma(yi, vi, mods = ~ ablat, data = d, method = "REML", control = tight)
ml <- rma(yi, vi, mods = ~ ablat, data = d, method = "ML", control = tight)
reg <- list()
for (model in c("rma", "lm")) for (p in c("sei", "vi")) {
  r <- regtest(reml, model = model, predictor = p)
  reg[[length(reg) + 1]] <- list(model = model, predictor = p, stat = r$zval, pval = r$pval,
                                 df = if (is.null(r$dfs)) NA else r$dfs)
}
sel <- list()
for (s in list(list(type = "stepfun", steps = c(0.05, 1)), list(type = "halfnorm", steps = NULL))) {
  m <- if (is.null(s$steps)) selmodel(ml, type = s$type, alternative = "less", control = selctrl)
       else selmodel(ml, type = s$type, steps = s$steps, alternative = "less", control = selctrl)
  sel[[length(sel) + 1]] <- list(type = s$type, steps = if (is.null(s$steps)) NA else s$steps,
    est = as.numeric(m$beta), se = as.numeric(m$se), tau2 = m$tau2, delta = m$delta,
    ll = as.numeric(logLik(m)), LRT = m$LRT, LRTp = m$LRTp)
}
writeLines(toJSON(list(data = d, regtest = reg, selmodel = sel), digits = NA, auto_unbox = TRUE,
                  na = "null", null = "null"), "tests/reference/meta_pubbias_mods.json")
