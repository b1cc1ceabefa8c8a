# One ddf for every test of a MixedModel: t tests (contest1D), F tests with 1-, 2- and
# 3-row (rank-deficient) contrasts (contestMD, with and without a right-hand side) and
# confidence intervals, by Satterthwaite (lmerTest) and Kenward-Roger (pbkrtest through
# lmerTest), on sleepstudy and on an unbalanced trial (fev_sim minus 60 rows).
# Run from the repository root: Rscript tests/reference/scripts/mixed_ddf.R
suppressMessages({library(lme4); library(lmerTest); library(pbkrtest); library(jsonlite)})
ctrl <- lmerControl(optimizer = "nloptwrap",
                    optCtrl = list(xtol_abs = 1e-12, ftol_abs = 1e-15, xtol_rel = 1e-12, maxeval = 1e5))

sleep <- read.csv("metamodels/datasets/sleepstudy/sleepstudy.csv")
sleep$Subject <- as.character(sleep$Subject)
fev <- read.csv("metamodels/datasets/fev_sim/fev_sim.csv")
set.seed(20261206)
fev <- fev[-sample(nrow(fev), 60), ]
fev$patient <- as.character(fev$patient)

ddfs <- c(satterthwaite = "Satterthwaite", kenward_roger = "Kenward-Roger")

one_test <- function(f, L, rhs) {
  L <- matrix(L, ncol = length(fixef(f)), byrow = TRUE)
  out <- list(L = L, rhs = rhs)
  for (key in names(ddfs)) {
    F <- contestMD(f, L, rhs = rhs, ddf = ddfs[[key]])
    r <- list(F = F[["F value"]], NumDF = F$NumDF, DenDF = F$DenDF, p = F[["Pr(>F)"]])
    if (nrow(L) == 1) {
      t <- contest1D(f, drop(L), rhs = rhs, ddf = ddfs[[key]], confint = TRUE, level = 0.95)
      r$t <- list(estimate = t$Estimate, se = t[["Std. Error"]], df = t$df,
                  t = t[["t value"]], p = t[["Pr(>|t|)"]], lower = t$lower, upper = t$upper)
    }
    out[[key]] <- r
  }
  out
}

conf_ints <- function(f) {
  p <- length(fixef(f))
  out <- list()
  for (key in names(ddfs)) {
    for (level in c(0.95, 0.9)) {
      ci <- t(sapply(seq_len(p), function(j) {
        l <- numeric(p); l[j] <- 1
        r <- contest1D(f, l, ddf = ddfs[[key]], confint = TRUE, level = level)
        c(r$lower, r$upper)
      }))
      out[[paste0(key, "_", level)]] <- list(lower = ci[, 1], upper = ci[, 2])
    }
  }
  out
}

case <- function(name, formula, data, tests) {
  f <- lmerTest::lmer(as.formula(formula), data = data, REML = TRUE, control = ctrl)
  list(name = name, formula = formula, logLik = as.numeric(logLik(f)),
       coef_names = names(fixef(f)), beta = unname(fixef(f)), singular = isSingular(f),
       tests = lapply(tests, function(t) one_test(f, t$L, t$rhs)),
       conf_int = conf_ints(f))
}

cases <- list(
  case("sleepstudy", "Reaction ~ Days + (Days | Subject)", sleep, list(
    list(L = c(0, 1), rhs = 0),
    list(L = c(0, 1), rhs = 10),
    list(L = c(1, 0, 0, 1), rhs = c(250, 10)),
    list(L = c(1, 0, 0, 1, 1, 1), rhs = c(0, 0, 0))        # rank 2 of 3 rows
  )),
  # coefficients: (Intercept), baseval, drugc, drugp, hour
  case("unbalanced", "fev ~ baseval + drug + hour + (1 + hour | patient)", fev, list(
    list(L = c(0, 0, 1, -1, 0), rhs = 0),
    list(L = c(0, 0, 0, 0, 1), rhs = -0.05),
    list(L = c(0, 0, 1, 0, 0, 0, 0, 0, 1, 0), rhs = c(0, 0)),
    list(L = c(0, 1, 0, 0, 0, 0, 0, 0, 0, 1), rhs = c(0, 0)),
    list(L = c(0, 0, 1, 0, 0, 0, 0, 0, 1, 0, 0, 0, 1, -1, 0), rhs = c(0, 0, 0))
  ))
)
out <- list(source = "sleepstudy (lme4) and metamodels fev_sim minus 60 random rows (seed 20261206); lmerTest contest1D/contestMD",
            versions = list(R = R.version.string, lme4 = as.character(packageVersion("lme4")),
                            lmerTest = as.character(packageVersion("lmerTest")),
                            pbkrtest = as.character(packageVersion("pbkrtest"))),
            data = list(sleepstudy = sleep, unbalanced = fev), cases = cases)
writeLines(toJSON(out, auto_unbox = TRUE, digits = NA, null = "null", na = "null", matrix = "rowmajor"),
           "tests/reference/mixed_ddf.json")
cat("wrote", length(cases), "cases\n")
