# The lme4 / lmerTest / pbkrtest / emmeans numbers quoted in docs/coming_from_lme4.md and
# docs/coming_from_statsmodels.md, checked by tests/test_coming_from.py.
# Data: lme4's sleepstudy, nlme's Orthodont and metamodels' bundled fev_sim (all bundled
# with metamodels as datasets "sleepstudy", "orthodont", "fev_sim").
# Run from the repository root: Rscript tests/reference/scripts/coming_from_lme4.R
suppressMessages({library(lme4); library(lmerTest); library(pbkrtest); library(emmeans)
                  library(jsonlite)})
ctrl <- lmerControl(optimizer = "nloptwrap",
                    optCtrl = list(xtol_abs = 1e-12, ftol_abs = 1e-15, xtol_rel = 1e-12,
                                   maxeval = 1e5),
                    check.conv.singular = "ignore")
emm_options(lmerTest.limit = 1e5, pbkrtest.limit = 1e5)

data(sleepstudy, package = "lme4")
sleep <- sleepstudy
sleep$Subject <- factor(as.character(sleep$Subject))
data(Orthodont, package = "nlme")
orth <- data.frame(distance = Orthodont$distance, age = Orthodont$age,
                   Subject = factor(as.character(Orthodont$Subject)),
                   Sex = factor(as.character(Orthodont$Sex)))     # levels Female, Male (patsy's)
fev <- read.csv("metamodels/datasets/fev_sim/fev_sim.csv")
fev$patient <- factor(fev$patient)
fev$drug <- factor(fev$drug)

varcomp <- function(f) {
  vc <- as.data.frame(VarCorr(f))
  list(grp = vc$grp, var1 = ifelse(is.na(vc$var1), "", vc$var1),
       var2 = ifelse(is.na(vc$var2), "", vc$var2), vcov = vc$vcov, sdcor = vc$sdcor)
}
fixed <- function(f) {
  s <- summary(f)$coefficients
  list(names = rownames(s), estimate = unname(s[, "Estimate"]), se = unname(s[, "Std. Error"]),
       df = unname(s[, "df"]), t = unname(s[, "t value"]), p = unname(s[, "Pr(>|t|)"]))
}
anova_tab <- function(a) list(terms = rownames(a), NumDF = a$NumDF, DenDF = a$DenDF,
                              F = a[["F value"]], p = a[["Pr(>F)"]])
fitstats <- function(f) list(logLik = as.numeric(logLik(f)), AIC = AIC(f), BIC = BIC(f),
                             deviance = if (isREML(f)) as.numeric(REMLcrit(f))
                                        else as.numeric(deviance(f)),
                             singular = isSingular(f))

# --- sleepstudy: correlated random intercept and slope, REML and ML
m_reml <- lmer(Reaction ~ Days + (Days | Subject), sleep, REML = TRUE, control = ctrl)
m_ml <- lmer(Reaction ~ Days + (Days | Subject), sleep, REML = FALSE, control = ctrl)
m_indep <- lmer(Reaction ~ Days + (Days || Subject), sleep, REML = TRUE, control = ctrl)
m_int <- lmer(Reaction ~ Days + (1 | Subject), sleep, REML = TRUE, control = ctrl)
re <- ranef(m_reml, condVar = TRUE)$Subject
pv <- attr(re, "postVar")
wald <- confint(m_reml, method = "Wald", parm = "beta_")
prof <- suppressMessages(confint(m_reml, method = "profile", parm = "beta_"))
kr <- summary(m_reml, ddf = "Kenward-Roger")$coefficients
lr_corr <- anova(m_reml, m_indep, refit = FALSE)
rn <- ranova(m_reml)
newd <- data.frame(Days = c(0, 5, 10), Subject = factor("308", levels = levels(sleep$Subject)))
sleep_out <- list(
  reml = c(fixed(m_reml), list(varcomp = varcomp(m_reml), fit = fitstats(m_reml),
           kr_df = unname(kr[, "df"]), kr_se = unname(kr[, "Std. Error"]),
           ranef = list(levels = rownames(re), intercept = re[, 1], slope = re[, 2],
                        se_intercept = sqrt(pv[1, 1, ]), se_slope = sqrt(pv[2, 2, ])),
           confint_wald = list(lower = unname(wald[, 1]), upper = unname(wald[, 2])),
           confint_profile = list(lower = unname(prof[, 1]), upper = unname(prof[, 2])),
           predict_population = unname(predict(m_reml, newd, re.form = NA)),
           predict_subject = unname(predict(m_reml, newd)))),
  ml = c(fixed(m_ml), list(varcomp = varcomp(m_ml), fit = fitstats(m_ml))),
  indep = c(fixed(m_indep), list(varcomp = varcomp(m_indep), fit = fitstats(m_indep))),
  lr_corr = list(chisq = lr_corr$Chisq[2], df = lr_corr$Df[2], p = lr_corr[["Pr(>Chisq)"]][2]),
  ranova = list(terms = rownames(rn), logLik = rn$logLik, LRT = rn$LRT, Df = rn$Df,
                p = rn[["Pr(>Chisq)"]]))

