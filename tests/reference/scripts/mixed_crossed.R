# Crossed and partially crossed random effects (the Z-space engine path): lme4 / lmerTest
# references with tight convergence.  Data are simulated here (seeded) and stored in the JSON.
# Run from the repository root: Rscript tests/reference/scripts/mixed_crossed.R
suppressMessages({library(lme4); library(lmerTest); library(jsonlite)})
ctrl <- lmerControl(optimizer = "nloptwrap",
                    optCtrl = list(xtol_abs = 1e-12, ftol_abs = 1e-15, xtol_rel = 1e-12,
                                   maxeval = 1e5),
                    check.conv.singular = "ignore")

set.seed(20261206)
# subjects x items, unbalanced (about 70% of the pairs observed, some twice), a
# between-item condition and a within-subject covariate
ns <- 30; ni <- 18
d <- expand.grid(subj = seq_len(ns), item = seq_len(ni))
d <- d[runif(nrow(d)) < 0.7, ]
d <- rbind(d, d[sample(nrow(d), 60), ])
d$cond <- ifelse(d$item %% 2 == 0, "b", "a")
d$x <- round(rnorm(nrow(d)), 4)
bs0 <- rnorm(ns, 0, 1.0); bs1 <- rnorm(ns, 0, 0.5); bi <- rnorm(ni, 0, 0.8)
d$y <- round(2 + 0.4 * d$x + 0.6 * (d$cond == "b") + bs0[d$subj] + bs1[d$subj] * d$x +
             bi[d$item] + rnorm(nrow(d)), 4)
d$subj <- paste0("s", d$subj); d$item <- paste0("i", d$item)

# partially crossed: students in schools crossed with raters that work in 2 schools
np <- 240
p <- data.frame(school = sample(1:12, np, replace = TRUE))
p$rater <- (p$school - 1) %/% 2 * 2 + sample(1:3, np, replace = TRUE)
p$z <- round(rnorm(np), 4)
p$y <- round(1 + 0.3 * p$z + rnorm(12, 0, 0.7)[p$school] + rnorm(20, 0, 0.5)[p$rater] +
             rnorm(np), 4)
p$school <- paste0("sc", p$school); p$rater <- paste0("r", p$rater)

# boundary fits: no item variance (estimate 0) and perfectly correlated subject slopes
# (correlation +1); the first seeds from 1 whose lme4 fit is singular
singular_data <- function(slopes) {
  for (seed in 1:200) {
    set.seed(seed)
    s <- data.frame(subj = sample(1:25, 300, replace = TRUE),
                    item = sample(1:15, 300, replace = TRUE))
    s$x <- round(rnorm(300), 4)
    b <- rnorm(25)
    s$y <- round(1 + 0.3 * s$x + b[s$subj] + (if (slopes) 0.5 * b[s$subj] * s$x +
                 rnorm(15, 0, 0.5)[s$item] else 0) + rnorm(300), 4)
    s$subj <- paste0("s", s$subj); s$item <- paste0("i", s$item)
    f <- lmer(if (slopes) y ~ x + (x | subj) + (1 | item) else y ~ x + (1 | subj) + (1 | item),
              data = s, control = ctrl)
    if (isSingular(f)) return(s)
  }
  stop("no singular fit")
}
sing <- singular_data(FALSE)
sing_slopes <- singular_data(TRUE)

data(Penicillin, package = "lme4")
pen <- data.frame(diameter = Penicillin$diameter, plate = as.character(Penicillin$plate),
                  sample = as.character(Penicillin$sample))

fit_case <- function(name, formula, data, reml) {
  f <- lmerTest::lmer(as.formula(formula), data = data, REML = reml, control = ctrl)
  s <- summary(f)$coefficients
  vc <- as.data.frame(VarCorr(f))
  re <- ranef(f, condVar = TRUE)
  ranefs <- lapply(names(re), function(g) {
    pv <- attr(re[[g]], "postVar")
    list(group = g, levels = rownames(re[[g]]), columns = colnames(re[[g]]),
         values = unname(as.matrix(re[[g]])),
         condvar = lapply(seq_len(dim(pv)[3]), function(l) unname(pv[, , l, drop = TRUE])))
  })
  a <- anova(f, type = 3, ddf = "Satterthwaite")
  list(name = name, formula = formula, reml = reml,
       deviance = if (reml) as.numeric(REMLcrit(f)) else as.numeric(deviance(f)),
       logLik = as.numeric(logLik(f)), coef_names = rownames(s),
       beta = unname(fixef(f)), se = unname(s[, "Std. Error"]), df = unname(s[, "df"]),
       vcov = unname(as.matrix(vcov(f))), theta = unname(getME(f, "theta")),
       sigma = sigma(f),
       varcomp = list(grp = vc$grp, var1 = ifelse(is.na(vc$var1), "", vc$var1),
                      var2 = ifelse(is.na(vc$var2), "", vc$var2), vcov = vc$vcov),
       anova = list(terms = rownames(a), NumDF = a$NumDF, DenDF = a$DenDF,
                    F = a[["F value"]]),
       ranef = ranefs, AIC = AIC(f), BIC = BIC(f))
}

cases <- list(
  fit_case("crossed_intercepts", "y ~ x + cond + (1 | subj) + (1 | item)", d, TRUE),
  fit_case("crossed_intercepts_ml", "y ~ x + cond + (1 | subj) + (1 | item)", d, FALSE),
  fit_case("crossed_slopes", "y ~ x + cond + (x | subj) + (1 | item)", d, TRUE),
  fit_case("partially_crossed", "y ~ z + (1 | school) + (1 | rater)", p, TRUE),
  fit_case("penicillin", "diameter ~ 1 + (1 | plate) + (1 | sample)", pen, TRUE),
  fit_case("singular_intercepts", "y ~ x + (1 | subj) + (1 | item)", sing, TRUE),
  fit_case("singular_slopes", "y ~ x + (x | subj) + (1 | item)", sing_slopes, TRUE)
)
out <- list(versions = list(lme4 = as.character(packageVersion("lme4")),
                            lmerTest = as.character(packageVersion("lmerTest"))),
            data = list(crossed = d, partial = p, penicillin = pen, singular = sing,
                        singular_slopes = sing_slopes), cases = cases)
write_json(out, "tests/reference/mixed_crossed.json", digits = NA, auto_unbox = TRUE,
           pretty = FALSE)
