# Reference values for MetaMixed options (fixed rho/phi/tau2/sigma2, HAR and CAR structures)
# from metafor::rma.mv with tight convergence.
# Run from the repository root: Rscript tests/reference/scripts/meta_mv_options.R
suppressMessages({library(metafor); library(jsonlite)})
ctrl <- list(rel.tol = 1e-12, iter.max = 1000, eval.max = 10000)
ctrl2 <- list(optimizer = "optim", optmethod = "BFGS", reltol = 1e-15, maxit = 10000)

konst <- dat.konstantopoulos2011
berkey <- dat.berkey1998
berkey$period <- ifelse(berkey$year < 1985, "early", "late")
V <- bldiag(lapply(split(berkey[, c("v1i", "v2i")], berkey$trial), as.matrix))
# dat.ishak2007 in long format: one row per (study, time point), time 1..4 = 3, 6, 12, 24 months
ish <- dat.ishak2007
ishak <- reshape(ish, direction = "long", idvar = "study", v.names = c("yi", "vi"),
                 varying = list(c(2, 4, 6, 8), c(3, 5, 7, 9)))
ishak <- ishak[order(ishak$study, ishak$time), ]
ishak <- ishak[!is.na(ishak$yi), c("study", "time", "yi", "vi", "mdur")]
ishak$months <- c(3, 6, 12, 24)[ishak$time]
rownames(ishak) <- NULL
# AR(1) sampling errors over the time points, as in metafor's help page of dat.ishak2007
Vi <- vcalc(vi, cluster = study, time1 = time, phi = 0.97, data = ishak)
# several tightly converged optimisers (nlminb, BFGS, bobyqa, Nelder-Mead); the fit with
# the highest log-likelihood is kept (BFGS stops ~1e-5 short on some of these models)
ctrls <- list(ctrl, ctrl2, list(optimizer = "bobyqa", rhoend = 1e-12, maxfun = 1e5),
              list(optimizer = "optim", optmethod = "Nelder-Mead", reltol = 1e-15, maxit = 1e5))
fitmv <- function(...) {
  cl <- match.call(); cl[[1]] <- quote(rma.mv)
  best <- NULL
  for (ct in ctrls) {
    cl$control <- ct
    f <- try(suppressWarnings(eval(cl, parent.frame())), silent = TRUE)
    if (!inherits(f, "try-error") && (is.null(best) || logLik(f) > logLik(best))) best <- f
  }
  best
}

out_case <- function(name, dataset, formula, fit, extra = list()) {
  r <- list(coef = as.list(setNames(as.numeric(coef(fit)), names(coef(fit)))),
            se = as.numeric(fit$se), logLik = as.numeric(logLik(fit)),
            AIC = AIC(fit), BIC = BIC(fit), QE = fit$QE, parms = fit$parms,
            sigma2 = if (fit$withS) fit$sigma2 else NULL,
            tau2 = if (fit$withG) fit$tau2 else NULL,
            rho = if (fit$withG) fit$rho else NULL,
            gamma2 = if (fit$withH) fit$gamma2 else NULL,
            phi = if (fit$withH) fit$phi else NULL)
  c(list(name = name, dataset = dataset, formula = formula, method = fit$method, result = r), extra)
}

cases <- list()
add <- function(x) cases[[length(cases) + 1]] <<- x
for (m in c("REML", "ML")) {
  f <- fitmv(yi, Vi, mods = ~ factor(time) - 1, random = ~ time | study, struct = "HAR",
              data = ishak, method = m)
  add(out_case(paste0("ishak_HAR_", m), "ishak2007", "yi ~ 0 + C(time) + (0 + C(time) | study)", f,
               list(struct = "HAR")))
  f <- fitmv(yi, Vi, mods = ~ factor(time) - 1, random = ~ months | study, struct = "CAR",
              data = ishak, method = m)
  add(out_case(paste0("ishak_CAR_", m), "ishak2007", "yi ~ 0 + C(time) + (0 + months | study)", f,
               list(struct = "CAR")))
}
f <- fitmv(yi, Vi, mods = ~ factor(time) - 1, random = ~ time | study, struct = "HAR",
            rho = 0.8, data = ishak)
