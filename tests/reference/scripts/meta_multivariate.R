# Reference values for MetaMixed / BivariateMeta from metafor::rma.mv with tight convergence.
# Run from the repository root: Rscript tests/reference/scripts/meta_multivariate.R
suppressMessages({library(metafor); library(jsonlite)})
ctrl <- list(optimizer = "optim", optmethod = "BFGS", reltol = 1e-15, maxit = 10000)

konst <- dat.konstantopoulos2011
berkey <- dat.berkey1998
V <- bldiag(lapply(split(berkey[, c("v1i", "v2i")], berkey$trial), as.matrix))

out_case <- function(name, dataset, formula, fit, struct = NULL, i2 = FALSE) {
  r <- list(coef = as.list(setNames(as.numeric(coef(fit)), names(coef(fit)))),
            se = as.numeric(fit$se), logLik = as.numeric(logLik(fit)),
            AIC = AIC(fit), BIC = BIC(fit), QE = fit$QE, QM = fit$QM,
            sigma2 = if (fit$withS) fit$sigma2 else NULL,
            tau2 = if (fit$withG) fit$tau2 else NULL,
            rho = if (fit$withG) fit$rho else NULL)
  if (i2) {
    W <- solve(fit$V); X <- model.matrix(fit)
    P <- W - W %*% X %*% solve(t(X) %*% W %*% X) %*% t(X) %*% W
    r$I2 <- fit$sigma2 / (sum(fit$sigma2) + (fit$k - fit$p) / sum(diag(P)))
    r$I2_total <- sum(fit$sigma2) / (sum(fit$sigma2) + (fit$k - fit$p) / sum(diag(P)))
  }
  list(name = name, dataset = dataset, formula = formula, method = fit$method, struct = struct, result = r)
}

cases <- list()
for (m in c("REML", "ML")) {
  f <- rma.mv(yi, vi, random = ~ 1 | district/school, data = konst, method = m, control = ctrl)
  cases[[length(cases) + 1]] <- out_case(paste0("konst_", m), "konstantopoulos2011",
                                         "yi ~ 1 + (1 | district/school)", f, i2 = TRUE)
}
f <- rma.mv(yi, vi, mods = ~ I(year - 1990), random = ~ 1 | district/school, data = konst,
            method = "REML", control = ctrl)
cases[[length(cases) + 1]] <- out_case("konst_year_REML", "konstantopoulos2011",
                                       "yi ~ I(year - 1990) + (1 | district/school)", f, i2 = TRUE)
for (s in c("UN", "CS", "HCS", "DIAG")) for (m in c("REML", "ML")) {
  f <- rma.mv(yi, V, mods = ~ outcome - 1, random = ~ outcome | trial, struct = s, data = berkey,
              method = m, control = if (s == "UN") list() else ctrl)  # BFGS stops early on UN; nlminb defaults do better
  cases[[length(cases) + 1]] <- out_case(paste0("berkey_", s, "_", m), "berkey1998",
                                         "yi ~ 0 + outcome + (0 + outcome | trial)", f, struct = s)
}
f <- rma.mv(yi, V, mods = ~ outcome + outcome:I(year - 1983) - 1, random = ~ outcome | trial,
            struct = "UN", data = berkey, method = "REML")
cases[[length(cases) + 1]] <- out_case("berkey_UN_year_REML", "berkey1998",
                                       "yi ~ 0 + outcome + outcome:I(year - 1983) + (0 + outcome | trial)",
                                       f, struct = "UN")
# no heterogeneity: GLS with the known V only (BivariateMeta method="fixed")
f <- rma.mv(yi, V, mods = ~ outcome - 1, data = berkey, method = "ML")
cases[[length(cases) + 1]] <- list(name = "berkey_fixed", dataset = "berkey1998", method = "FE",
  result = list(coef = as.list(setNames(as.numeric(coef(f)), names(coef(f)))), se = as.numeric(f$se),
                logLik = as.numeric(logLik(f)), QE = f$QE))

out <- list(source = "metadat::dat.konstantopoulos2011, dat.berkey1998; metafor::rma.mv, optim BFGS reltol 1e-15 (UN: nlminb defaults)",
            versions = list(R = R.version.string, metafor = as.character(packageVersion("metafor"))),
            data = list(konstantopoulos2011 = konst, berkey1998 = berkey), cases = cases)
writeLines(toJSON(out, auto_unbox = TRUE, digits = NA, null = "null", na = "null"),
           "tests/reference/meta_multivariate.json")
cat("wrote", length(cases), "cases\n")
