# Estimated marginal means (SAS LSMEANS) and contrasts of lmer fits with emmeans, for
# tests/test_marginal_means.py.  Data: metamodels' fev_sim (bundled).
# Run from the repository root: Rscript tests/reference/scripts/marginal_means.R
# (the seed-trial part needs ../shared/data, or METAMODELS_SHARED_DIR pointing to shared/)
suppressMessages({library(lme4); library(lmerTest); library(pbkrtest); library(emmeans)
                  library(jsonlite)})
ctrl <- lmerControl(optimizer = "nloptwrap",
                    optCtrl = list(xtol_abs = 1e-12, ftol_abs = 1e-15, xtol_rel = 1e-12, maxeval = 1e5))
emm_options(lmerTest.limit = 1e5, pbkrtest.limit = 1e5)
fev <- read.csv("metamodels/datasets/fev_sim/fev_sim.csv")
fev$patient <- as.character(fev$patient)
fev$fhour <- factor(fev$hour)

frame <- function(s) {
  s <- as.data.frame(s)
  est <- if ("emmean" %in% names(s)) "emmean" else "estimate"
  lab <- setdiff(names(s), c(est, "SE", "df", "lower.CL", "upper.CL", "t.ratio", "p.value"))
  list(labels = lapply(s[lab], as.character), estimate = s[[est]], se = s$SE, df = s$df,
       statistic = s$t.ratio, pvalue = s$p.value, ci_lower = s$lower.CL, ci_upper = s$upper.CL)
}
inf <- function(x, ...) frame(summary(x, infer = c(TRUE, TRUE), ...))

ddfs <- c(satterthwaite = "satterthwaite", kenward_roger = "kenward-roger")

slope_case <- function(fit) {
  out <- list()
  for (key in names(ddfs)) {
    e <- emmeans(fit, "drug", lmer.df = ddfs[[key]])
    e25 <- emmeans(fit, "drug", at = list(baseval = 2.5, hour = 3), lmer.df = ddfs[[key]])
    out[[key]] <- list(
      means = inf(e), means_at = inf(e25),
      pairs_tukey = inf(pairs(e, adjust = "tukey")),
      pairs_bonferroni = inf(pairs(e, adjust = "bonferroni")),
      pairs_holm = inf(pairs(e, adjust = "holm")),
      pairs_none = inf(pairs(e, adjust = "none")),
      revpairs_tukey = inf(contrast(e, "revpairwise", adjust = "tukey")),
      trt_ctrl_bonferroni = inf(contrast(e, "trt.vs.ctrl", adjust = "bonferroni")),
      trt_ctrl_p_holm = inf(contrast(e, "trt.vs.ctrl", ref = 3, adjust = "holm")),
      eff_holm = inf(contrast(e, "eff", adjust = "holm")),
      consec_bonferroni = inf(contrast(e, "consec", adjust = "bonferroni")),
      at_pairs_tukey = inf(pairs(e25, adjust = "tukey")),
      means_sidak = inf(e, adjust = "sidak"))
  }
  out
}

factor_case <- function(fit) {
  out <- list()
  for (key in names(ddfs)) {
    e <- emmeans(fit, "drug", lmer.df = ddfs[[key]])
    ep <- emmeans(fit, "drug", weights = "proportional", lmer.df = ddfs[[key]])
    ec <- emmeans(fit, "drug", weights = "cells", lmer.df = ddfs[[key]])
    eh <- emmeans(fit, "fhour", lmer.df = ddfs[[key]])
    out[[key]] <- list(
      means = inf(e), means_proportional = inf(ep), means_cells = inf(ec),
      pairs_tukey = inf(pairs(e, adjust = "tukey")),
      pairs_proportional_holm = inf(pairs(ep, adjust = "holm")),
      hour_means = inf(eh),
      hour_pairs_tukey = inf(pairs(eh, adjust = "tukey")),
      hour_trt_ctrl_holm = inf(contrast(eh, "trt.vs.ctrl", adjust = "holm")))
    if (key == "satterthwaite") {
      eb <- emmeans(fit, "drug", by = "fhour", lmer.df = ddfs[[key]])
      out[[key]]$by_hour_means <- inf(eb)
      out[[key]]$by_hour_pairs_tukey <- inf(pairs(eb, adjust = "tukey"))
      out[[key]]$by_hour_pairs_bonferroni <- inf(pairs(eb, adjust = "bonferroni"))
      e2 <- emmeans(fit, c("drug", "fhour"), lmer.df = ddfs[[key]])
      out[[key]]$two_factor_means <- inf(e2)
      out[[key]]$two_factor_pairs_bonferroni <- inf(pairs(e2, adjust = "bonferroni"))
    }
  }
  out
}

fit_slope <- lmerTest::lmer(fev ~ baseval + drug + hour + (1 + hour | patient), data = fev,
                            REML = TRUE, control = ctrl)
fit_factor <- lmerTest::lmer(fev ~ baseval + drug * fhour + (1 | patient) + (1 | patient:drug),
                             data = fev, REML = TRUE, control = ctrl)
# the seed trial (complete FEV1 data, not redistributed: results only, when ../shared exists)
seed_path <- file.path(Sys.getenv("METAMODELS_SHARED_DIR", "../shared"), "data", "fev1_long.csv")
seed <- NULL
if (file.exists(seed_path)) {
  s <- read.csv(seed_path)
  s$patient <- as.character(s$patient)
  s$fhour <- factor(s$hour)
  fit_seed <- lmerTest::lmer(fev1 ~ basefev1 + drug * fhour + (1 | patient:drug), data = s,
                             REML = TRUE, control = ctrl)
  seed <- list(formula = "fev1 ~ basefev1 + drug * fhour + (1 | patient:drug)",
               logLik = as.numeric(logLik(fit_seed)), results = list())
  for (key in names(ddfs)) {
    e <- emmeans(fit_seed, "drug", lmer.df = ddfs[[key]])
    seed$results[[key]] <- list(means = inf(e), pairs_tukey = inf(pairs(e, adjust = "tukey")))
  }
}
out <- list(source = "metamodels fev_sim; lme4 + lmerTest + pbkrtest fits, emmeans summaries with infer = c(TRUE, TRUE)",
            versions = list(R = R.version.string, lme4 = as.character(packageVersion("lme4")),
                            emmeans = as.character(packageVersion("emmeans")),
                            pbkrtest = as.character(packageVersion("pbkrtest"))),
            cases = list(
              random_slope = list(formula = "fev ~ baseval + drug + hour + (1 + hour | patient)",
                                  logLik = as.numeric(logLik(fit_slope)),
                                  beta = unname(fixef(fit_slope)), results = slope_case(fit_slope)),
              factor_interaction = list(
                formula = "fev ~ baseval + drug * fhour + (1 | patient) + (1 | patient:drug)",
                logLik = as.numeric(logLik(fit_factor)),
                beta = unname(fixef(fit_factor)), results = factor_case(fit_factor)),
              seed_fev1 = seed))
writeLines(toJSON(out, auto_unbox = TRUE, digits = NA, null = "null", na = "null"),
           "tests/reference/marginal_means.json")
