# Reference values for MixedModel's spatial R-side structures (SAS TYPE=SP(EXP|GAU|POW|SPH))
# and its Pearson / normalized residuals, from nlme::gls / nlme::lme with tight convergence.
# Run from the repository root: Rscript tests/reference/scripts/mixed_spatial.R
#
# Parameter maps (nlme -> SAS): corExp/corGaus/corSpher(range = rho) with nugget = FALSE give
# SP(EXP)/SP(GAU)/SP(SPH) with the same rho and Residual = sigma^2; corCAR1(phi) is SP(POW)
# with rho = phi; with nugget = TRUE (nugget n) SAS's LOCAL option has Variance =
# sigma^2 (1 - n) and Residual = sigma^2 n.
suppressMessages({library(nlme); library(jsonlite)})
gctrl <- glsControl(tolerance = 1e-10, msTol = 1e-10, maxIter = 1000, msMaxIter = 1000,
                    returnObject = TRUE)
lctrl <- lmeControl(tolerance = 1e-10, msTol = 1e-10, maxIter = 1000, msMaxIter = 1000,
                    niterEM = 100, returnObject = TRUE)

cor_pars <- function(f) {
  cs <- f$modelStruct$corStruct
  if (is.null(cs)) return(list())
  as.list(coef(cs, unconstrained = FALSE))
}

fit_out <- function(f, kind) {
  tt <- if (kind == "gls") summary(f)$tTable else summary(f)$tTable
  se_col <- if (kind == "gls") "Std.Error" else "Std.Error"
  out <- list(coef = as.numeric(if (kind == "gls") coef(f) else fixef(f)),
              names = if (kind == "gls") names(coef(f)) else names(fixef(f)),
              se = as.numeric(tt[, se_col]), logLik = as.numeric(logLik(f)),
              sigma2 = f$sigma^2, cor = cor_pars(f))
  if (kind == "lme") {
    out$re_var <- as.numeric(getVarCov(f))[1]
  }
  out
}

gls_case <- function(name, data_name, sas, formula, data, corr, coords, subject,
                     reml = TRUE, local = FALSE, weights = NULL, resid = FALSE) {
  f <- gls(as.formula(formula), data = data, correlation = corr, weights = weights,
           method = if (reml) "REML" else "ML", control = gctrl)
  r <- fit_out(f, "gls")
  if (resid) {
    r$resid_pearson <- as.numeric(residuals(f, type = "pearson"))
    r$resid_normalized <- as.numeric(residuals(f, type = "normalized"))
    r$resid_response <- as.numeric(residuals(f, type = "response"))
  }
  list(name = name, kind = "gls", data = data_name, cov_struct = sas, formula = formula,
       coords = coords, subject = subject, reml = reml, local = local, result = r)
}

lme_case <- function(name, data_name, sas, formula, data, random, corr, coords, subject,
                     reml = TRUE) {
  f <- lme(as.formula(formula), data = data, random = random, correlation = corr,
           method = if (reml) "REML" else "ML", control = lctrl)
  list(name = name, kind = "lme", data = data_name, cov_struct = sas, formula = formula,
       coords = coords, subject = subject, reml = reml, local = FALSE, result = fit_out(f, "lme"))
}

# ---------------------------------------------------------------------------- data
data(BodyWeight, package = "nlme")
bw <- data.frame(weight = BodyWeight$weight, Time = BodyWeight$Time,
                 Rat = as.character(BodyWeight$Rat), Diet = as.character(BodyWeight$Diet))
data(Ovary, package = "nlme")
ov <- data.frame(follicles = Ovary$follicles, Time = Ovary$Time, Mare = as.character(Ovary$Mare))
# rows sorted by group: nlme's residuals(type = "normalized") of gls are misaligned with
# the groups when the data are not sorted by the grouping factor (nlme 3.1-162)
ov <- ov[order(ov$Mare, ov$Time), ]
rownames(ov) <- NULL
data(Wheat2, package = "nlme")
wheat <- data.frame(yield = Wheat2$yield, variety = as.character(Wheat2$variety),
                    Block = as.character(Wheat2$Block), latitude = Wheat2$latitude,
                    longitude = Wheat2$longitude)
