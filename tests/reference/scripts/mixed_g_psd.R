# lme4 reference for MixedModel.fit(g_constraint="psd"): a random intercept and slope whose
# unconstrained (SAS) REML/ML estimate of G is not positive semi-definite; lme4 keeps G PSD
# and ends on the boundary (correlation +1, singular fit).
# Run from the repository root: Rscript tests/reference/scripts/mixed_g_psd.R
suppressMessages({library(lme4); library(jsonlite)})
set.seed(4)
ng <- 8; m <- 5
g <- rep(1:ng, each = m); x <- rep(0:(m - 1), ng)
b0 <- rnorm(ng, 0, 1); b1 <- rnorm(ng, 0, 0.15)
y <- 1 + 0.5 * x + b0[g] + b1[g] * x + rnorm(ng * m, 0, 1)
dat <- data.frame(y = y, x = x, g = g)
ctrl <- lmerControl(optimizer = "bobyqa", optCtrl = list(rhoend = 1e-12, maxfun = 1e5),
                    check.conv.singular = "ignore")
cases <- list()
for (reml in c(TRUE, FALSE)) {
  f <- lmer(y ~ x + (x | g), data = dat, REML = reml, control = ctrl)
  vc <- as.data.frame(VarCorr(f))
  stopifnot(isSingular(f), abs(abs(vc$sdcor[3]) - 1) < 1e-8)
  cases[[length(cases) + 1]] <- list(
    method = if (reml) "REML" else "ML", fixef = as.numeric(fixef(f)),
    se = as.numeric(sqrt(diag(as.matrix(vcov(f))))), logLik = as.numeric(logLik(f)),
    var_intercept = vc$vcov[1], var_slope = vc$vcov[2], cov = vc$vcov[3], corr = vc$sdcor[3],
    residual = vc$vcov[4], theta = as.numeric(getME(f, "theta")), singular = isSingular(f))
}
out <- list(source = "simulated (set.seed(4)); lme4::lmer(y ~ x + (x | g)), bobyqa rhoend 1e-12",
            versions = list(R = R.version.string, lme4 = as.character(packageVersion("lme4"))),
            data = dat, cases = cases)
writeLines(toJSON(out, auto_unbox = TRUE, digits = NA), "tests/reference/mixed_g_psd.json")
cat("wrote", length(cases), "cases\n")
