# plm references for time-only effects: within (effect = "time"), random (effect = "time",
# Swamy-Arora) and their Hausman test (phtest), on balanced Grunfeld and the unbalanced
# panel of panel_extra.R; lme4 for the ML/REML random time-effects model.
# Run from the repository root: Rscript tests/reference/scripts/panel_time.R
suppressMessages({library(plm); library(lme4); library(jsonlite)})
data("Grunfeld", package = "plm")
G <- Grunfeld[order(Grunfeld$firm, Grunfeld$year), ]
dropped <- data.frame(firm = c(1, 1, 1, 3, 3, 5, 5, 5, 5, 5, 7, 10, 10, 10),
                      year = c(1935, 1936, 1937, 1940, 1941, 1950, 1951, 1952, 1953, 1954,
                               1945, 1936, 1944, 1953))
U <- G[!(paste(G$firm, G$year) %in% paste(dropped$firm, dropped$year)), ]
fml <- inv ~ value + capital
se_of <- function(v) as.numeric(sqrt(diag(v)))
case <- function(name, data) {
  pd <- pdata.frame(data, index = c("firm", "year"))
  w <- plm(fml, data = pd, model = "within", effect = "time")
  r <- plm(fml, data = pd, model = "random", effect = "time")
  ec <- ercomp(r)
  th <- as.numeric(ec$theta)
  if (length(th) > 1) th <- as.numeric(tapply(th, data$year, function(z) z[1]))
  h <- phtest(w, r)
  ctrl <- lmerControl(optimizer = "nloptwrap",
                      optCtrl = list(xtol_abs = 1e-12, ftol_abs = 1e-15, xtol_rel = 1e-12, maxeval = 1e5))
  ml <- lmer(inv ~ value + capital + (1 | year), data = data, REML = TRUE, control = ctrl)
  vc <- as.data.frame(VarCorr(ml))
  list(name = name, firm = data$firm, year = data$year, inv = data$inv, value = data$value,
       capital = data$capital,
       within = list(coef = as.numeric(coef(w)), se = se_of(vcov(w)),
                     df_resid = as.numeric(df.residual(w)),
                     rsquared = as.numeric(summary(w)$r.squared["rsq"]),
                     fixef = as.numeric(fixef(w, effect = "time")),
                     se_cluster_HC1 = se_of(vcovHC(w, method = "arellano", type = "HC1",
                                                   cluster = "group"))),
       random = list(coef = as.numeric(coef(r)), se = se_of(vcov(r)),
                     sigma2_idios = as.numeric(ec$sigma2["idios"]),
                     sigma2_time = as.numeric(ec$sigma2["time"]), theta = th,
                     rsquared = as.numeric(summary(r)$r.squared["rsq"])),
       hausman = list(statistic = as.numeric(h$statistic), df = as.numeric(h$parameter),
                      pvalue = as.numeric(h$p.value)),
       reml = list(coef = as.numeric(fixef(ml)), se = se_of(vcov(ml)),
                   sigma2_time = vc$vcov[vc$grp == "year"],
                   sigma2_idios = vc$vcov[vc$grp == "Residual"],
                   logLik = as.numeric(logLik(ml))))
}
# simulated panel with sizeable period effects (unbalanced: a few rows dropped)
set.seed(20261206)
S <- expand.grid(year = 1:8, firm = 1:15)[, c("firm", "year")]
lam <- rnorm(8, sd = 2)
S$value <- rnorm(nrow(S), mean = 10 + lam[S$year], sd = 3)
S$capital <- rnorm(nrow(S), mean = 5, sd = 2) + 0.3 * S$firm
S$inv <- 1 + 0.5 * S$value - 0.3 * S$capital + lam[S$year] + rnorm(15, sd = 0.5)[S$firm] +
  rnorm(nrow(S))
S <- S[-c(3, 20, 21, 57, 88, 119), ]
out <- list(balanced = case("balanced", G), unbalanced = case("unbalanced", U),
            simulated = case("simulated", S),
            plm = as.character(packageVersion("plm")))
writeLines(toJSON(out, digits = NA, auto_unbox = TRUE), "tests/reference/panel_time.json")
