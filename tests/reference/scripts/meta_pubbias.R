# Reference values for publication-bias methods (metafor 3.8): regtest, ranktest, trimfill,
# fsn, selmodel, on dat.bcg, dat.hackshaw1998, dat.bangertdrowns2004 and dat.lehmann2018.
# Tight convergence: rma threshold 1e-12; selmodel via optim BFGS reltol 1e-14 and integrate()
# rel.tol 1e-12.
# Run: Rscript tests/reference/scripts/meta_pubbias.R  (writes tests/reference/meta_pubbias.json)
suppressMessages({library(metafor); library(jsonlite)})
tight <- list(threshold = 1e-12, maxiter = 10000, stepadj = 0.5)
selctrl <- list(optimizer = "optim", optmethod = "BFGS", reltol = 1e-14, maxit = 10000,
                intCtrl = list(rel.tol = 1e-10, subdivisions = 1000L))

bcg <- escalc(measure = "RR", ai = tpos, bi = tneg, ci = cpos, di = cneg, data = dat.bcg)
hack <- dat.hackshaw1998
bd <- dat.bangertdrowns2004
leh <- dat.lehmann2018
sets <- list(
  bcg = data.frame(yi = as.numeric(bcg$yi), vi = as.numeric(bcg$vi), ni = dat.bcg$tpos + dat.bcg$tneg + dat.bcg$cpos + dat.bcg$cneg),
  hackshaw1998 = data.frame(yi = hack$yi, vi = hack$vi, ni = NA),
  bangertdrowns2004 = data.frame(yi = bd$yi, vi = bd$vi, ni = bd$ni),
  lehmann2018 = data.frame(yi = as.numeric(leh$yi), vi = as.numeric(leh$vi), ni = leh$Total.SampleSize))

reg1 <- function(fit, ni, model, predictor) {
  r <- tryCatch(if (is.null(ni)) regtest(fit, model = model, predictor = predictor)
                else regtest(fit, ni = ni, model = model, predictor = predictor),
                error = function(e) {message(conditionMessage(e)); NULL})
  if (is.null(r)) return(NULL)
  list(model = model, predictor = predictor, method = fit$method, stat = r$zval, pval = r$pval,
       df = if (is.null(r$dfs)) NA else r$dfs,
       est = if (is.null(r$est)) NA else as.numeric(r$est),
       ci_lb = if (is.null(r$ci.lb)) NA else as.numeric(r$ci.lb),
       ci_ub = if (is.null(r$ci.ub)) NA else as.numeric(r$ci.ub))
}

