# Reference values for MixedModel from lme4/lmerTest/pbkrtest and nlme, with tight convergence.
# Run from the repository root: Rscript tests/reference/scripts/mixed_models.R
suppressMessages({library(lme4); library(lmerTest); library(pbkrtest); library(nlme); library(jsonlite)})
ctrl <- lmerControl(optimizer = "nloptwrap",
                    optCtrl = list(xtol_abs = 1e-12, ftol_abs = 1e-15, xtol_rel = 1e-12, maxeval = 1e5))
gctrl <- glsControl(tolerance = 1e-12, msTol = 1e-12, maxIter = 500, msMaxIter = 500)

lmer_case <- function(name, dataset, formula, data, reml = TRUE, anova = TRUE) {
  f <- lmerTest::lmer(as.formula(formula), data = data, REML = reml, control = ctrl)
  s <- summary(f)$coefficients
  vc <- as.data.frame(VarCorr(f))
  r <- list(coef = as.numeric(fixef(f)), names = names(fixef(f)), se = as.numeric(s[, "Std. Error"]),
            df_satterthwaite = as.numeric(s[, "df"]), logLik = as.numeric(logLik(f)),
            AIC = AIC(f), BIC = BIC(f),
            varcorr = lapply(seq_len(nrow(vc)), function(i) as.list(vc[i, ])))
  if (anova) {
    for (tp in 1:2) {
      a <- anova(f, type = tp, ddf = "Satterthwaite")
      r[[paste0("anova", tp, "_satterthwaite")]] <- list(term = rownames(a), NumDF = a$NumDF,
                                                         DenDF = a$DenDF, F = a[["F value"]])
    }
    a <- anova(f, type = 3, ddf = "Satterthwaite")
    r$anova_satterthwaite <- list(term = rownames(a), NumDF = a$NumDF, DenDF = a$DenDF, F = a[["F value"]])
    if (reml) {
      a <- anova(f, type = 3, ddf = "Kenward-Roger")
      r$anova_kenward_roger <- list(term = rownames(a), NumDF = a$NumDF, DenDF = a$DenDF, F = a[["F value"]])
      sk <- summary(f, ddf = "Kenward-Roger")$coefficients
      r$se_kenward_roger <- as.numeric(sk[, "Std. Error"])
      r$df_kenward_roger <- as.numeric(sk[, "df"])
    }
  }
  list(name = name, kind = "lmer", dataset = dataset, formula = formula, reml = reml, result = r)
}

gls_case <- function(name, dataset, cov, formula, data, corr, weights, reml = TRUE) {
  f <- gls(as.formula(formula), data = data, correlation = corr, weights = weights,
           method = if (reml) "REML" else "ML", control = gctrl)
  s <- summary(f)$tTable
  subj <- unique(as.character(data$Subject))
  full <- subj[which.max(table(factor(data$Subject, levels = subj)))]
  r <- list(coef = as.numeric(coef(f)), names = names(coef(f)), se = as.numeric(s[, "Std.Error"]),
            logLik = as.numeric(logLik(f)),
            residual_cov = unname(matrix(as.numeric(unclass(getVarCov(f, individual = full))), nrow = nrow(getVarCov(f, individual = full)))))
  list(name = name, kind = "gls", dataset = dataset, cov = cov, formula = formula, reml = reml,
       repeated = "age", subject = "Subject", result = r)
}

data(sleepstudy, package = "lme4")
data(Orthodont, package = "nlme")
data(Pastes, package = "lme4")
data(Penicillin, package = "lme4")
orth <- as.data.frame(Orthodont)
orth$Subject <- as.character(orth$Subject)
orth$Sex <- as.character(orth$Sex)         # levels Male, Female: tests set the order explicitly
set.seed(20261122)
drop <- sample(which(orth$age > 8), 12)
orth_miss <- orth[-drop, ]
orth_miss$visit <- (orth_miss$age - 8) / 2 + 1

