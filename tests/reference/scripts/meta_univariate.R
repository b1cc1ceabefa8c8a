# Reference values for MetaFixed / MetaRandom from metafor, with tight convergence
# (threshold 1e-12, uniroot tol 1e-14) so that they are exact to ~1e-10.
# Run: Rscript tests/reference/scripts/meta_univariate.R  (writes tests/reference/meta_univariate.json)
suppressMessages({library(metafor); library(jsonlite)})
tight <- list(threshold = 1e-13, tol = 1e-14, maxiter = 10000, stepadj = 0.5)

bcg <- escalc(measure = "RR", ai = tpos, bi = tneg, ci = cpos, di = cneg, data = dat.bcg)
bcg$alloc <- as.character(bcg$alloc)
md <- data.frame(
  study = c("Turner 2000c", "Turner 2000b", "Prasad 2008", "Prasad 2000", "Petrus 1998", "Douglas 1987"),
  n1i = c(72, 68, 25, 25, 52, 33), m1i = c(7.9, 6.89, 4, 4.5, 4.4, 12.1), sd1i = c(4.25, 3.35, 1.04, 1.6, 1.4, 9.8),
  n2i = c(71, 71, 25, 23, 49, 30), m2i = c(7.55, 7.55, 7.12, 8.1, 5.1, 7.7), sd2i = c(3.96, 3.96, 1.26, 1.8, 2.8, 9.8))
md <- escalc(measure = "MD", m1i = m1i, sd1i = sd1i, n1i = n1i, m2i = m2i, sd2i = sd2i, n2i = n2i, data = md)
nor <- escalc(measure = "SMD", m1i = m1i, sd1i = sd1i, n1i = n1i, m2i = m2i, sd2i = sd2i, n2i = n2i,
              data = dat.normand1999)

one <- function(name, dataset, data, mods, method, test = "z", newdata = NULL, ci = TRUE) {
  f <- if (is.null(mods)) rma(yi, vi, data = data, method = method, test = test, control = tight)
       else rma(yi, vi, mods = mods, data = data, method = method, test = test, control = tight)
  fs <- fitstats(f, REML = (method == "REML"))
  r <- list(coef = as.list(setNames(as.numeric(coef(f)), names(coef(f)))),
            se = as.numeric(f$se), stat = as.numeric(f$zval), pval = as.numeric(f$pval),
            ci_lower = as.numeric(f$ci.lb), ci_upper = as.numeric(f$ci.ub),
            tau2 = f$tau2, se_tau2 = if (is.null(f$se.tau2)) NA else f$se.tau2,
            QE = f$QE, QEp = f$QEp, I2 = f$I2, H2 = f$H2, QM = f$QM, QMp = f$QMp,
            logLik = as.numeric(logLik(f)), AIC = AIC(f), BIC = BIC(f), AICc = fs[5, 1])
  if (method != "FE") {
    b <- blup(f)
    r$blup <- list(pred = b$pred, se = b$se, pi_lower = b$pi.lb, pi_upper = b$pi.ub)
    if (ci) {
      r$tau2_ci_qprofile <- as.numeric(confint(f, type = "QP", control = list(tol = 1e-14))$random[1, 2:3])
      if (method %in% c("ML", "REML"))
        r$tau2_ci_profile <- as.numeric(confint(f, type = "PL", control = list(tol = 1e-14))$random[1, 2:3])
    }
  }
  p <- if (is.null(newdata)) predict(f) else predict(f, newmods = newdata)
  r$pred <- list(pred = as.numeric(p$pred), se = as.numeric(p$se), ci_lower = as.numeric(p$ci.lb),
                 ci_upper = as.numeric(p$ci.ub),
                 pi_lower = if (is.null(p$pi.lb)) as.numeric(p$ci.lb) else as.numeric(p$pi.lb),
                 pi_upper = if (is.null(p$pi.ub)) as.numeric(p$ci.ub) else as.numeric(p$pi.ub))
  if (!is.null(newdata)) r$newdata <- newdata
  list(name = name, dataset = dataset, method = method, test = test,
       mods = if (is.null(mods)) "1" else deparse(mods), result = r)
}

cases <- list()
for (m in c("DL", "HE", "HS", "SJ", "ML", "REML", "EB", "PM"))
  cases[[length(cases) + 1]] <- one(paste0("bcg_", m), "bcg", bcg, NULL, m)
cases[[length(cases) + 1]] <- one("bcg_FE", "bcg", bcg, NULL, "FE")
cases[[length(cases) + 1]] <- one("bcg_FE_t", "bcg", bcg, NULL, "FE", test = "t")
cases[[length(cases) + 1]] <- one("bcg_REML_knha", "bcg", bcg, NULL, "REML", test = "knha")
cases[[length(cases) + 1]] <- one("bcg_DL_t", "bcg", bcg, NULL, "DL", test = "t")
nd <- cbind(ablat = c(10, 30, 50), year = c(1950, 1960, 1970))
for (m in c("REML", "ML", "DL", "HE", "SJ", "PM", "EB"))
  cases[[length(cases) + 1]] <- one(paste0("bcg_", m, "_mods"), "bcg", bcg, ~ ablat + year, m, newdata = nd)
cases[[length(cases) + 1]] <- one("bcg_REML_mods_knha", "bcg", bcg, ~ ablat + year, "REML", test = "knha", newdata = nd)
cases[[length(cases) + 1]] <- one("bcg_ML_knha_factor", "bcg", bcg, ~ ablat + factor(alloc), "ML", test = "knha")
cases[[length(cases) + 1]] <- one("bcg_FE_mods", "bcg", bcg, ~ ablat, "FE")
cases[[length(cases) + 1]] <- one("md_FE", "md_example", md, NULL, "FE")
cases[[length(cases) + 1]] <- one("md_DL", "md_example", md, NULL, "DL")
cases[[length(cases) + 1]] <- one("md_REML", "md_example", md, NULL, "REML")
cases[[length(cases) + 1]] <- one("normand_SMD_REML", "normand1999", nor, NULL, "REML")
cases[[length(cases) + 1]] <- one("normand_SMD_PM_knha", "normand1999", nor, NULL, "PM", test = "knha")

out <- list(
  source = "metadat::dat.bcg (escalc RR), the six-study MD example, metadat::dat.normand1999 (escalc SMD); metafor::rma with control(threshold=1e-13, tol=1e-14)",
  versions = list(R = R.version.string, metafor = as.character(packageVersion("metafor"))),
  data = list(bcg = as.data.frame(bcg), md_example = as.data.frame(md), normand1999 = as.data.frame(nor)),
  cases = cases)
writeLines(toJSON(out, auto_unbox = TRUE, digits = NA, null = "null", na = "null", pretty = FALSE),
           "tests/reference/meta_univariate.json")
cat("wrote", length(cases), "cases\n")
