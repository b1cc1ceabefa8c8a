# Conditional modes and conditional SDs of random effects (lme4's ranef(condVar = TRUE)),
# the numbers of dotplot(ranef(fit, condVar = TRUE)), with tight convergence.
# Run from the repository root: Rscript tests/reference/scripts/caterpillar_lme4.R
suppressMessages({library(lme4); library(jsonlite)})
ctrl <- lmerControl(optimizer = "nloptwrap",
                    optCtrl = list(xtol_abs = 1e-12, ftol_abs = 1e-15, xtol_rel = 1e-12, maxeval = 1e5))
case <- function(name, formula, data, keep_data = FALSE) {
  f <- lmer(as.formula(formula), data = data, REML = TRUE, control = ctrl)
  re <- as.data.frame(ranef(f, condVar = TRUE))
  out <- list(name = name, formula = formula,
              ranef = list(grpvar = as.character(re$grpvar), term = as.character(re$term),
                           grp = as.character(re$grp), condval = re$condval, condsd = re$condsd),
              fitted = as.numeric(fitted(f)), pearson_scaled = as.numeric(residuals(f, type = "pearson", scaled = TRUE)))
  if (keep_data) out$data <- data
  out
}
data(sleepstudy, package = "lme4")
data(Pastes, package = "lme4")
pastes <- data.frame(strength = Pastes$strength, batch = as.character(Pastes$batch),
                     cask = as.character(Pastes$cask))
res <- list(
  case("sleepstudy_slopes", "Reaction ~ Days + (Days | Subject)", sleepstudy),
  case("pastes_nested", "strength ~ 1 + (1 | batch/cask)", pastes, keep_data = TRUE))
writeLines(toJSON(res, digits = NA, auto_unbox = TRUE), "tests/reference/caterpillar_lme4.json")
