# Reference values for metamodels.glmm (MetaGLMM) from metafor's rma.glmm.
# metafor 3.8.1, lme4 1.1-31, BiasedUrn 2.0.9 (Debian r-cran-biasedurn); R 4.2.2.
# Run from the repository root:  Rscript tests/reference/scripts/meta_glmm.R
# Converged tightly: glmer with bobyqa (rhoend 1e-12) and tolPwrss 1e-12; CM.EL with
# nlminb (its default tolerances: tighter ones stop it), integrate(rel.tol = 1e-12), dFNCHypergeo precision 1e-12.
# glm (equal-effects and saturated fits) keeps its defaults (as metafor).
suppressMessages(library(metafor))
library(jsonlite)

ctrl <- list(glmerCtrl = list(optimizer = "bobyqa", optCtrl = list(rhoend = 1e-12, maxfun = 1e5),
                              tolPwrss = 1e-12),
             optCtrl = list(eval.max = 1e4, iter.max = 1e4),
             intCtrl = list(rel.tol = 1e-12, subdivisions = 1000L), dnchgprec = 1e-12)

out <- list()
datasets <- list()

run <- function(name, dat, dname, args) {
  args$data <- dat
  args$control <- ctrl
  res <- try(suppressWarnings(do.call(rma.glmm, args)), silent = TRUE)
  fallback <- inherits(res, "try-error")
  if (fallback) {              # glmer cannot meet tolPwrss 1e-12 (large counts): lme4 default tolPwrss
    args$control$glmerCtrl <- list(optimizer = "bobyqa", optCtrl = list(rhoend = 1e-10, maxfun = 1e5))
    res <- try(suppressWarnings(do.call(rma.glmm, args)), silent = TRUE)
    if (inherits(res, "try-error")) { cat(name, "FAILED\n"); return(invisible()) }
  }
  fs <- fitstats(res)
  args$data <- NULL; args$control <- NULL
  mods <- args$mods; args$mods <- NULL
  out[[name]] <<- list(
    dataset = dname, args = args, glmer_fallback = fallback, mods = if (is.null(mods)) NULL else deparse(mods),
    coef_names = rownames(res$beta),
    b = c(res$beta), se = res$se, zval = res$zval, pval = res$pval, ci_lb = res$ci.lb,
    ci_ub = res$ci.ub, tau2 = res$tau2, se_tau2 = res$se.tau2, sigma2 = res$sigma2,
    QE_Wld = res$QE.Wld, QEp_Wld = res$QEp.Wld, QE_LRT = res$QE.LRT, QEp_LRT = res$QEp.LRT,
    QE_df = res$QE.df, rho = res$rho, I2 = res$I2, H2 = res$H2, QM = res$QM, QMp = res$QMp, k = res$k,
    ll = fs[1, 1], dev = fs[2, 1], AIC = fs[3, 1], BIC = fs[4, 1], AICc = fs[5, 1])
  cat(name, "\n")
}

d07 <- dat.nielweise2007
d08 <- dat.nielweise2008; d08$t1i <- d08$t1i / 1000; d08$t2i <- d08$t2i / 1000
r151 <- data.frame(ai = c(8, 22), bi = c(98, 76), ci = c(5, 16), di = c(115, 69))
r152 <- data.frame(x1i = c(32, 104, 206, 186, 102), t1i = c(52407, 43248, 28612, 12663, 5317) / 10000,
                   x2i = c(2, 12, 28, 28, 31), t2i = c(18790, 10673, 5710, 2585, 1462) / 10000)
r155 <- data.frame(ai = c(3, 1), bi = c(9, 3), ci = c(104, 5), di = c(1059, 86))
col <- dat.collins1985a[!is.na(dat.collins1985a$b.xci) & !is.na(dat.collins1985a$b.xti),
                        c("b.xci", "nci", "b.xti", "nti")]
names(col) <- c("bxci", "nci", "bxti", "nti")
bcg <- dat.bcg[, c("tpos", "tneg", "cpos", "cneg", "ablat", "year")]
datasets <- list(nielweise2007 = d07[, c("ai", "n1i", "ci", "n2i")],
                 nielweise2008 = d08[, c("x1i", "t1i", "x2i", "t2i")],
                 rothman151 = r151, rothman152 = r152, rothman155 = r155, collins1985a = col,
                 bcg = bcg)

