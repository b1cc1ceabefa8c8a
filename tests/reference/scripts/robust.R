# Cluster-robust (sandwich) inference on meta-analytic fits: clubSandwich's vcovCR
# (CR0, CR1, CR2 with the model's V as target), coef_test(test = "Satterthwaite") and
# Wald_test(test = "HTZ"), and metafor's robust(clubSandwich = TRUE) for the same fits.
#
# Run from the repository root:
#   Rscript tests/reference/scripts/robust.R
# Writes tests/reference/robust.json (jsonlite, digits = NA).

suppressMessages({
  library(metafor)
  library(clubSandwich)
  library(jsonlite)
})

ctrl_uni <- list(threshold = 1e-12, maxiter = 1000)
ctrl_mv <- list(rel.tol = 1e-10, iter.max = 1000, eval.max = 2000)

bcg <- escalc("RR", ai = tpos, bi = tneg, ci = cpos, di = cneg, data = dat.bcg)
bcg <- bcg[, c("trial", "year", "ablat", "alloc", "yi", "vi")]
k11 <- dat.konstantopoulos2011[, c("district", "school", "study", "year", "yi", "vi")]
berk <- dat.berkey1998[, c("trial", "author", "year", "ni", "outcome", "yi", "vi", "v1i", "v2i")]
Vb <- bldiag(lapply(split(berk[, c("v1i", "v2i")], berk$trial), as.matrix))

# correlated effects within studies: V from vcalc with an assumed rho = 0.6 (the usual
# robust-variance-estimation workflow), three-level model, clustered by study
assink <- dat.assink2016[, c("study", "esid", "id", "yi", "vi", "year", "deltype")]
Va <- vcalc(vi, cluster = study, obs = esid, data = assink, rho = 0.6)

fits <- list(
  bcg_uni = list(fit = rma(yi, vi, mods = ~ ablat, data = bcg, method = "REML", control = ctrl_uni),
                 cluster = bcg$alloc, data = "bcg", formula = "yi ~ ablat", model = "MetaRandom",
                 cluster_col = "alloc", constraints = list(2)),
  bcg_fe = list(fit = rma(yi, vi, data = bcg, method = "FE"),
                cluster = bcg$alloc, data = "bcg", formula = "yi ~ 1", model = "MetaFixed",
                cluster_col = "alloc", constraints = list(1)),
  k11_uni = list(fit = rma(yi, vi, mods = ~ I(year - 1990), data = k11, method = "REML", control = ctrl_uni),
                 cluster = k11$district, data = "konstantopoulos2011",
                 formula = "yi ~ I(year - 1990)", model = "MetaRandom", cluster_col = "district",
                 constraints = list(2)),
  k11_mv = list(fit = rma.mv(yi, vi, mods = ~ I(year - 1990), random = ~ 1 | district/school,
                             data = k11, method = "REML", control = ctrl_mv),
                cluster = k11$district, data = "konstantopoulos2011",
                formula = "yi ~ I(year - 1990) + (1 | district/school)", model = "MetaMixed",
                cluster_col = "district", constraints = list(1:2)),
  berkey_mv = list(fit = rma.mv(yi, Vb, mods = ~ outcome + outcome:I(year - 1983) - 1,
                                random = ~ outcome | trial, struct = "UN", data = berk,
                                method = "REML", control = ctrl_mv),
                   cluster = berk$trial, data = "berkey1998",
                   formula = "yi ~ 0 + outcome + outcome:I(year - 1983) + (0 + outcome | trial)",
                   model = "MetaMixed", cluster_col = "trial", constraints = list(3:4, 1)),
  assink_mv = list(fit = rma.mv(yi, Va, mods = ~ deltype + year, random = ~ 1 | study/esid,
                                data = assink, method = "REML", control = ctrl_mv),
                   cluster = assink$study, data = "assink2016",
                   formula = "yi ~ deltype + year + (1 | study/esid)", model = "MetaMixed",
                   cluster_col = "study", constraints = list(2:3, 4), rho = 0.6)
)

out <- list()
for (nm in names(fits)) {
  f <- fits[[nm]]
  case <- list(data = f$data, formula = f$formula, model = f$model, cluster = f$cluster_col,
               beta = as.numeric(coef(f$fit)), tau2 = if (is.null(f$fit$tau2)) NA else f$fit$tau2,
               sigma2 = if (is.null(f$fit$sigma2)) NA else f$fit$sigma2)
  for (type in c("CR0", "CR1", "CR2")) {
    vc <- vcovCR(f$fit, cluster = f$cluster, type = type)
    ct <- coef_test(f$fit, vcov = vc, test = "Satterthwaite")
    ci <- conf_int(f$fit, vcov = vc, test = "Satterthwaite", level = 0.95)
    wald <- lapply(f$constraints, function(idx) {
      w <- Wald_test(f$fit, constraints = constrain_zero(idx), vcov = vc, test = "HTZ")
      list(index = idx, Fstat = w$Fstat, df_num = w$df_num, df_denom = w$df_denom,
           p_val = w$p_val)
    })
    case[[type]] <- list(vcov = unname(as.matrix(vc)), se = ct$SE, tstat = ct$tstat,
                         df = ct$df_Satt, p = ct$p_Satt, ci_lower = ci$CI_L, ci_upper = ci$CI_U,
                         wald = wald)
  }
  if (inherits(f$fit, "rma.mv")) {
    rb <- robust(f$fit, cluster = f$cluster, clubSandwich = TRUE)
    case$metafor_robust <- list(se = as.numeric(rb$se), df = as.numeric(rb$ddf),
                                p = as.numeric(rb$pval), ci_lower = as.numeric(rb$ci.lb),
                                ci_upper = as.numeric(rb$ci.ub))
  }
  rb1 <- robust(f$fit, cluster = f$cluster, adjust = TRUE)
  case$metafor_robust_default <- list(se = as.numeric(rb1$se), df = as.numeric(rb1$ddf),
                                      p = as.numeric(rb1$pval))
  if (!is.null(f$rho)) case$rho <- f$rho
  out[[nm]] <- case
}
out$assink2016_data <- assink
out$versions <- list(metafor = as.character(packageVersion("metafor")),
                     clubSandwich = as.character(packageVersion("clubSandwich")))
writeLines(toJSON(out, digits = NA, auto_unbox = TRUE, na = "null"), "tests/reference/robust.json")
