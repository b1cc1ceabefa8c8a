# Location-scale reference values from metafor::rma(scale=) with tight convergence.
# Run from the repository root: Rscript tests/reference/scripts/location_scale.R
suppressMessages({library(metafor); library(jsonlite)})
dat <- dat.bangertdrowns2004
dat$lni <- log(dat$ni)
ctrl <- list(optimizer = "optim", optmethod = "BFGS", reltol = 1e-15, maxit = 10000)
cases <- list()
fit_ls <- function(scale, m) {   # BFGS with a tight tolerance, else nlminb defaults
  tryCatch(rma(yi, vi, mods = ~ meta, scale = scale, data = dat, method = m, control = ctrl),
           error = function(e) rma(yi, vi, mods = ~ meta, scale = scale, data = dat, method = m))
}
add <- function(name, fit, formula, scale, newdata = NULL) {
  r <- list(beta = as.numeric(fit$beta), se_beta = as.numeric(fit$se),
            alpha = as.numeric(fit$alpha), se_alpha = as.numeric(fit$se.alpha),
            logLik = as.numeric(logLik(fit)), AIC = AIC(fit), BIC = BIC(fit))
  if (!is.null(newdata)) {
    p <- predict(fit, newscale = newdata$scale, transf = exp)   # scale part only: tau^2
    r$pred_tau2 <- as.numeric(p$pred); r$pred_tau2_lower <- as.numeric(p$ci.lb)
    r$pred_tau2_upper <- as.numeric(p$ci.ub)
  }
  cases[[length(cases) + 1]] <<- list(name = name, method = fit$method, formula = formula,
                                      scale_formula = scale, result = r)
}
for (m in c("REML", "ML")) {
  add(paste0("bd_lni_", m), fit_ls(~ lni, m), "yi ~ meta", "~ lni",
      newdata = list(mods = c(0, 1), scale = c(3.5, 5)))
  add(paste0("bd_meta_", m), fit_ls(~ meta, m), "yi ~ meta", "~ meta")
  add(paste0("bd_const_", m), fit_ls(~ 1, m), "yi ~ meta", "~ 1")
}
out <- list(source = "metadat::dat.bangertdrowns2004; metafor::rma(scale=), optim BFGS reltol 1e-15",
            versions = list(R = R.version.string, metafor = as.character(packageVersion("metafor"))),
            note = "alpha is on the log(tau^2) scale; log(tau) coefficients are alpha/2",
            data = dat, cases = cases)
writeLines(toJSON(out, auto_unbox = TRUE, digits = NA, null = "null", na = "null"),
           "tests/reference/location_scale.json")
cat("wrote", length(cases), "cases\n")
