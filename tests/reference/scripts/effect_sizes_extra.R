# Reference values for metamodels.effectsize that are not in effect_sizes.json:
# COR, PLO, PR, RR/OR/RD with zero cells (add/to/drop00 rules) and the
# non-default vtype options.  All numbers come from metafor::escalc.
#
# Run from the repository root:
#   Rscript tests/reference/scripts/effect_sizes_extra.R
# Writes tests/reference/effect_sizes_extra.json (jsonlite, digits = NA, NA -> null).

suppressMessages({
  library(metafor)
  library(jsonlite)
})

normand1999 <- dat.normand1999[, c("study", "source", "n1i", "m1i", "sd1i", "n2i", "m2i", "sd2i")]
molloy2014 <- dat.molloy2014[, c("authors", "year", "ni", "ri")]
pritz1997 <- dat.pritz1997[, c("study", "authors", "xi", "ni")]
nielweise2007 <- dat.nielweise2007[, c("study", "author", "year", "ai", "n1i", "ci", "n2i")]
bcg <- dat.bcg[, c("trial", "author", "year", "tpos", "tneg", "cpos", "cneg", "ablat", "alloc")]
# a small synthetic 2x2 set: one zero cell, zero cells in both groups (ai = ci = 0,
# and bi = di = 0), and an ordinary table
toy2x2 <- data.frame(study = 1:5,
                     ai = c(0, 5, 3, 0, 4), bi = c(10, 5, 7, 10, 0),
                     ci = c(2, 0, 4, 0, 6), di = c(8, 10, 6, 10, 0))
# single-group proportions with xi = 0, xi = ni and ordinary values
toyprop <- data.frame(study = 1:5, xi = c(0, 3, 10, 7, 1), ni = c(10, 10, 10, 25, 4))
# ratio of means with both means negative and with means of opposite signs (undefined)
toyrom <- data.frame(study = 1:4, m1i = c(-2, 2, 3, 4), m2i = c(-3, 1, 2, -1),
                     sd1i = c(1, 1, 1, 2), sd2i = c(1, 2, 1, 1),
                     n1i = c(10, 12, 14, 20), n2i = c(10, 11, 12, 20))
# correlations with r = +-1 and ni <= 3 (vi undefined)
toycor <- data.frame(study = 1:6, ri = c(0.5, 1, -1, 0.2, 0.2, -0.3), ni = c(10, 20, 30, 3, 4, 50))

datasets <- list(normand1999 = normand1999, molloy2014 = molloy2014,
                 pritz1997 = pritz1997, nielweise2007 = nielweise2007,
                 bcg = bcg, toy2x2 = toy2x2, toyprop = toyprop, toyrom = toyrom,
                 toycor = toycor)

cases <- list()
add_case <- function(measure, dataset, args, es) {
  cases[[length(cases) + 1]] <<- list(measure = measure, dataset = dataset, args = args,
                                      yi = as.numeric(es$yi), vi = as.numeric(es$vi))
}

run <- function(measure, dataset, columns, args = list()) {
  dat <- datasets[[dataset]]
  call_args <- c(list(measure = measure, data = dat), lapply(columns, as.name), args)
  es <- suppressWarnings(do.call(escalc, call_args))
  add_case(measure, dataset, c(list(columns = columns), args), es)
}

mean_cols <- list(m1i = "m1i", sd1i = "sd1i", n1i = "n1i", m2i = "m2i", sd2i = "sd2i", n2i = "n2i")
tab_cols <- list(ai = "ai", bi = "bi", ci = "ci", di = "di")
tab_n_cols <- list(ai = "ai", n1i = "n1i", ci = "ci", n2i = "n2i")
bcg_cols <- list(ai = "tpos", bi = "tneg", ci = "cpos", di = "cneg")

# --- non-default variance types for continuous outcomes
run("MD", "normand1999", mean_cols, list(vtype = "HO"))
for (v in c("UB", "LS2", "AV")) run("SMD", "normand1999", mean_cols, list(vtype = v))
for (v in c("HO", "AV", "AVHO")) run("ROM", "normand1999", mean_cols, list(vtype = v))

for (v in c("LS", "AV", "AVHO")) run("ROM", "toyrom", mean_cols, list(vtype = v))

# --- correlations
run("ZCOR", "toycor", list(ri = "ri", ni = "ni"))
run("COR", "toycor", list(ri = "ri", ni = "ni"))
run("COR", "molloy2014", list(ri = "ri", ni = "ni"))
run("COR", "molloy2014", list(ri = "ri", ni = "ni"), list(vtype = "AV"))

# --- proportions (pritz1997 has xi = ni in two studies)
for (m in c("PLO", "PR")) {
  run(m, "pritz1997", list(xi = "xi", ni = "ni"))
  run(m, "toyprop", list(xi = "xi", ni = "ni"))
  run(m, "toyprop", list(xi = "xi", ni = "ni"), list(to = "all", add = 1))
  run(m, "toyprop", list(xi = "xi", ni = "ni"), list(to = "if0all"))
  run(m, "toyprop", list(xi = "xi", ni = "ni"), list(vtype = "AV"))
}
run("PR", "toyprop", list(xi = "xi", ni = "ni"), list(vtype = "UB"))
run("PR", "toyprop", list(xi = "xi", ni = "ni"), list(to = "none"))
# pooled proportions count studies whose own logit is undefined (xi = 0 with to = "none")
run("PLO", "toyprop", list(xi = "xi", ni = "ni"), list(vtype = "AV", to = "none"))
run("PR", "toyprop", list(xi = "xi", ni = "ni"), list(vtype = "AV", to = "none"))

# --- 2x2 tables
run("RR", "bcg", bcg_cols)
for (m in c("OR", "RR", "RD")) {
  run(m, "nielweise2007", tab_n_cols)
  run(m, "nielweise2007", tab_n_cols, list(drop00 = TRUE))
  run(m, "toy2x2", tab_cols)
  run(m, "toy2x2", tab_cols, list(drop00 = TRUE))
  run(m, "toy2x2", tab_cols, list(to = "all"))
  run(m, "toy2x2", tab_cols, list(to = "if0all", add = 0.25))
  run(m, "toy2x2", tab_cols, list(to = "none"))
}
run("RD", "bcg", bcg_cols, list(vtype = "UB"))
run("RD", "bcg", bcg_cols, list(vtype = "AV"))
run("RD", "nielweise2007", tab_n_cols, list(vtype = "UB"))
run("RD", "toy2x2", tab_cols, list(vtype = "AV"))
run("RD", "toy2x2", tab_cols, list(vtype = "AV", drop00 = TRUE))

out <- list(
  source = paste("metadat::dat.normand1999, dat.molloy2014, dat.pritz1997, dat.nielweise2007,",
                 "dat.bcg, plus small synthetic sets (toy2x2, toyprop, toyrom, toycor); metafor::escalc"),
  versions = list(R = R.version.string, metafor = as.character(packageVersion("metafor")),
                  metadat = as.character(packageVersion("metadat"))),
  datasets = datasets,
  cases = cases
)
writeLines(toJSON(out, digits = NA, na = "null", auto_unbox = TRUE, pretty = TRUE),
           "tests/reference/effect_sizes_extra.json")
