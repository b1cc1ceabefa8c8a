# Reference values for MixedModel(weights=) = SAS's WEIGHT statement (R_i = W^-1/2 R W^-1/2):
# nlme::gls / nlme::lme with varFixed(~ 1 / w) (Var(e_i) proportional to 1 / w_i), combined
# with varIdent for heterogeneous structures; tight convergence.
# Run from the repository root: Rscript tests/reference/scripts/mixed_weights.R
suppressMessages({library(nlme); library(jsonlite)})
gctrl <- glsControl(tolerance = 1e-14, msTol = 1e-14, maxIter = 1000, msMaxIter = 1000,
                    opt = "optim", optimMethod = "BFGS")   # nlminb stops early for corSymm
lctrl <- lmeControl(tolerance = 1e-12, msTol = 1e-12, maxIter = 500, msMaxIter = 500,
                    niterEM = 100)

data(Orthodont, package = "nlme")
orth <- as.data.frame(Orthodont)
orth$Subject <- as.character(orth$Subject)
orth$Sex <- as.character(orth$Sex)
set.seed(20261206)
orth$w <- round(runif(nrow(orth), 0.25, 4), 3)
orth$invw <- 1 / orth$w
drop <- sample(which(orth$age > 8), 12)
orth_miss <- orth[-drop, ]
orth_miss$visit <- (orth_miss$age - 8) / 2 + 1

gls_case <- function(name, dataset, cov, data, corr, weights, reml = TRUE) {
  f <- gls(distance ~ age * Sex, data = data, correlation = corr, weights = weights,
           method = if (reml) "REML" else "ML", control = gctrl)
  s <- summary(f)$tTable
  list(name = name, kind = "gls", dataset = dataset, cov = cov, reml = reml,
       formula = "distance ~ age * Sex", repeated = "age", subject = "Subject",
       result = list(coef = as.numeric(coef(f)), names = names(coef(f)),
                     se = as.numeric(s[, "Std.Error"]), logLik = as.numeric(logLik(f)),
                     sigma2 = f$sigma^2))
}

cases <- list(
  gls_case("ID_REML", "orthodont", "ID", orth, NULL, varFixed(~ invw)),
  gls_case("ID_ML", "orthodont", "ID", orth, NULL, varFixed(~ invw), reml = FALSE),
  gls_case("AR1_REML", "orthodont", "AR1", orth, corAR1(form = ~ 1 | Subject), varFixed(~ invw)),
  gls_case("CSH_REML", "orthodont", "CSH", orth, corCompSymm(form = ~ 1 | Subject),
           varComb(varIdent(form = ~ 1 | age), varFixed(~ invw))),
  gls_case("UN_REML", "orthodont", "UN", orth, corSymm(form = ~ 1 | Subject),
           varComb(varIdent(form = ~ 1 | age), varFixed(~ invw))),
  gls_case("UN_missing_REML", "orthodont_missing", "UN", orth_miss,
           corSymm(form = ~ visit | Subject),
           varComb(varIdent(form = ~ 1 | age), varFixed(~ invw))),
  gls_case("ARH1_missing_ML", "orthodont_missing", "ARH1", orth_miss,
           corAR1(form = ~ visit | Subject),
           varComb(varIdent(form = ~ 1 | age), varFixed(~ invw)), reml = FALSE)
)

# random intercept (not weighted) + weighted independent residuals, as SAS
f <- lme(distance ~ age * Sex, random = ~ 1 | Subject, weights = varFixed(~ invw), data = orth,
         method = "REML", control = lctrl)
cases[[length(cases) + 1]] <- list(
  name = "RI_ID_REML", kind = "lme", dataset = "orthodont", cov = "ID", reml = TRUE,
  formula = "distance ~ age * Sex + (1 | Subject)",
  result = list(coef = as.numeric(fixef(f)), names = names(fixef(f)),
                se = as.numeric(summary(f)$tTable[, "Std.Error"]), logLik = as.numeric(logLik(f)),
                subject_var = as.numeric(unclass(getVarCov(f))[1, 1]), sigma2 = f$sigma^2))

out <- list(
  source = paste("nlme::Orthodont with random weights w (seed 20261206); nlme::gls/lme with",
                 "varFixed(~ 1/w) [x varIdent(~ 1 | age)], tight convergence"),
  versions = list(R = R.version.string, nlme = as.character(packageVersion("nlme"))),
  data = list(orthodont = orth, orthodont_missing = orth_miss),
  cases = cases)
writeLines(toJSON(out, digits = NA, auto_unbox = TRUE, pretty = FALSE), "tests/reference/mixed_weights.json")
