# Reference values for boundary and non-identified multivariate / multilevel meta-analyses
# (issue 12): metafor::rma.mv with struct = "UN" where the between-study correlation ends
# on its boundary (rho = +-1), and a nested model with a single-level factor.
# Each UN fit is run with several tightly converged optimisers; the one with the highest
# log-likelihood is kept, and the script stops unless it reached rho = +-1.
# Run from the repository root: Rscript tests/reference/scripts/meta_boundary.R
suppressMessages({library(metafor); library(jsonlite)})

controls <- list(
  nlminb = list(rel.tol = 1e-12, iter.max = 10000, eval.max = 10000),
  nelder = list(optimizer = "optim", optmethod = "Nelder-Mead", reltol = 1e-14, maxit = 100000),
  bfgs = list(optimizer = "optim", optmethod = "BFGS", reltol = 1e-15, maxit = 10000))

best_fit <- function(fit_with) {
  fits <- lapply(controls, function(ctrl) tryCatch(fit_with(ctrl), error = function(e) NULL))
  fits <- Filter(Negate(is.null), fits)
  ll <- sapply(fits, function(f) as.numeric(logLik(f)))
  fits[[which.max(ll)]]
}

un_result <- function(fit) {
  list(coef = as.list(setNames(as.numeric(coef(fit)), names(coef(fit)))),
       se = as.numeric(fit$se), logLik = as.numeric(logLik(fit)),
       tau2 = fit$tau2, rho = fit$rho, QE = fit$QE)
}

cases <- list()

# Kalaian & Raudenbush (1996) coaching data: verbal and math SAT, within-study r = 0.66
kal <- dat.kalaian1996
Vk <- vcalc(vi, cluster = study, type = outcome, data = kal, rho = 0.66)
for (m in c("ML", "REML")) {
  f <- best_fit(function(ctrl) rma.mv(yi ~ 0 + outcome, V = Vk, random = ~ outcome | study,
                                      struct = "UN", data = kal, method = m, control = ctrl))
  stopifnot(abs(abs(f$rho) - 1) < 1e-8)
  cases[[length(cases) + 1]] <- list(name = paste0("kalaian_UN_", m), dataset = "kalaian1996",
                                     method = m, result = un_result(f))
}

# Berkey et al. (1998) with an assumed within-trial correlation of -0.5
berkey <- dat.berkey1998
Vb <- bldiag(lapply(split(berkey, berkey$trial), function(d) {
  s <- sqrt(d$vi); S <- -0.5 * outer(s, s); diag(S) <- d$vi; S }))
for (m in c("ML", "REML")) {
  f <- best_fit(function(ctrl) rma.mv(yi ~ 0 + outcome, V = Vb, random = ~ outcome | trial,
                                      struct = "UN", data = berkey, method = m, control = ctrl))
  stopifnot(abs(abs(f$rho) - 1) < 1e-8)
  cases[[length(cases) + 1]] <- list(name = paste0("berkey_r-0.5_UN_", m), dataset = "berkey1998",
                                     method = m, within_corr = -0.5, result = un_result(f))
}

# Konstantopoulos (2011) restricted to one district: the district variance is not
# identified; metafor fixes it to 0 (with a warning) and the fit equals rma().
konst <- dat.konstantopoulos2011
tau2s <- sapply(split(konst, konst$district), function(d) if (nrow(d) >= 5) rma(yi, vi, data = d)$tau2 else 0)
dist <- as.numeric(names(tau2s)[which.max(tau2s)])
one <- konst[konst$district == dist, ]
msgs <- character(0)
for (m in c("REML", "ML")) {
  f <- withCallingHandlers(
    rma.mv(yi, vi, random = ~ 1 | district/school, data = one, method = m,
           control = list(optimizer = "optim", optmethod = "BFGS", reltol = 1e-15, maxit = 10000)),
    warning = function(w) { msgs <<- c(msgs, conditionMessage(w)); invokeRestart("muffleWarning") })
  u <- rma(yi, vi, data = one, method = m, control = list(threshold = 1e-12, maxiter = 10000))
  cases[[length(cases) + 1]] <- list(name = paste0("konst_one_district_", m), dataset = "konst_one_district",
    method = m, warning = unique(msgs),
    result = list(coef = as.numeric(coef(f)), se = as.numeric(f$se), logLik = as.numeric(logLik(f)),
                  sigma2 = f$sigma2),
    rma = list(coef = as.numeric(coef(u)), se = as.numeric(u$se), logLik = as.numeric(logLik(u)),
               tau2 = u$tau2))
}

# Two random terms with identical groupings: metafor fits them without a word and splits
# the variance equally (only the sum is identified).
konst$study2 <- konst$study
f <- rma.mv(yi, vi, random = list(~ 1 | study, ~ 1 | study2), data = konst)
cases[[length(cases) + 1]] <- list(name = "konst_duplicate_terms", dataset = "konstantopoulos2011",
  method = "REML", result = list(sigma2 = f$sigma2, logLik = as.numeric(logLik(f))))

out <- list(source = "metadat::dat.kalaian1996, dat.berkey1998, dat.konstantopoulos2011; metafor::rma.mv, best of nlminb (rel.tol 1e-12), Nelder-Mead (reltol 1e-14), BFGS (reltol 1e-15)",
            versions = list(R = R.version.string, metafor = as.character(packageVersion("metafor"))),
            data = list(kalaian1996 = cbind(kal, V = I(lapply(seq_len(nrow(kal)), function(i) as.numeric(Vk[i, ])))),
                        kalaian1996_V = as.matrix(Vk), berkey1998 = berkey,
                        konst_one_district = one, konstantopoulos2011 = konst),
            cases = cases)
out$data$kalaian1996$V <- NULL
writeLines(toJSON(out, auto_unbox = TRUE, digits = NA, null = "null", na = "null"),
           "tests/reference/meta_boundary.json")
cat("wrote", length(cases), "cases\n")
