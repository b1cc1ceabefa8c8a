# Reference values for rcalc (variance-covariance of correlations within studies) and
# matreg (regression from a correlation or covariance matrix), metafor 3.8.
# Run: Rscript tests/reference/scripts/masem.R  (writes tests/reference/masem.json)
suppressMessages({library(metafor); library(jsonlite)})
dat <- dat.craft2003
tmp <- rcalc(ri ~ var1 + var2 | study, ni = ni, data = dat)
tz <- rcalc(ri ~ var1 + var2 | study, ni = ni, data = dat, rtoz = TRUE)
res <- rma.mv(yi, tmp$V, mods = ~ var1.var2 - 1, random = ~ var1.var2 | study, struct = "UN",
              data = tmp$dat, control = list(rel.tol = 1e-12, iter.max = 5000))
r <- as.numeric(coef(res))
R <- vec2mat(r)
S <- R * outer(c(2, 3, 1, 4), c(2, 3, 1, 4))
grab <- function(m) list(beta = as.numeric(m$tab$beta), se = as.numeric(m$tab$se),
                         stat = as.numeric(if (is.null(m$tab$tval)) m$tab$zval else m$tab$tval),
                         pval = as.numeric(m$tab$pval), ci_lower = as.numeric(m$tab$ci.lb),
                         ci_upper = as.numeric(m$tab$ci.ub),
                         vb = if (is.null(m$vb)) NULL else unname(m$vb),
                         R2 = m$R2, QM = m$QM, QMdf = m$QMdf, QMp = m$QMp)
out <- list(source = paste("metafor", packageVersion("metafor")),
            data = dat[, c("study", "ni", "ri", "var1", "var2")],
            rcalc = list(labels = tmp$dat$var1.var2, study = tmp$dat$study, yi = tmp$dat$yi,
                         V = unname(as.matrix(tmp$V)), yi_z = tz$dat$yi, V_z = unname(as.matrix(tz$V))),
            rma_mv = list(coef = r, vcov = unname(vcov(res)), labels = names(coef(res))),
            R = unname(R), S = unname(S),
            matreg_V = grab(matreg(1, 2:4, R = R, V = vcov(res))),
            matreg_n = grab(matreg(1, 2:4, R = R, n = 300)),
            matreg_cov_means = grab(matreg(1, 2:4, R = S, cov = TRUE, means = c(10, 1, 2, 3), n = 300)),
            matreg_cov = grab(matreg(1, 2:4, R = S, cov = TRUE, n = 300)),
            matreg_2 = grab(matreg(4, c(1, 3), R = R, V = vcov(res))))
writeLines(toJSON(out, auto_unbox = TRUE, digits = NA, pretty = FALSE, na = "null"), "tests/reference/masem.json")
