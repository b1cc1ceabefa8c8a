# Type 1/2/3 ANOVA tables from lmerTest (Satterthwaite) and pbkrtest (Kenward-Roger) on the
# bundled simulated trial (metamodels/datasets/fev_sim), made unbalanced by dropping rows,
# with factor-by-factor and covariate-by-factor interactions.
# Run from the repository root: Rscript tests/reference/scripts/anova_types.R
suppressMessages({library(lme4); library(lmerTest); library(pbkrtest); library(jsonlite)})
ctrl <- lmerControl(optimizer = "nloptwrap",
                    optCtrl = list(xtol_abs = 1e-12, ftol_abs = 1e-15, xtol_rel = 1e-12, maxeval = 1e5))
fev <- read.csv("metamodels/datasets/fev_sim/fev_sim.csv")
set.seed(20261122)
fev <- fev[-sample(nrow(fev), 60), ]               # unbalanced: types 1, 2 and 3 differ
fev$hourf <- paste0("h", fev$hour)
fev$patient <- as.character(fev$patient)

tables <- function(f, types, ddf) {
  out <- list()
  for (tp in types) {
    a <- anova(f, type = tp, ddf = ddf)
    out[[as.character(tp)]] <- list(term = rownames(a), NumDF = a$NumDF, DenDF = a$DenDF,
                                    F = a[["F value"]])
  }
  out
}

case <- function(name, formula) {
  f <- lmerTest::lmer(as.formula(formula), data = fev, REML = TRUE, control = ctrl)
  list(name = name, formula = formula, logLik = as.numeric(logLik(f)),
       satterthwaite = tables(f, 1:3, "Satterthwaite"),
       kenward_roger = tables(f, 2:3, "Kenward-Roger"))
}

cases <- list(
  case("factor_by_factor", "fev ~ baseval + drug * hourf + (1 | patient)"),
  case("covariate_by_factor", "fev ~ baseval * drug + hourf + (1 | patient)")
)
out <- list(source = "metamodels fev_sim minus 60 random rows (seed 20261122); lmerTest and pbkrtest",
            versions = list(R = R.version.string, lme4 = as.character(packageVersion("lme4")),
                            lmerTest = as.character(packageVersion("lmerTest")),
                            pbkrtest = as.character(packageVersion("pbkrtest"))),
            data = fev, cases = cases)
writeLines(toJSON(out, auto_unbox = TRUE, digits = NA, null = "null", na = "null"),
           "tests/reference/anova_types.json")
cat("wrote", length(cases), "cases\n")