# --- Orthodont: random intercept, type III F with Satterthwaite and Kenward-Roger
m_orth <- lmer(distance ~ age * Sex + (1 | Subject), orth, REML = TRUE, control = ctrl)
orth_out <- c(fixed(m_orth), list(
  varcomp = varcomp(m_orth), fit = fitstats(m_orth),
  anova_satterthwaite = anova_tab(anova(m_orth, type = 3, ddf = "Satterthwaite")),
  anova_kenward_roger = anova_tab(anova(m_orth, type = 3, ddf = "Kenward-Roger"))))

# --- fev_sim: crossed patient x hour intercepts; nested patient/drug with emmeans
m_cross <- lmer(fev ~ baseval + drug + (1 | patient) + (1 | hour), fev, REML = TRUE,
                control = ctrl)
m_nest <- lmer(fev ~ baseval + drug + factor(hour) + (1 | patient/drug), fev, REML = TRUE,
               control = ctrl)
emm <- emmeans(m_nest, "drug", lmer.df = "satterthwaite")
pairs_t <- as.data.frame(summary(pairs(emm, adjust = "tukey"), infer = c(TRUE, TRUE)))
emm_s <- as.data.frame(summary(emm, infer = c(TRUE, TRUE)))
fev_out <- list(
  crossed = c(fixed(m_cross), list(varcomp = varcomp(m_cross), fit = fitstats(m_cross))),
  nested = c(fixed(m_nest), list(varcomp = varcomp(m_nest), fit = fitstats(m_nest),
             anova_satterthwaite = anova_tab(anova(m_nest, type = 3)))),
  emmeans = list(drug = as.character(emm_s$drug), emmean = emm_s$emmean, se = emm_s$SE,
                 df = emm_s$df, lower = emm_s$lower.CL, upper = emm_s$upper.CL),
  pairs_tukey = list(contrast = as.character(pairs_t$contrast), estimate = pairs_t$estimate,
                     se = pairs_t$SE, df = pairs_t$df, t = pairs_t$t.ratio,
                     p = pairs_t$p.value))

# --- a singular fit: day-to-day shocks beyond the linear trend, crossed with subjects
sleep$fDays <- factor(sleep$Days)
m_sing <- lmer(Reaction ~ Days + (1 | Subject) + (1 | fDays), sleep, REML = TRUE, control = ctrl)
sing_out <- list(varcomp = varcomp(m_sing), fit = fitstats(m_sing))

out <- list(versions = list(R = paste(R.version$major, R.version$minor, sep = "."),
                            lme4 = as.character(packageVersion("lme4")),
                            lmerTest = as.character(packageVersion("lmerTest")),
                            pbkrtest = as.character(packageVersion("pbkrtest")),
                            emmeans = as.character(packageVersion("emmeans"))),
            sleepstudy = sleep_out, orthodont = orth_out, fev_sim = fev_out,
            singular = sing_out)
write_json(out, "tests/reference/coming_from_lme4.json", digits = NA, auto_unbox = TRUE,
           pretty = TRUE)
