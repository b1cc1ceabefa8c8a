# Mantel-Haenszel (rma.mh) and Peto (rma.peto) references from metafor, on data with
# zero cells, double-zero tables and missing tables.
#
# Run from the repository root:
#   Rscript tests/reference/scripts/mh_peto.R
# Writes tests/reference/mh_peto.json (jsonlite, digits = NA, NA -> null).

suppressMessages({
  library(metafor)
  library(jsonlite)
})

bcg <- with(dat.bcg, data.frame(trial = trial, ai = tpos, bi = tneg, ci = cpos, di = cneg))
niel <- with(dat.nielweise2007, data.frame(study = study, ai = ai, bi = n1i - ai, ci = ci,
                                           di = n2i - ci))
yus <- subset(dat.yusuf1985, table == "6")
yusuf6 <- with(yus, data.frame(id = id, ai = ai, bi = n1i - ai, ci = ci, di = n2i - ci))
toy2x2 <- data.frame(study = 1:6,
                     ai = c(0, 5, 3, 0, 4, 2), bi = c(10, 5, 7, 10, 0, 8),
                     ci = c(2, 0, 4, 0, 6, 3), di = c(8, 10, 6, 10, 0, 9))
hart <- dat.hart1999[, c("trial", "x1i", "t1i", "x2i", "t2i")]
toyir <- data.frame(study = 1:5, x1i = c(0, 3, 5, 0, 8), t1i = c(100, 120, 90, 50, 200),
                    x2i = c(2, 0, 7, 0, 12), t2i = c(110, 100, 95, 60, 190))
datasets <- list(bcg = bcg, nielweise2007 = niel, yusuf1985_6 = yusuf6, toy2x2 = toy2x2,
                 hart1999 = hart, toyir = toyir)

num <- function(x) if (is.null(x)) NA else as.numeric(x)
cases <- list()
run <- function(fun, dataset, args) {
  dat <- datasets[[dataset]]
  cols <- if ("x1i" %in% names(dat)) c("x1i", "t1i", "x2i", "t2i") else c("ai", "bi", "ci", "di")
  call_args <- c(as.list(dat[cols]), args)
  r <- suppressWarnings(do.call(if (fun == "mh") rma.mh else rma.peto, call_args))
  cases[[length(cases) + 1]] <<- list(
    fun = fun, dataset = dataset, args = args,
    beta = num(r$beta), se = num(r$se), zval = num(r$zval), pval = num(r$pval),
    ci_lb = num(r$ci.lb), ci_ub = num(r$ci.ub), QE = num(r$QE), QEp = num(r$QEp),
    I2 = num(r$I2), H2 = num(r$H2), CO = num(r$CO), COp = num(r$COp), MH = num(r$MH),
    MHp = num(r$MHp), TA = num(r$TA), TAp = num(r$TAp), k = r$k, k_yi = r$k.yi,
    yi = num(r$yi.f), vi = num(r$vi.f), weights = num(weights(r)))
}
for (ds in c("bcg", "nielweise2007", "yusuf1985_6", "toy2x2")) {
  for (m in c("OR", "RR", "RD")) {
    run("mh", ds, list(measure = m))
    run("mh", ds, list(measure = m, correct = FALSE))
  }
  run("mh", ds, list(measure = "OR", drop00 = c(TRUE, TRUE)))
  run("mh", ds, list(measure = "OR", add = c(0.5, 0.5), to = c("only0", "only0")))
  run("mh", ds, list(measure = "RR", add = c(0.5, 0.5), to = c("all", "all"), drop00 = c(FALSE, FALSE)))
  run("mh", ds, list(measure = "RD", add = c(0, 0), to = c("none", "none")))
  run("peto", ds, list())
  run("peto", ds, list(add = c(0.5, 0.5), to = c("if0all", "if0all")))
  run("peto", ds, list(drop00 = c(TRUE, TRUE)))
}
for (ds in c("hart1999", "toyir")) {
  for (m in c("IRR", "IRD")) {
    run("mh", ds, list(measure = m))
    run("mh", ds, list(measure = m, correct = FALSE))
    run("mh", ds, list(measure = m, drop00 = c(TRUE, TRUE)))
    run("mh", ds, list(measure = m, add = c(0.5, 0.5), to = c("only0", "only0")))
  }
}
out <- list(datasets = datasets, cases = cases,
            metafor = as.character(packageVersion("metafor")))
writeLines(toJSON(out, digits = NA, auto_unbox = TRUE, na = "null", dataframe = "columns"),
           "tests/reference/mh_peto.json")