OR07 <- list(measure = "OR", ai = d07$ai, n1i = d07$n1i, ci = d07$ci, n2i = d07$n2i)
run("plo_ci_ml", d07, "nielweise2007", list(measure = "PLO", xi = quote(ci), ni = quote(n2i)))
run("plo_ai_ml", d07, "nielweise2007", list(measure = "PLO", xi = quote(ai), ni = quote(n1i)))
run("plo_ci_ee", d07, "nielweise2007", list(measure = "PLO", xi = quote(ci), ni = quote(n2i), method = "EE"))
for (m in c("UM.FS", "CM.AL", "CM.EL")) for (meth in c("ML", "EE")) {
  run(paste0("or07_", m, "_", meth), d07, "nielweise2007",
      list(measure = "OR", ai = quote(ai), n1i = quote(n1i), ci = quote(ci), n2i = quote(n2i), model = m, method = meth))
}
run("irln_x2_ml", d08, "nielweise2008", list(measure = "IRLN", xi = quote(x2i), ti = quote(t2i)))
run("irln_x1_ml", d08, "nielweise2008", list(measure = "IRLN", xi = quote(x1i), ti = quote(t1i)))
for (m in c("UM.FS", "UM.RS", "CM.EL")) for (meth in c("ML", "EE")) {
  run(paste0("irr08_", m, "_", meth), d08, "nielweise2008",
      list(measure = "IRR", x1i = quote(x1i), t1i = quote(t1i), x2i = quote(x2i), t2i = quote(t2i), model = m, method = meth))
}
run("rothman151_UM.FS_EE", r151, "rothman151", list(measure = "OR", ai = quote(ai), bi = quote(bi), ci = quote(ci), di = quote(di), model = "UM.FS", method = "EE"))
run("rothman151_CM.EL_EE", r151, "rothman151", list(measure = "OR", ai = quote(ai), bi = quote(bi), ci = quote(ci), di = quote(di), model = "CM.EL", method = "EE"))
run("rothman152_UM.FS_EE", r152, "rothman152", list(measure = "IRR", x1i = quote(x1i), t1i = quote(t1i), x2i = quote(x2i), t2i = quote(t2i), model = "UM.FS", method = "EE"))
run("rothman152_CM.EL_EE", r152, "rothman152", list(measure = "IRR", x1i = quote(x1i), t1i = quote(t1i), x2i = quote(x2i), t2i = quote(t2i), model = "CM.EL", method = "EE"))
run("rothman155_UM.FS_EE", r155, "rothman155", list(measure = "OR", ai = quote(ai), bi = quote(bi), ci = quote(ci), di = quote(di), model = "UM.FS", method = "EE"))
run("rothman155_CM.EL_EE", r155, "rothman155", list(measure = "OR", ai = quote(ai), bi = quote(bi), ci = quote(ci), di = quote(di), model = "CM.EL", method = "EE"))
run("collins_CM.EL_EE", col, "collins1985a", list(measure = "OR", ai = quote(bxci), n1i = quote(nci), ci = quote(bxti), n2i = quote(nti), model = "CM.EL", method = "EE"))
run("collins_CM.EL_ML", col, "collins1985a", list(measure = "OR", ai = quote(bxci), n1i = quote(nci), ci = quote(bxti), n2i = quote(nti), model = "CM.EL", method = "ML"))
for (m in c("UM.FS", "UM.RS", "CM.AL", "CM.EL")) for (meth in c("ML", "EE")) {
  run(paste0("bcg_", m, "_", meth), bcg, "bcg",
      list(measure = "OR", ai = quote(tpos), bi = quote(tneg), ci = quote(cpos), di = quote(cneg), model = m, method = meth))
}
for (m in c("UM.FS", "UM.RS", "CM.AL", "CM.EL")) {
  run(paste0("bcg_ablat_", m, "_ML"), bcg, "bcg",
      list(measure = "OR", ai = quote(tpos), bi = quote(tneg), ci = quote(cpos), di = quote(cneg), model = m, method = "ML", mods = ~ ablat))
}
run("plo_ci_ml_t", d07, "nielweise2007", list(measure = "PLO", xi = quote(ci), ni = quote(n2i), test = "t"))
run("bcg_ablat_CM.AL_ML_t", bcg, "bcg",
    list(measure = "OR", ai = quote(tpos), bi = quote(tneg), ci = quote(cpos), di = quote(cneg), model = "CM.AL",
         method = "ML", mods = ~ ablat, test = "t"))
run("irr08_UM.FS_ML_coding1", d08, "nielweise2008", list(measure = "IRR", x1i = quote(x1i), t1i = quote(t1i),
    x2i = quote(x2i), t2i = quote(t2i), model = "UM.FS", coding = 1))
run("irr08_UM.RS_ML_coding0", d08, "nielweise2008", list(measure = "IRR", x1i = quote(x1i), t1i = quote(t1i),
    x2i = quote(x2i), t2i = quote(t2i), model = "UM.RS", coding = 0))
run("irr08_UM.RS_ML_cor", d08, "nielweise2008", list(measure = "IRR", x1i = quote(x1i), t1i = quote(t1i),
    x2i = quote(x2i), t2i = quote(t2i), model = "UM.RS", cor = TRUE))
run("bcg_plo_mods_ML", bcg, "bcg", list(measure = "PLO", xi = quote(tpos), mi = quote(tneg), mods = ~ ablat + year))

fix <- function(x) { x$args <- lapply(x$args, function(a) if (is.name(a)) as.character(a) else a); x }
out <- lapply(out, fix)
writeLines(toJSON(list(cases = out, datasets = datasets), digits = NA, auto_unbox = TRUE, na = "null",
                  pretty = FALSE), "tests/reference/meta_glmm.json")
