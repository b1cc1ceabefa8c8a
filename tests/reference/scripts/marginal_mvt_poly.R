# Single-step (multivariate t) adjustments, Dunnett's test and polynomial contrasts, for
# tests/test_marginal_mvt.py.  Run from the repository root:
#   Rscript tests/reference/scripts/marginal_mvt_poly.R
# 1. kernel: P(max|T_j| < c) by mvtnorm (Miwa's deterministic algorithm for the normal,
#    Genz-Bretz with tight tolerance for the t and singular normals), and simultaneous critical values;
# 2. meta-regression (bcg, log RR ~ alloc, test = "t", df = 10): Dunnett's test of each
#    allocation against "alternate", from metafor's coefficients and vcov and mvtnorm;
# 3. emmeans on the bundled fev_sim: contrast(..., adjust = "mvt") (mvtnorm's default
#    precision, df truncated to integers by emmeans) and poly contrasts of hour.
suppressMessages({library(mvtnorm); library(metafor); library(lme4); library(lmerTest)
                  library(emmeans); library(jsonlite)})
set.seed(20261206)
gb <- GenzBretz(maxpts = 2e6, abseps = 1e-8, releps = 0)
box <- function(c, R, df) {
  k <- nrow(R)
  if (is.infinite(df) && qr(R)$rank == k) {
    as.numeric(pmvnorm(rep(-c, k), rep(c, k), corr = R, algorithm = Miwa(steps = 4096)))
  } else if (is.infinite(df)) {          # singular (pairwise family): Genz-Bretz
    as.numeric(pmvnorm(rep(-c, k), rep(c, k), corr = R, algorithm = gb))
  } else {
    as.numeric(pmvt(rep(-c, k), rep(c, k), corr = R, df = df, algorithm = gb))
  }
}
crit <- function(level, R, df) uniroot(function(c) box(c, R, df) - level,
                                       c(1, 6), tol = 1e-10)$root
R3 <- matrix(c(1, .5, .3, .5, 1, .4, .3, .4, 1), 3)
n <- c(20, 12, 15, 30); n0 <- 25        # Dunnett: unequal arms against a control of 25
R4 <- outer(n, n, function(a, b) sqrt(a * b / ((a + n0) * (b + n0)))); diag(R4) <- 1
v <- c(1, 2, 0.5, 1.5)                  # pairwise differences of 4 independent means
P <- t(combn(4, 2, function(ij) { x <- numeric(4); x[ij[1]] <- 1; x[ij[2]] <- -1; x }))
C6 <- P %*% diag(v) %*% t(P); R6 <- cov2cor(C6)
kernel <- list()
for (nm in c("R3", "R4", "R6")) {
  R <- get(nm)
  for (df in c(5, 20, Inf)) for (c in c(1.5, 2.2, 3.0, 4.0)) {
    kernel[[length(kernel) + 1]] <- list(corr = nm, df = if (is.infinite(df)) "inf" else df,
                                         c = c, prob = box(c, R, df))
  }
}
crits <- list()
for (nm in c("R3", "R4", "R6")) for (df in c(10, Inf)) {
  crits[[length(crits) + 1]] <- list(corr = nm, df = if (is.infinite(df)) "inf" else df,
                                     level = 0.95, crit = crit(0.95, get(nm), df))
}

# 2. Dunnett on a meta-regression with integer t df
dat <- escalc(measure = "RR", ai = tpos, bi = tneg, ci = cpos, di = cneg, data = dat.bcg)
fit <- rma(yi, vi, mods = ~ alloc, data = dat, method = "REML", test = "t",
           control = list(threshold = 1e-12, maxiter = 10000))
b <- coef(fit)[-1]; V <- vcov(fit)[-1, -1]; se <- sqrt(diag(V)); tt <- b / se
Rm <- cov2cor(V); dfm <- fit$k - fit$p
pm <- sapply(abs(tt), function(x) 1 - box(x, Rm, dfm))
meta <- list(levels = levels(factor(dat$alloc)), estimate = unname(b), se = unname(se),
             statistic = unname(tt), df = dfm, pvalue = unname(pm),
             crit = crit(0.95, Rm, dfm), tau2 = fit$tau2)

# 3. emmeans on fev_sim
ctrl <- lmerControl(optimizer = "nloptwrap",
                    optCtrl = list(xtol_abs = 1e-12, ftol_abs = 1e-15, xtol_rel = 1e-12, maxeval = 1e5))
fev <- read.csv("metamodels/datasets/fev_sim/fev_sim.csv")
fev$patient <- as.character(fev$patient); fev$fhour <- factor(fev$hour)
frame <- function(s) {
  s <- as.data.frame(s)
  list(contrast = as.character(s$contrast), estimate = s$estimate, se = s$SE, df = s$df,
       statistic = s$t.ratio, pvalue = s$p.value, ci_lower = s$lower.CL, ci_upper = s$upper.CL)
}
fit_slope <- lmerTest::lmer(fev ~ baseval + drug + hour + (1 + hour | patient), data = fev,
                            REML = TRUE, control = ctrl)
e <- emmeans(fit_slope, "drug", lmer.df = "satterthwaite")
fit_factor <- lmerTest::lmer(fev ~ baseval + drug * fhour + (1 | patient) + (1 | patient:drug),
                             data = fev, REML = TRUE, control = ctrl)
eh <- emmeans(fit_factor, "fhour", lmer.df = "satterthwaite")
emm <- list(
  trt_ctrl_p_mvt = frame(summary(contrast(e, "trt.vs.ctrl", ref = 3, adjust = "mvt"),
                                 infer = c(TRUE, TRUE))),
  pairs_mvt = frame(summary(pairs(e, adjust = "mvt"), infer = c(TRUE, TRUE))),
  hour_poly = frame(summary(contrast(eh, "poly"), infer = c(TRUE, TRUE))),
  hour_consec_mvt = frame(summary(contrast(eh, "consec", adjust = "mvt"),
                                  infer = c(TRUE, TRUE))))
out <- list(source = "mvtnorm (Miwa / Genz-Bretz abseps 1e-8), metafor, emmeans",
            versions = list(R = R.version.string,
                            mvtnorm = as.character(packageVersion("mvtnorm")),
                            emmeans = as.character(packageVersion("emmeans")),
                            metafor = as.character(packageVersion("metafor"))),
            corr = list(R3 = R3, R4 = R4, R6 = R6), kernel = kernel, crits = crits,
            meta_dunnett = meta, emmeans = emm,
            logLik = list(random_slope = as.numeric(logLik(fit_slope)),
                          factor_interaction = as.numeric(logLik(fit_factor))))
writeLines(toJSON(out, auto_unbox = TRUE, digits = NA, matrix = "rowmajor"),
           "tests/reference/marginal_mvt_poly.json")
