# Reference values for BLUPs / random effects, t tests with residual and containment df,
# profile-likelihood CIs of variance components and predictions (with prediction intervals,
# tau2.levels and transf) of rma / rma.mv, metafor 3.8, tightly converged.
# Run from the repository root: Rscript tests/reference/scripts/metamixed_inference.R
suppressMessages({library(metafor); library(jsonlite)})
options(warn = 1)
uni_ctrl <- list(threshold = 1e-12, maxiter = 10000)
mv_ctrl <- list(rel.tol = 1e-12, iter.max = 1000, eval.max = 2000)
ci_ctrl <- list(tol = 1e-12)            # uniroot tolerance of confint (default eps^0.25)
# nlminb with rel.tol 1e-12 stops with "false convergence" on some fits (and on the refits
# of confint's profile): those use rel.tol 1e-10
mv_ctrl_ci <- list(rel.tol = 1e-10, iter.max = 1000)
rma_mv <- function(...) {
  cl <- match.call()
  cl[[1]] <- quote(rma.mv)
  cl$control <- mv_ctrl
  f <- try(eval(cl, parent.frame()), silent = TRUE)
  if (inherits(f, "try-error")) {
    cl$control <- mv_ctrl_ci
    f <- eval(cl, parent.frame())
  }
  f
}

frame <- function(d) {                   # data frame -> list of columns (+ row names)
  out <- lapply(as.list(d), function(v) as.numeric(v))
  out$rownames <- rownames(d)
  out
}
pred_frame <- function(p) {
  d <- data.frame(pred = p$pred, se = p$se, ci.lb = p$ci.lb, ci.ub = p$ci.ub,
                  pi.lb = p$pi.lb, pi.ub = p$pi.ub)
  if (!is.null(p$ddf)) d$ddf <- p$ddf
  frame(d)
}
fit_summary <- function(f) {
  list(coef = as.numeric(coef(f)), names = names(coef(f)), se = as.numeric(f$se),
       zval = as.numeric(f$zval), pval = as.numeric(f$pval), ci.lb = as.numeric(f$ci.lb),
       ci.ub = as.numeric(f$ci.ub), ddf = if (is.null(f$ddf)) NULL else as.numeric(f$ddf),
       QM = f$QM, QMdf = as.numeric(f$QMdf), QMp = f$QMp,
       sigma2 = if (isTRUE(f$withS)) f$sigma2 else NULL,
       tau2 = if (isTRUE(f$withG) || inherits(f, "rma.uni")) f$tau2 else NULL,
       rho = if (isTRUE(f$withG)) f$rho else NULL, logLik = as.numeric(logLik(f)))
}
vc_ci <- function(f, ...) {
  ci <- confint(f, control = ci_ctrl, ...)
  as.numeric(ci$random[1, ])            # estimate, ci.lb, ci.ub
}

# ------------------------------------------------------------- raudenbush1985
raud <- dat.raudenbush1985
raud$weeks.c <- ifelse(raud$weeks > 3, 3, raud$weeks)
uni <- list()
for (m in c("REML", "ML", "DL")) for (tst in c("z", "knha")) {
  f0 <- rma(yi, vi, data = raud, method = m, test = tst, control = uni_ctrl)
  f1 <- rma(yi, vi, mods = ~ weeks.c, data = raud, method = m, test = tst, control = uni_ctrl)
  uni[[length(uni) + 1]] <- list(
    name = paste0("raud_", m, "_", tst), method = m, test = tst,
    int = list(fit = fit_summary(f0), blup = frame(blup(f0)), ranef = frame(ranef(f0)),
               predict = pred_frame(predict(f0)),
               predict_exp = pred_frame(predict(f0, transf = exp))),
    mods = list(fit = fit_summary(f1), blup = frame(blup(f1)), ranef = frame(ranef(f1)),
                predict = pred_frame(predict(f1, newmods = 0:3)),
                predict_exp = pred_frame(predict(f1, newmods = 0:3, transf = exp)),
                fitted = pred_frame(predict(f1))))
}
f <- rma(yi, vi, data = raud, method = "REML", control = uni_ctrl)
uni_ci <- list(REML = as.numeric(confint(f, type = "PL", control = list(tol = 1e-12))$random[1, ]))

# ------------------------------------------------------------- konstantopoulos2011
konst <- dat.konstantopoulos2011
konst$year.c <- konst$year - 1990
mv <- list()
for (cfg in list(list(test = "z", dfs = "residual"), list(test = "t", dfs = "residual"),
                 list(test = "t", dfs = "contain"))) {
  tag <- paste0(cfg$test, "_", cfg$dfs)
  f0 <- rma_mv(yi, vi, random = ~ 1 | district/school, data = konst, test = cfg$test,
               dfs = cfg$dfs)
  f1 <- rma_mv(yi, vi, mods = ~ year.c, random = ~ 1 | district/school, data = konst,
               test = cfg$test, dfs = cfg$dfs)
  re0 <- ranef(f0)
  # study-level BLUPs y - S P y and Var = S - S P S (no metafor function: computed here)
  blup_mv <- function(f) {
    W <- solve(f$M); X <- model.matrix(f); S <- f$V
    P <- W - W %*% X %*% solve(t(X) %*% W %*% X) %*% t(X) %*% W
    pred <- c(f$yi - S %*% P %*% f$yi)
    se <- sqrt(diag(S - S %*% P %*% S))
    list(pred = pred, se = se,
         fitted_plus_ranef = c(fitted(f)) + re0_expand(f))
  }
  re0_expand <- function(f) {
    re <- ranef(f)
    a <- re[["district"]][as.character(konst$district), "intrcpt"]
    b <- re[["district/school"]][paste(konst$district, konst$school, sep = "/"), "intrcpt"]
    a + b
  }
  mv[[length(mv) + 1]] <- list(
    name = paste0("konst_", tag), test = cfg$test, dfs = cfg$dfs,
    int = list(fit = fit_summary(f0), ranef = lapply(re0, frame),
               predict = pred_frame(predict(f0)), fitted = pred_frame(predict(f0, newmods = NULL)),
               blup = blup_mv(f0)),
    mods = list(fit = fit_summary(f1), ranef = lapply(ranef(f1), frame),
                predict = pred_frame(predict(f1, newmods = c(-10, 0, 10))),
                predict_exp = pred_frame(predict(f1, newmods = c(-10, 0, 10), transf = exp)),
                blup = blup_mv(f1)))
}
f0 <- rma.mv(yi, vi, random = ~ 1 | district/school, data = konst, control = mv_ctrl_ci)
f0ml <- rma.mv(yi, vi, random = ~ 1 | district/school, data = konst, method = "ML",
               control = mv_ctrl_ci)
