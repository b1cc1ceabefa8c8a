# Empirical (sandwich) covariances of mixed-model fixed effects (issue 20, point 5):
# clubSandwich's vcovCR (CR0 = SAS EMPIRICAL, CR2, CR3 = jackknife) and coef_test
# Satterthwaite df, with nlme's gls (TYPE=UN: corSymm + varIdent) and lme (random intercept)
# as working models.  Data: the complete fev1 trial (Littell, Stroup & Freund), hours 1-4,
# 30 random rows dropped, unit = patient:drug (as mixed_type3_basis.R).
# Run from the repository root: Rscript tests/reference/scripts/mixed_empirical.R
suppressMessages({library(nlme); library(clubSandwich); library(jsonlite)})
d <- read.csv("/work/shared/data/fev1_long.csv", stringsAsFactors = FALSE)
d <- d[d$hour <= 4, ]
set.seed(20261206)
d <- d[-sample(nrow(d), 30), ]
d$hourf <- paste0("h", d$hour)
d$unit <- paste(d$patient, d$drug, sep = ":")
d <- d[order(d$unit, d$hour), ]
ctl <- glsControl(tolerance = 1e-12, msTol = 1e-12, maxIter = 500, msMaxIter = 500)
lctl <- lmeControl(tolerance = 1e-12, msTol = 1e-12, maxIter = 500, msMaxIter = 500,
                   niterEM = 100)

summ <- function(fit) {
  b <- if (inherits(fit, "lme")) fixef(fit) else coef(fit)
  out <- list(beta = unname(b), coef_names = names(b),
              logLik = as.numeric(logLik(fit)))
  for (tp in c("CR0", "CR2", "CR3")) {
    V <- vcovCR(fit, cluster = d$unit, type = tp)
    ct <- coef_test(fit, vcov = V, test = "Satterthwaite")
    out[[tp]] <- list(cov = unname(as.matrix(V)), df = ct$df_Satt)
  }
  out
}
un <- gls(fev1 ~ basefev1 + drug * hourf, data = d, method = "REML",
          correlation = corSymm(form = ~ hour | unit), weights = varIdent(form = ~ 1 | hourf),
          control = ctl)
ri <- lme(fev1 ~ basefev1 + drug * hourf, random = ~ 1 | unit, data = d, method = "REML",
          control = lctl)
out <- list(source = "fev1_long hours 1-4 minus 30 rows; nlme + clubSandwich",
            versions = list(R = R.version.string,
                            nlme = as.character(packageVersion("nlme")),
                            clubSandwich = as.character(packageVersion("clubSandwich"))),
            formula = "fev1 ~ basefev1 + drug * hourf",
            un = summ(un), random_intercept = summ(ri), data = d)
writeLines(toJSON(out, auto_unbox = TRUE, digits = NA, null = "null", na = "null"),
           "tests/reference/mixed_empirical.json")
cat("UN CR0 se:", sqrt(diag(out$un$CR0$cov))[1:3], "\n")
