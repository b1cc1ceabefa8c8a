# Row basis of multi-df ANOVA hypotheses (issue 20, point 4).  lmerTest builds its type-3
# hypotheses as SAS does (one row per non-aliased column of the term) but with R's
# treatment contrasts, whose reference is the FIRST level; SAS's reference is the LAST level.
# Fitting the same model with every factor's levels reversed therefore gives SAS's rows.
# Data: the complete fev1 trial (Littell, Stroup & Freund; /work/shared/data/fev1_long.csv),
# hours 1-4, 30 random rows dropped, unit = patient:drug.
# Run from the repository root: Rscript tests/reference/scripts/mixed_type3_basis.R
suppressMessages({library(lme4); library(lmerTest); library(jsonlite)})
ctrl <- lmerControl(optimizer = "nloptwrap",
                    optCtrl = list(xtol_abs = 1e-12, ftol_abs = 1e-15, xtol_rel = 1e-12, maxeval = 1e5))
d <- read.csv("/work/shared/data/fev1_long.csv", stringsAsFactors = FALSE)
d <- d[d$hour <= 4, ]
set.seed(20261206)
d <- d[-sample(nrow(d), 30), ]
d$hourf <- paste0("h", d$hour)
d$unit <- paste(d$patient, d$drug, sep = ":")
formula <- fev1 ~ basefev1 + drug * hourf + (1 + hour | unit)

tab <- function(f, type) {
  a <- anova(f, type = type, ddf = "Satterthwaite")
  list(term = rownames(a), NumDF = a$NumDF, DenDF = a$DenDF, F = a[["F value"]])
}
fit <- function(levels_drug, levels_hour) {
  dd <- d
  dd$drug <- factor(dd$drug, levels = levels_drug)
  dd$hourf <- factor(dd$hourf, levels = levels_hour)
  lmerTest::lmer(formula, data = dd, REML = TRUE, control = ctrl)
}
lv_d <- sort(unique(d$drug)); lv_h <- sort(unique(d$hourf))
f_first <- fit(lv_d, lv_h)              # R's order: reference = first level (lmerTest)
f_last <- fit(rev(lv_d), rev(lv_h))     # reversed: lmerTest's rows are SAS's
L3 <- lmerTest:::get_contrasts_type3(f_first)
out <- list(
  source = "fev1_long (SAS System for Linear Models, 4th ed.) hours 1-4 minus 30 rows; lmerTest",
  versions = list(R = R.version.string, lme4 = as.character(packageVersion("lme4")),
                  lmerTest = as.character(packageVersion("lmerTest"))),
  formula = "fev1 ~ basefev1 + drug * hourf + (1 + hour | unit)",
  logLik = as.numeric(logLik(f_first)),
  coef_names = names(fixef(f_first)),
  lmertest = lapply(setNames(1:3, c("1", "2", "3")), function(t) tab(f_first, t)),
  sas = list("3" = tab(f_last, 3)),
  L_lmertest = lapply(L3, function(L) unname(as.matrix(L))),
  data = d)
writeLines(toJSON(out, auto_unbox = TRUE, digits = NA, null = "null", na = "null"),
           "tests/reference/mixed_type3_basis.json")
print(out$lmertest[["3"]]); print(out$sas[["3"]])
