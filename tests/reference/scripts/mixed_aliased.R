# Rank-deficient fixed effects (issue 20, point 9): lme4 drops aliased columns ("fixed-effect
# model matrix is rank deficient so dropping k columns / coefficients"); metamodels keeps
# them as not estimable (accept_singular=True).  Data: fev1 trial hours 1-4 minus 30 rows
# (as mixed_type3_basis.R), placebo rows at hour 4 removed (an empty cell), and a
# covariate collinear with basefev1.
# Run from the repository root: Rscript tests/reference/scripts/mixed_aliased.R
suppressMessages({library(lme4); library(lmerTest); library(jsonlite)})
ctrl <- lmerControl(optimizer = "nloptwrap",
                    optCtrl = list(xtol_abs = 1e-12, ftol_abs = 1e-15, xtol_rel = 1e-12, maxeval = 1e5))
d <- read.csv("/work/shared/data/fev1_long.csv", stringsAsFactors = FALSE)
d <- d[d$hour <= 4, ]
set.seed(20261206)
d <- d[-sample(nrow(d), 30), ]
d$hourf <- paste0("h", d$hour)
d$unit <- paste(d$patient, d$drug, sep = ":")
d <- d[!(d$drug == "p" & d$hour == 4), ]
d$base2 <- 2 * d$basefev1 - 1
f <- lmerTest::lmer(fev1 ~ basefev1 + base2 + drug * hourf + (1 | unit), data = d,
                    REML = TRUE, control = ctrl)
tab <- function(type) {
  a <- anova(f, type = type, ddf = "Satterthwaite")
  list(term = rownames(a), NumDF = a$NumDF, DenDF = a$DenDF, F = a[["F value"]])
}
s <- summary(f)$coefficients
out <- list(source = "fev1_long hours 1-4 minus 30 rows, no placebo at hour 4; lme4 + lmerTest",
            versions = list(R = R.version.string, lme4 = as.character(packageVersion("lme4")),
                            lmerTest = as.character(packageVersion("lmerTest"))),
            logLik = as.numeric(logLik(f)),
            dropped = names(attr(getME(f, "X"), "col.dropped")),
            coef_names = rownames(s), beta = unname(s[, 1]), se = unname(s[, 2]),
            df = unname(s[, 3]), anova1 = tab(1), data = d)
writeLines(toJSON(out, auto_unbox = TRUE, digits = NA, null = "null", na = "null"),
           "tests/reference/mixed_aliased.json")
print(out$dropped)