add(out_case("ishak_HAR_rho_REML", "ishak2007", "yi ~ 0 + C(time) + (0 + C(time) | study)", f,
             list(struct = "HAR", fix = list(rho = 0.8))))
f <- fitmv(yi, Vi, mods = ~ mdur, random = ~ months | study, struct = "CAR",
            rho = 0.9, data = ishak)
add(out_case("ishak_CAR_rho_REML", "ishak2007", "yi ~ mdur + (0 + months | study)", f,
             list(struct = "CAR", fix = list(rho = 0.9))))
for (m in c("REML", "ML")) {
  f <- fitmv(yi, V, mods = ~ outcome - 1, random = ~ outcome | trial, struct = "UN", rho = 0.5,
              data = berkey, method = m)
  add(out_case(paste0("berkey_UN_rho_", m), "berkey1998", "yi ~ 0 + outcome + (0 + outcome | trial)",
               f, list(struct = "UN", fix = list(rho = 0.5))))
}
f <- fitmv(yi, V, mods = ~ outcome - 1, random = ~ outcome | trial, struct = "HCS",
            tau2 = c(NA, 0.02), data = berkey)
add(out_case("berkey_HCS_tau2_REML", "berkey1998", "yi ~ 0 + outcome + (0 + outcome | trial)",
             f, list(struct = "HCS", fix = list(tau2 = list(NULL, 0.02)))))
f <- fitmv(yi, V, mods = ~ outcome - 1, random = list(~ outcome | trial, ~ outcome | period),
            struct = c("UN", "CS"), phi = 0.3, data = berkey)
add(out_case("berkey_phi_REML", "berkey1998",
             "yi ~ 0 + outcome + (0 + outcome | trial) + (0 + outcome | period)",
             f, list(struct = list("UN", "CS"), fix = list(phi = 0.3))))
f <- fitmv(yi, vi, random = ~ 1 | district/school, sigma2 = c(0.05, NA), data = konst)
add(out_case("konst_sigma2_REML", "konstantopoulos2011", "yi ~ 1 + (1 | district/school)", f,
             list(fix = list(sigma2 = list(0.05, NULL)))))
f <- fitmv(yi, vi, random = ~ 1 | district/school, sigma2 = c(NA, 0), data = konst,
            method = "ML")
add(out_case("konst_sigma2_zero_ML", "konstantopoulos2011", "yi ~ 1 + (1 | district/school)", f,
             list(fix = list(sigma2 = list(NULL, 0)))))
# fixed effects only: GLS with a known V over four outcomes (time points)
f <- rma.mv(yi, Vi, mods = ~ factor(time) - 1, data = ishak, method = "ML")
add(list(name = "ishak_fixed", dataset = "ishak2007", method = "FE",
         result = list(coef = as.list(setNames(as.numeric(coef(f)), names(coef(f)))), se = as.numeric(f$se),
                       logLik = as.numeric(logLik(f)), AIC = AIC(f), BIC = BIC(f), QE = f$QE, QM = f$QM)))

out <- list(source = "metadat::dat.ishak2007 (long), dat.berkey1998, dat.konstantopoulos2011; metafor::rma.mv, best of nlminb rel.tol 1e-12, BFGS reltol 1e-15, bobyqa rhoend 1e-12, Nelder-Mead",
            versions = list(R = R.version.string, metafor = as.character(packageVersion("metafor"))),
            data = list(ishak2007 = ishak, ishak2007_V = as.matrix(Vi), berkey1998 = berkey, konstantopoulos2011 = konst), cases = cases)
writeLines(toJSON(out, auto_unbox = TRUE, digits = NA, null = "null", na = "null"),
           "tests/reference/meta_mv_options.json")
cat("wrote", length(cases), "cases\n")
