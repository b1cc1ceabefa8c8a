# Raw, Pearson, standardised (rstandard) and studentised (rstudent) residuals of metafor
# fits, for metamodels' MetaFixed / MetaRandom / MetaMixed residuals.
# Run from the repository root: Rscript tests/reference/scripts/meta_resid.R
suppressMessages({library(metafor); library(jsonlite)})
ctrl <- list(tol = 1e-12, maxiter = 1000, threshold = 1e-12)
bcg <- read.csv("metamodels/datasets/bcg/bcg.csv")
dat <- escalc(measure = "RR", ai = tpos, bi = tneg, ci = cpos, di = cneg, data = bcg)
dat$yi <- as.numeric(dat$yi); dat$vi <- as.numeric(dat$vi)

uni <- function(name, formula, method, test = "z") {
  f <- rma(yi, vi, mods = as.formula(formula), data = dat, method = method, test = test,
           control = ctrl)
  rs <- rstandard(f); rt <- rstudent(f)
  list(name = name, formula = paste("yi", formula), method = method, test = test,
       tau2 = f$tau2, resid = as.numeric(residuals(f)),
       pearson = as.numeric(residuals(f, type = "pearson")),
       rstandard = list(resid = as.numeric(rs$resid), se = as.numeric(rs$se), z = as.numeric(rs$z)),
       rstudent = list(resid = as.numeric(rt$resid), se = as.numeric(rt$se), z = as.numeric(rt$z)))
}
cases <- list(
  uni("reml_ablat", "~ ablat", "REML"),
  uni("dl_intercept", "~ 1", "DL"),
  uni("fe_ablat", "~ ablat", "FE"),
  uni("reml_knha", "~ ablat + alloc", "REML", "knha"),
  uni("ml_year", "~ year", "ML"))

k11 <- read.csv("metamodels/datasets/konstantopoulos2011/konstantopoulos2011.csv")
mv <- rma.mv(yi, vi, mods = ~ I(year - 1990), random = ~ 1 | district/school, data = k11,
             control = list(optimizer = "optim", optmethod = "BFGS", reltol = 1e-14, maxit = 10000))
rs <- rstandard(mv)
rt <- rstudent(mv)
multilevel <- list(formula = "yi ~ I(year - 1990) + (1 | district/school)", method = "REML",
                   sigma2 = mv$sigma2, resid = as.numeric(residuals(mv)),
                   pearson = as.numeric(residuals(mv, type = "pearson")),
                   rstandard = list(resid = as.numeric(rs$resid), se = as.numeric(rs$se),
                                    z = as.numeric(rs$z)),
                   rstudent = list(resid = as.numeric(rt$resid), se = as.numeric(rt$se),
                                   z = as.numeric(rt$z)))
out <- list(source = "metafor", version = as.character(packageVersion("metafor")),
            data = list(yi = dat$yi, vi = dat$vi, ablat = dat$ablat, alloc = dat$alloc,
                        year = dat$year),
            univariate = cases, multilevel = multilevel)
write_json(out, "tests/reference/meta_resid.json", digits = NA, auto_unbox = TRUE, pretty = TRUE)