out <- list()
for (nm in names(sets)) {
  d <- sets[[nm]]
  hasn <- !all(is.na(d$ni))
  r <- list(data = d)
  reml <- rma(yi, vi, data = d, method = "REML", control = tight)
  dl <- rma(yi, vi, data = d, method = "DL", control = tight)
  fe <- rma(yi, vi, data = d, method = "FE")
  ml <- rma(yi, vi, data = d, method = "ML", control = tight)
  ni <- if (hasn) d$ni else NULL
  preds <- if (hasn) c("sei", "vi", "ni", "ninv", "sqrtni", "sqrtninv") else c("sei", "vi")
  reg <- list()
  for (fit in list(reml, dl, fe)) for (model in c("rma", "lm")) for (p in preds) {
    x <- reg1(fit, ni, model, p); if (!is.null(x)) reg[[length(reg) + 1]] <- x
  }
  knha <- rma(yi, vi, data = d, method = "REML", test = "knha", control = tight)
  x <- reg1(knha, ni, "rma", "sei"); x$method <- "REML-knha"; reg[[length(reg) + 1]] <- x
  r$regtest <- reg
  rk <- ranktest(reml)
  r$ranktest <- list(tau = as.numeric(rk$tau), pval = as.numeric(rk$pval))
  tf <- list()
  for (fit in list(reml, dl, fe)) for (est in c("L0", "R0", "Q0")) for (side in c("auto", "left", "right")) {
    t <- if (side == "auto") trimfill(fit, estimator = est) else trimfill(fit, estimator = est, side = side)
    # trimfill refits the filled data with metafor's default control (threshold 1e-5):
    # refit it tightly for the reference estimate
    tt <- rma(t$yi, t$vi, method = fit$method, control = tight)
    tf[[length(tf) + 1]] <- list(method = fit$method, estimator = est, side_in = side, side = t$side,
      est_tight = as.numeric(tt$beta), se_tight = tt$se, tau2_tight = tt$tau2,
      k0 = t$k0, se_k0 = t$se.k0, p_k0 = if (is.null(t$p.k0)) NA else t$p.k0,
      est = as.numeric(t$beta), se = t$se, tau2 = t$tau2, ci_lb = t$ci.lb, ci_ub = t$ci.ub,
      yi = as.numeric(t$yi), vi = as.numeric(t$vi), fill = as.logical(t$fill))
  }
  r$trimfill <- tf
  fs <- list()
  for (type in c("Rosenthal", "Orwin", "Rosenberg")) {
    f <- fsn(yi, vi, data = d, type = type)
    fs[[type]] <- list(fsnum = f$fsnum, pval = if (is.null(f$pval)) NA else f$pval,
                       alpha = f$alpha, meanes = if (is.null(f$meanes)) NA else f$meanes,
                       target = if (is.null(f$target)) NA else f$target)
  }
  f <- fsn(yi, vi, data = d, type = "Orwin", target = 0.05)
  fs[["Orwin_target"]] <- list(fsnum = f$fsnum, target = f$target, meanes = f$meanes)
  f <- fsn(yi, vi, data = d, type = "Orwin", weighted = TRUE)
  fs[["Orwin_weighted"]] <- list(fsnum = f$fsnum, target = f$target, meanes = f$meanes)
  r$fsn <- fs
  r$ml <- list(est = as.numeric(ml$beta), tau2 = ml$tau2, ll = as.numeric(logLik(ml)))
  out[[nm]] <- r
}
# selection models (hackshaw1998, bangertdrowns2004; stepfun also for bcg), run in parallel
jobs <- list()
for (nm in c("hackshaw1998", "bangertdrowns2004", "bcg")) {
  specs <- list(list(type = "stepfun", steps = c(0.025, 1)),
                list(type = "stepfun", steps = c(0.025, 0.5, 1)))
  if (nm != "bcg")
    specs <- c(specs, list(list(type = "beta", steps = NULL), list(type = "halfnorm", steps = NULL),
                           list(type = "negexp", steps = NULL), list(type = "logistic", steps = NULL),
                           list(type = "power", steps = NULL), list(type = "negexp", steps = 0.05)))
  for (s in specs) jobs[[length(jobs) + 1]] <- c(list(name = nm), s)
}
fitsel <- function(job) {
  d <- sets[[job$name]]
  ml <- rma(yi, vi, data = d, method = "ML", control = tight)
  alt <- if (job$name == "bcg") "less" else "greater"
  fit1 <- function(ctrl) tryCatch(
    if (is.null(job$steps)) selmodel(ml, type = job$type, alternative = alt, control = ctrl)
    else selmodel(ml, type = job$type, steps = job$steps, alternative = alt, control = ctrl),
    error = function(e) {message(job$name, " ", job$type, ": ", conditionMessage(e)); NULL})
  m <- fit1(selctrl)
  int_default <- FALSE
  if (is.null(m)) {  # integrate() fails at rel.tol 1e-10 here: its default tolerance
    m <- fit1(selctrl[names(selctrl) != "intCtrl"])
    int_default <- TRUE
  }
  if (is.null(m)) return(NULL)
  list(name = job$name, type = job$type, steps = if (is.null(job$steps)) NA else job$steps,
       int_default = int_default,
       alternative = alt, est = as.numeric(m$beta), se = as.numeric(m$se), tau2 = m$tau2,
       se_tau2 = m$se.tau2, delta = m$delta, se_delta = m$se.delta, ll = as.numeric(logLik(m)),
       LRT = m$LRT, LRTp = m$LRTp, LRTdf = m$LRTdf)
}
sel <- parallel::mclapply(jobs, fitsel, mc.cores = 2)
for (x in sel) if (!is.null(x)) {
  nm <- x$name
  out[[nm]]$selmodel[[length(out[[nm]]$selmodel) + 1]] <- x
}
# ties in the rank test (normal approximation with tie correction)
dt <- data.frame(yi = c(0.1, 0.3, 0.3, 0.5, 0.2, 0.8, 0.4, 0.6), vi = c(0.04, 0.02, 0.02, 0.05, 0.04, 0.09, 0.03, 0.05))
rk <- ranktest(rma(yi, vi, data = dt, method = "REML", control = tight))
out$ties <- list(data = dt, tau = as.numeric(rk$tau), pval = as.numeric(rk$pval))
# k = 60 without ties: metafor still asks cor.test for the exact p-value
set.seed(14)
dbig <- data.frame(yi = round(rnorm(60, 0.2, 0.3), 6), vi = round(runif(60, 0.01, 0.2), 6))
rk <- ranktest(rma(yi, vi, data = dbig, method = "REML", control = tight))
out$big <- list(data = dbig, tau = as.numeric(rk$tau), pval = as.numeric(rk$pval))
# zero cells (metafor's 1/2 added to tables with a zero; a double-zero study) and a missing
# effect size (dropped by rma)
zc <- data.frame(ai = c(0, 2, 5, 0, 10, 3, 7, 1, 4, 0), bi = c(20, 23, 35, 15, 50, 27, 38, 11, 29, 18),
                 ci = c(3, 4, 9, 0, 15, 8, 7, 4, 9, 2), di = c(17, 20, 32, 15, 43, 23, 37, 9, 21, 17))
zc <- escalc(measure = "OR", ai = ai, bi = bi, ci = ci, di = di, data = zc)
zc$yi[9] <- NA
zfit <- suppressWarnings(rma(yi, vi, data = zc, method = "REML", control = tight))
zr <- regtest(zfit); zl <- regtest(zfit, model = "lm"); zk <- ranktest(zfit); zt <- trimfill(zfit)
zf <- suppressWarnings(fsn(yi, vi, data = zc))
out$zerocell <- list(data = data.frame(ai = zc$ai, bi = zc$bi, ci = zc$ci, di = zc$di),
  yi = as.numeric(zc$yi), vi = as.numeric(zc$vi),
  regtest = list(stat = zr$zval, pval = zr$pval, est = as.numeric(zr$est)),
  regtest_lm = list(stat = zl$zval, pval = zl$pval, df = zl$dfs, est = as.numeric(zl$est)),
  ranktest = list(tau = as.numeric(zk$tau), pval = as.numeric(zk$pval)),
  trimfill = list(k0 = zt$k0, side = zt$side, yi = as.numeric(zt$yi)),
  fsn = list(fsnum = zf$fsnum, pval = zf$pval))
writeLines(toJSON(out, digits = NA, auto_unbox = TRUE, na = "null", null = "null"),
           "tests/reference/meta_pubbias.json")