data(Orthodont, package = "nlme")
orth <- data.frame(distance = Orthodont$distance, age = Orthodont$age,
                   Subject = as.character(Orthodont$Subject), Sex = as.character(Orthodont$Sex))
set.seed(20261206)
orth <- orth[-sample(which(orth$age > 8), 14), ]
orth$visit <- (orth$age - 8) / 2 + 1
orth <- orth[order(orth$Subject, orth$visit), ]
rownames(orth) <- NULL

bw_f <- "weight ~ Time * Diet"
ov_f <- "follicles ~ sin(2 * pi * Time) + cos(2 * pi * Time)"
cases <- list(
  gls_case("ovary_pow_REML", "ovary", "SP(POW)", ov_f, ov, corCAR1(0.5, form = ~ Time | Mare),
           "Time", "Mare", resid = TRUE),
  gls_case("ovary_pow_ML", "ovary", "SP(POW)", ov_f, ov, corCAR1(0.5, form = ~ Time | Mare),
           "Time", "Mare", reml = FALSE),
  gls_case("ovary_exp_REML", "ovary", "SP(EXP)", ov_f, ov, corExp(0.05, form = ~ Time | Mare),
           "Time", "Mare"),
  gls_case("ovary_gau_REML", "ovary", "SP(GAU)", ov_f, ov, corGaus(0.05, form = ~ Time | Mare),
           "Time", "Mare"),
  gls_case("ovary_sph_REML", "ovary", "SP(SPH)", ov_f, ov, corSpher(0.2, form = ~ Time | Mare),
           "Time", "Mare"),
  gls_case("ovary_exp_local_REML", "ovary", "SP(EXP)", ov_f, ov,
           corExp(c(0.1, 0.1), form = ~ Time | Mare, nugget = TRUE), "Time", "Mare",
           local = TRUE),
  gls_case("ovary_gau_local_ML", "ovary", "SP(GAU)", ov_f, ov,
           corGaus(c(0.1, 0.1), form = ~ Time | Mare, nugget = TRUE), "Time", "Mare",
           reml = FALSE, local = TRUE),
  lme_case("bw_exp_random_REML", "bodyweight", "SP(EXP)", bw_f, bw, ~ 1 | Rat,
           corExp(10, form = ~ Time | Rat), "Time", "Rat"),
  gls_case("wheat_sph_local_REML", "wheat2", "SP(SPH)", "yield ~ variety - 1", wheat,
           corSpher(c(28, 0.2), form = ~ latitude + longitude, nugget = TRUE),
           c("latitude", "longitude"), NULL, local = TRUE),
  gls_case("wheat_exp_block_REML", "wheat2", "SP(EXP)", "yield ~ variety - 1", wheat,
           corExp(5, form = ~ latitude + longitude | Block), c("latitude", "longitude"), "Block"),
  gls_case("wheat_gau_block_REML", "wheat2", "SP(GAU)", "yield ~ variety - 1", wheat,
           corGaus(5, form = ~ latitude + longitude | Block), c("latitude", "longitude"), "Block"),
  # residuals of R-side structures (point 7 of issue 20): UN (corSymm + varIdent) and AR1
  gls_case("orth_UN_REML", "orthodont_missing", "UN", "distance ~ age * Sex", orth,
           corSymm(form = ~ visit | Subject), NULL, "Subject",
           weights = varIdent(form = ~ 1 | age), resid = TRUE),
  gls_case("orth_AR1_REML", "orthodont_missing", "AR1", "distance ~ age * Sex", orth,
           corAR1(form = ~ visit | Subject), NULL, "Subject", resid = TRUE)
)

out <- list(
  source = paste("nlme", packageVersion("nlme"), "gls/lme; R", getRversion()),
  data = list(ovary = ov, bodyweight = bw, wheat2 = wheat, orthodont_missing = orth),
  cases = cases)
writeLines(toJSON(out, digits = NA, auto_unbox = TRUE, null = "null"),
           "tests/reference/mixed_spatial.json")
