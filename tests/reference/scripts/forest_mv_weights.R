# Weights (weights.rma.mv, type = "diagonal") and pooled estimates of rma.mv fits drawn by
# the MetaMixed / BivariateMeta forest plots.
# Run from the repository root: Rscript tests/reference/scripts/forest_mv_weights.R
suppressMessages({library(metafor); library(jsonlite)})
ctrl <- list(rel.tol = 1e-12, iter.max = 1000)
dat <- dat.berkey1998
V <- bldiag(lapply(split(dat[, c("v1i", "v2i")], dat$trial), as.matrix))
r1 <- rma.mv(yi, V, mods = ~ outcome - 1, random = ~ outcome | trial, struct = "UN",
             data = dat, control = ctrl)
k11 <- dat.konstantopoulos2011
r2 <- rma.mv(yi, vi, random = ~ 1 | district/school, data = k11, control = ctrl)
case <- function(r) list(weights = as.numeric(weights(r)), beta = as.numeric(r$beta),
                         ci_lb = as.numeric(r$ci.lb), ci_ub = as.numeric(r$ci.ub),
                         pi_lb = as.numeric(predict(r)$pi.lb), pi_ub = as.numeric(predict(r)$pi.ub))
out <- list(berkey = case(r1), konstantopoulos = case(r2),
            metafor = as.character(packageVersion("metafor")))
writeLines(toJSON(out, digits = NA, auto_unbox = TRUE), "tests/reference/forest_mv_weights.json")