cases <- list(
  lmer_case("sleep_slopes_REML", "sleepstudy", "Reaction ~ Days + (Days | Subject)", sleepstudy),
  lmer_case("sleep_slopes_ML", "sleepstudy", "Reaction ~ Days + (Days | Subject)", sleepstudy, reml = FALSE),
  lmer_case("sleep_intercept_REML", "sleepstudy", "Reaction ~ Days + (1 | Subject)", sleepstudy),
  lmer_case("sleep_uncorrelated_REML", "sleepstudy", "Reaction ~ Days + (Days || Subject)", sleepstudy),
  lmer_case("orth_interaction_REML", "orthodont", "distance ~ age * Sex + (1 | Subject)", Orthodont),
  lmer_case("orth_slopes_REML", "orthodont", "distance ~ age * Sex + (age | Subject)", Orthodont),
  lmer_case("orth_interaction_ML", "orthodont", "distance ~ age * Sex + (1 | Subject)", Orthodont, reml = FALSE),
  lmer_case("pastes_nested_REML", "pastes", "strength ~ 1 + (1 | batch/cask)", Pastes, anova = FALSE),
  lmer_case("penicillin_crossed_REML", "penicillin", "diameter ~ 1 + (1 | plate) + (1 | sample)", Penicillin, anova = FALSE),
  gls_case("orth_UN_REML", "orthodont", "UN", "distance ~ age * Sex", orth,
           corSymm(form = ~ 1 | Subject), varIdent(form = ~ 1 | age)),
  gls_case("orth_CSH_REML", "orthodont", "CSH", "distance ~ age * Sex", orth,
           corCompSymm(form = ~ 1 | Subject), varIdent(form = ~ 1 | age)),
  gls_case("orth_ARH1_REML", "orthodont", "ARH1", "distance ~ age * Sex", orth,
           corAR1(form = ~ 1 | Subject), varIdent(form = ~ 1 | age)),
  gls_case("orth_AR1_ML", "orthodont", "AR1", "distance ~ age * Sex", orth,
           corAR1(form = ~ 1 | Subject), NULL, reml = FALSE),
  gls_case("orth_missing_UN_REML", "orthodont_missing", "UN", "distance ~ age * Sex", orth_miss,
           corSymm(form = ~ visit | Subject), varIdent(form = ~ 1 | age))
)

# random intercept + AR(1) residuals (G and R sides together), nlme::lme
f <- lme(distance ~ age * Sex, random = ~ 1 | Subject, correlation = corAR1(form = ~ 1 | Subject),
         data = orth, method = "REML", control = lmeControl(tolerance = 1e-12, msTol = 1e-12, maxIter = 500, msMaxIter = 500))
cases[[length(cases) + 1]] <- list(
  name = "orth_ri_AR1_REML", kind = "lme", dataset = "orthodont", cov = "AR1",
  formula = "distance ~ age * Sex + (1 | Subject)", reml = TRUE, repeated = "age", subject = "Subject",
  result = list(coef = as.numeric(fixef(f)), names = names(fixef(f)),
                se = as.numeric(summary(f)$tTable[, "Std.Error"]), logLik = as.numeric(logLik(f)),
                subject_var = as.numeric(unclass(getVarCov(f))[1, 1]), sigma2 = f$sigma^2,
                phi = as.numeric(coef(f$modelStruct$corStruct, unconstrained = FALSE))))

out <- list(
  source = "lme4::sleepstudy, lme4::Pastes, lme4::Penicillin, nlme::Orthodont; lme4/lmerTest/pbkrtest and nlme with tight convergence",
  versions = list(R = R.version.string, lme4 = as.character(packageVersion("lme4")),
                  lmerTest = as.character(packageVersion("lmerTest")), pbkrtest = as.character(packageVersion("pbkrtest")),
                  nlme = as.character(packageVersion("nlme"))),
  data = list(sleepstudy = sleepstudy, orthodont = orth, orthodont_missing = orth_miss,
              pastes = as.data.frame(Pastes), penicillin = as.data.frame(Penicillin)),
  cases = cases)
writeLines(toJSON(out, auto_unbox = TRUE, digits = NA, null = "null", na = "null"), "tests/reference/mixed_models.json")
cat("wrote", length(cases), "cases\n")