konst_ci <- list(REML = list(sigma2_1 = vc_ci(f0, sigma2 = 1), sigma2_2 = vc_ci(f0, sigma2 = 2)),
                 ML = list(sigma2_1 = vc_ci(f0ml, sigma2 = 1), sigma2_2 = vc_ci(f0ml, sigma2 = 2)),
                 level90 = list(sigma2_1 = as.numeric(confint(f0, sigma2 = 1, level = 90,
                                                               control = ci_ctrl)$random[1, ])))

# ------------------------------------------------------------- berkey1998
berkey <- dat.berkey1998
V <- bldiag(lapply(split(berkey[, c("v1i", "v2i")], berkey$trial), as.matrix))
bk <- list()
for (cfg in list(list(test = "z", dfs = "residual"), list(test = "t", dfs = "contain"))) {
  f <- rma_mv(yi, V, mods = ~ outcome - 1, random = ~ outcome | trial, struct = "UN",
              data = berkey, test = cfg$test, dfs = cfg$dfs)
  f2 <- rma_mv(yi, V, mods = ~ outcome + outcome:I(year - 1983) - 1, random = ~ outcome | trial,
               struct = "UN", data = berkey, test = cfg$test, dfs = cfg$dfs)
  re <- ranef(f)[[1]]
  nm <- rbind(c(1, 0, 2, 0), c(0, 1, 0, 2), c(1, 0, -3, 0))
  bk[[length(bk) + 1]] <- list(
    name = paste0("berkey_", cfg$test, "_", cfg$dfs), test = cfg$test, dfs = cfg$dfs,
    int = list(fit = fit_summary(f), ranef = frame(re), fitted = pred_frame(predict(f)),
               predict_levels = pred_frame(predict(f, newmods = rbind(c(1, 0), c(0, 1)),
                                                   tau2.levels = c("AL", "PD"))),
               predict_levels_num = pred_frame(predict(f, newmods = rbind(c(1, 0), c(0, 1)),
                                                       tau2.levels = c(2, 1)))),
    mods = list(fit = fit_summary(f2),
                predict = pred_frame(predict(f2, newmods = nm, tau2.levels = c("AL", "PD", "AL"))),
                predict_exp = pred_frame(predict(f2, newmods = nm, tau2.levels = c("AL", "PD", "AL"),
                                                 transf = exp))))
}
f <- rma.mv(yi, V, mods = ~ outcome - 1, random = ~ outcome | trial, struct = "UN",
            data = berkey, control = mv_ctrl_ci)
berkey_ci <- list(tau2_1 = vc_ci(f, tau2 = 1), tau2_2 = vc_ci(f, tau2 = 2),
                  rho = vc_ci(f, rho = 1), tau2_levels = f$g.levels.f[[1]])

# boundary fit (rho = -1): Kalaian and Raudenbush (1996), ML, within-study correlation 0.66
kal <- dat.kalaian1996
Vk <- vcalc(vi, cluster = study, type = outcome, rho = 0.66, data = kal)
fk <- rma.mv(yi, Vk, mods = ~ outcome - 1, random = ~ outcome | study, struct = "UN", data = kal,
             method = "ML", control = mv_ctrl_ci)
kalaian_ci <- list(tau2_1 = vc_ci(fk, tau2 = 1), tau2_2 = vc_ci(fk, tau2 = 2), rho = vc_ci(fk, rho = 1),
                   logLik = as.numeric(logLik(fk)), tau2_levels = fk$g.levels.f[[1]])

out <- list(source = paste("metadat::dat.raudenbush1985, dat.konstantopoulos2011, dat.berkey1998;",
                           "metafor rma (threshold 1e-12), rma.mv (rel.tol 1e-12), confint tol 1e-12"),
            versions = list(R = R.version.string, metafor = as.character(packageVersion("metafor"))),
            data = list(raudenbush1985 = raud[, c("study", "weeks", "weeks.c", "yi", "vi")],
                        konstantopoulos2011 = konst, berkey1998 = berkey),
            univariate = uni, univariate_ci = uni_ci, konstantopoulos = mv,
            konstantopoulos_ci = konst_ci, berkey = bk, berkey_ci = berkey_ci,
            kalaian_ci = kalaian_ci)
writeLines(toJSON(out, auto_unbox = TRUE, digits = NA, null = "null", na = "null"),
           "tests/reference/metamixed_inference.json")
cat("done\n")
