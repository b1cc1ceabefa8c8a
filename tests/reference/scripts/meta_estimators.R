# Reference values for the additional tau^2 estimators (HSk, PMM, GENQ), user weights,
# unweighted estimation, SJ with a starting value, EE with Knapp-Hartung and the
# pseudo-R^2 of meta-regressions, from metafor 3.8 with tight convergence.
# (GENQM and the GENQ confidence interval need the CompQuadForm package, which is not
# available here; they are tested against Jackson et al. (2014)'s published numbers and
# brute force instead.)
# Run: Rscript tests/reference/scripts/meta_estimators.R  (writes tests/reference/meta_estimators.json)
suppressMessages({library(metafor); library(jsonlite)})
tight <- list(threshold = 1e-13, tol = 1e-14, maxiter = 10000, stepadj = 0.5)

bcg <- escalc(measure = "RR", ai = tpos, bi = tneg, ci = cpos, di = cneg, data = dat.bcg)
clasp <- escalc(measure = "OR", ai = c(5, 5, 12, 69, 9, 313), n1i = c(156, 303, 565, 1570, 103, 4659),
                ci = c(8, 17, 9, 94, 11, 352), n2i = c(74, 303, 477, 1565, 105, 4650))
datasets <- list(bcg = data.frame(yi = as.numeric(bcg$yi), vi = bcg$vi, ablat = bcg$ablat, year = bcg$year),
                 clasp = data.frame(yi = as.numeric(clasp$yi), vi = clasp$vi))

grab <- function(f) {
  list(coef = as.numeric(coef(f)), se = as.numeric(f$se), stat = as.numeric(f$zval),
       pval = as.numeric(f$pval), ci_lower = as.numeric(f$ci.lb), ci_upper = as.numeric(f$ci.ub),
       tau2 = f$tau2, se_tau2 = if (is.null(f$se.tau2) || is.na(f$se.tau2)) NA else f$se.tau2,
       QE = f$QE, I2 = f$I2, H2 = f$H2, QM = f$QM, R2 = if (is.null(f$R2)) NA else f$R2,
       logLik = as.numeric(logLik(f)))
}
cases <- list()
add <- function(name, dataset, mods, method, args = list(), weights = NULL, fit_args = list()) {
  d <- datasets[[dataset]]
  call <- c(list(yi = d$yi, vi = d$vi, method = method, control = c(tight, args)), fit_args)
  if (!is.null(mods)) call$mods <- model.matrix(mods, d)[, -1, drop = FALSE]
  if (!is.null(weights)) call$weights <- weights
  f <- do.call(rma, call)
  cases[[length(cases) + 1]] <<- list(name = name, dataset = dataset,
    mods = if (is.null(mods)) "1" else deparse(mods), method = method,
    weights = if (is.null(weights)) NULL else as.numeric(weights),
    tau2_init = if (is.null(args$tau2.init)) NULL else args$tau2.init,
    weighted = if (is.null(fit_args$weighted)) TRUE else fit_args$weighted,
    test = if (is.null(fit_args$test)) "z" else fit_args$test,
    tau2_fixed = if (is.null(fit_args$tau2)) NULL else fit_args$tau2,
    result = grab(f))
}
b <- datasets$bcg; cl <- datasets$clasp
for (ds in c("bcg", "clasp")) {
  d <- datasets[[ds]]
  for (m in c("HSk", "PMM")) add(paste(ds, m, sep = "_"), ds, NULL, m)
  add(paste(ds, "GENQ_iv", sep = "_"), ds, NULL, "GENQ", weights = 1 / d$vi)
  add(paste(ds, "GENQ_isd", sep = "_"), ds, NULL, "GENQ", weights = 1 / sqrt(d$vi))
  tau_he <- rma(d$yi, d$vi, method = "HE")$tau2
  add(paste(ds, "GENQ_he", sep = "_"), ds, NULL, "GENQ", weights = 1 / (d$vi + tau_he))
  add(paste(ds, "REML_w", sep = "_"), ds, NULL, "REML", weights = 1 / sqrt(d$vi))
  add(paste(ds, "ML_w", sep = "_"), ds, NULL, "ML", weights = 1 / sqrt(d$vi))
  add(paste(ds, "DL_w", sep = "_"), ds, NULL, "DL", weights = 1 / sqrt(d$vi))
  add(paste(ds, "EE_w", sep = "_"), ds, NULL, "EE", weights = 1 / sqrt(d$vi))
  for (m in c("REML", "DL", "EE")) add(paste(ds, m, "unweighted", sep = "_"), ds, NULL, m,
                                      fit_args = list(weighted = FALSE))
  add(paste(ds, "SJ_init", sep = "_"), ds, NULL, "SJ", args = list(tau2.init = tau_he))
  add(paste(ds, "EE_knha", sep = "_"), ds, NULL, "EE", fit_args = list(test = "knha"))
  add(paste(ds, "REML_fixed", sep = "_"), ds, NULL, "REML", fit_args = list(tau2 = 0.05))
}
for (m in c("REML", "ML", "DL", "HSk", "PMM", "PM", "SJ", "HE"))
  add(paste("bcg_mods", m, sep = "_"), "bcg", ~ ablat, m)
add("bcg_mods2_REML", "bcg", ~ ablat + year, "REML")
add("bcg_mods_GENQ_isd", "bcg", ~ ablat, "GENQ", weights = 1 / sqrt(b$vi))
add("bcg_mods_REML_w", "bcg", ~ ablat, "REML", weights = 1 / sqrt(b$vi))
add("bcg_mods_REML_unweighted", "bcg", ~ ablat, "REML", fit_args = list(weighted = FALSE))
add("bcg_mods_EE_knha", "bcg", ~ ablat, "EE", fit_args = list(test = "knha"))
out <- list(source = paste("metafor", packageVersion("metafor")), data = datasets, cases = cases)
writeLines(toJSON(out, auto_unbox = TRUE, digits = NA, null = "null", na = "null", pretty = TRUE),
           "tests/reference/meta_estimators.json")
