# Extra reference values for metamodels.panel from plm (and lme4 for the ML/REML random-effects fits).
# Run from the repository root: Rscript tests/reference/scripts/panel_extra.R
#
# Balanced Grunfeld (plm::Grunfeld, identical to metamodels.datasets.load("grunfeld")) and an
# unbalanced panel made by dropping the (firm, year) rows listed in `dropped` (gaps inside firms
# included).  Every case records coefficients, SEs, df.residual, plm's R^2 (summary(m)$r.squared)
# and the Stata-style within/between/overall R^2 (squared correlations computed with the slope
# coefficients), and cluster-robust SEs from vcovHC(method = "arellano", cluster = "group") with
# type HC0, HC1 and sss.
suppressMessages({library(plm); library(lme4); library(jsonlite)})

data("Grunfeld", package = "plm")
G <- Grunfeld[order(Grunfeld$firm, Grunfeld$year), ]
dropped <- data.frame(firm = c(1, 1, 1, 3, 3, 5, 5, 5, 5, 5, 7, 10, 10, 10),
                      year = c(1935, 1936, 1937, 1940, 1941, 1950, 1951, 1952, 1953, 1954,
                               1945, 1936, 1944, 1953))
key <- paste(G$firm, G$year)
U <- G[!(key %in% paste(dropped$firm, dropped$year)), ]

fml <- inv ~ value + capital
G$size <- ave(G$value, G$firm)      # time-invariant regressor (firm mean of value)
G$trend <- G$year - 1935            # varies over time only

stata_r2 <- function(m, pd) {
  b <- coef(m)
  b <- b[names(b) != "(Intercept)"]
  X <- as.matrix(pd[, names(b)])
  y <- pd$inv
  id <- pd$firm
  xb <- as.numeric(X %*% b)
  wy <- y - ave(y, id); wxb <- xb - ave(xb, id)
  by <- tapply(y, id, mean); bxb <- tapply(xb, id, mean)
  list(within = cor(wy, wxb)^2, between = cor(by, bxb)^2, overall = cor(y, xb)^2)
}

se_of <- function(v) as.numeric(sqrt(diag(v)))

one <- function(name, dataset, data, model, effect = "individual", cluster = TRUE, formula = fml) {
  pd <- pdata.frame(data, index = c("firm", "year"))
  m <- plm(formula, data = pd, model = model, effect = effect)
  s <- summary(m)
  r <- list(name = name, dataset = dataset, model = model, effect = effect,
            names = names(coef(m)), coef = as.numeric(coef(m)), se = se_of(vcov(m)),
            df_resid = as.numeric(df.residual(m)), nobs = length(resid(m)),
            rsquared = as.numeric(s$r.squared["rsq"]), rsquared_adj = as.numeric(s$r.squared["adjrsq"]),
            formula = deparse(formula), stata_r2 = stata_r2(m, data))
  if (cluster && model != "between") {
    r$se_cluster_HC1 <- se_of(vcovHC(m, method = "arellano", type = "HC1", cluster = "group"))
    r$se_cluster_HC0 <- se_of(vcovHC(m, method = "arellano", type = "HC0", cluster = "group"))
    r$se_cluster_sss <- se_of(vcovHC(m, method = "arellano", type = "sss", cluster = "group"))
    r$se_cluster_time_HC1 <- se_of(vcovHC(m, method = "arellano", type = "HC1", cluster = "time"))
  }
  if (model == "within") {
    r$sigma2 <- as.numeric(deviance(m) / df.residual(m))
    if (effect == "individual") r$fixef <- as.numeric(fixef(m))   # entity intercepts (type "level")
  }
  if (model == "random") {
    ec <- ercomp(m)
    r$sigma2_idios <- as.numeric(ec$sigma2["idios"])
    r$sigma2_id <- as.numeric(ec$sigma2["id"])
    th <- as.numeric(ec$theta)
    if (length(th) > 1) {       # per observation for unbalanced panels: one value per firm
      th <- as.numeric(tapply(th, data$firm, function(z) z[1]))
    }
    r$theta <- th
  }
  r
}

ml_case <- function(name, dataset, data, reml) {
  f <- lmer(inv ~ value + capital + (1 | firm), data = data, REML = reml,
            control = lmerControl(optimizer = "nloptwrap",
                                  optCtrl = list(xtol_abs = 1e-12, ftol_abs = 1e-15,
                                                 xtol_rel = 1e-12, maxeval = 1e5)))
  vc <- as.data.frame(VarCorr(f))
  list(name = name, dataset = dataset, model = "random", re_method = if (reml) "reml" else "ml",
       coef = as.numeric(fixef(f)), se = se_of(vcov(f)), logLik = as.numeric(logLik(f)),
       sigma2_id = vc$vcov[vc$grp == "firm"], sigma2_idios = vc$vcov[vc$grp == "Residual"])
}

haus <- function(name, dataset, data) {
  pd <- pdata.frame(data, index = c("firm", "year"))
  h <- phtest(plm(fml, pd, model = "within"), plm(fml, pd, model = "random"))
  list(name = name, dataset = dataset, statistic = as.numeric(h$statistic),
       df = as.numeric(h$parameter), pval = h$p.value)
}

cases <- list(
  one("bal_within", "balanced", G, "within"),
  one("bal_twoways", "balanced", G, "within", effect = "twoways"),
  one("bal_random", "balanced", G, "random"),
  one("bal_between", "balanced", G, "between"),
  one("bal_pooling", "balanced", G, "pooling"),
  one("bal_fd", "balanced", G, "fd"),
  one("bal_random_size", "balanced", G, "random", formula = inv ~ value + capital + size),
  one("bal_random_trend", "balanced", G, "random", formula = inv ~ value + capital + trend),
  one("bal_pooling_noint", "balanced", G, "pooling", formula = inv ~ 0 + value + capital),
  one("unb_within", "unbalanced", U, "within"),
  one("unb_twoways", "unbalanced", U, "within", effect = "twoways"),
  one("unb_random", "unbalanced", U, "random"),
  one("unb_between", "unbalanced", U, "between"),
  one("unb_pooling", "unbalanced", U, "pooling"),
  one("unb_fd", "unbalanced", U, "fd"),
  ml_case("bal_ml", "balanced", G, FALSE),
  ml_case("bal_reml", "balanced", G, TRUE),
  ml_case("unb_reml", "unbalanced", U, TRUE),
  haus("bal_hausman", "balanced", G),
  haus("unb_hausman", "unbalanced", U))

out <- list(
  source = "plm::Grunfeld; plm() within/twoways/random(swar)/between/pooling/fd, vcovHC(arellano), phtest; lme4::lmer",
  versions = list(R = R.version.string, plm = as.character(packageVersion("plm")),
                  lme4 = as.character(packageVersion("lme4"))),
  dropped = dropped,
  cases = cases)
writeLines(toJSON(out, auto_unbox = TRUE, digits = NA, null = "null", na = "null", pretty = FALSE),
           "tests/reference/panel_extra.json")
cat("wrote", length(cases), "cases\n")
