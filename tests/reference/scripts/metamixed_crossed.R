# MetaMixed with crossed random effects (the Z-space path with a known sampling covariance):
# metafor rma.mv(sparse = TRUE) references with tight convergence.
# (a) dat.mccurdy2020 (metadat; generation effect): article/experiment/sample/id nested,
#     and stimulus pairings crossing the samples of an article (the metadat example model);
# (b) simulated studies crossed with labs, diagonal sampling variances;
# (c) simulated studies crossed with labs, correlated sampling errors within studies
#     (V block diagonal by study, rho = 0.6).
# Run from the repository root: Rscript tests/reference/scripts/metamixed_crossed.R
suppressMessages({library(metafor); library(metadat); library(jsonlite)})
ctrl <- list(optimizer = "nlminb", rel.tol = 1e-12, iter.max = 1000, eval.max = 5000)
# nlminb stops with "false convergence" at rel.tol = 1e-12 when a component is at 0 (the
# sample level of mccurdy2020): then rel.tol = 1e-10
tight_fit <- function(call) {
  call <- substitute(call)
  env <- parent.frame()
  call$control <- ctrl
  res <- tryCatch(eval(call, env), error = function(e) NULL)
  if (is.null(res)) {
    call$control <- modifyList(ctrl, list(rel.tol = 1e-10))
    res <- eval(call, env)
  }
  res
}

fit_info <- function(res, ranef_terms = NULL) {
  out <- list(beta = unname(as.numeric(coef(res))), se = unname(as.numeric(res$se)),
              sigma2 = unname(res$sigma2), logLik = as.numeric(logLik(res)),
              AIC = AIC(res), BIC = BIC(res), QE = res$QE, QM = res$QM,
              QMp = res$QMp, converged = TRUE)
  if (!is.null(ranef_terms)) {
    re <- ranef(res)
    out$ranef <- lapply(ranef_terms, function(t) list(
      level = rownames(re[[t]]), pred = re[[t]]$intrcpt, se = re[[t]]$se))
    names(out$ranef) <- ranef_terms
    pr <- predict(res, newmods = 0.5)
    out$predict <- list(x = 0.5, pred = pr$pred, se = pr$se, pi_lb = pr$pi.lb,
                        pi_ub = pr$pi.ub)
  }
  out
}

# ------------------------------------------------------------ (a) mccurdy2020
d <- dat.mccurdy2020
a <- list(data = list(article = d$article, experiment = d$experiment, sample = d$sample,
                      id = d$id, pairing = d$pairing, yi = as.numeric(d$yi),
                      vi = as.numeric(d$vi),
                      generate = as.integer(d$condition == "generate")))
for (m in c("REML", "ML")) {
  res <- tight_fit(rma.mv(yi, vi, mods = ~ condition,
                   random = list(~ 1 | article/experiment/sample/id, ~ 1 | pairing),
                   data = d, sparse = TRUE, method = m))
  a[[m]] <- fit_info(res)
}

# ------------------------------------------------------------ (b), (c) simulated
simulate <- function(ns, nl, seed) {
  set.seed(seed)
  rows <- do.call(rbind, lapply(seq_len(ns), function(s) {
    k <- sample(2:4, 1)
    data.frame(study = s, lab = sample(nl, k))
  }))
  n <- nrow(rows)
  rows$x <- round(rnorm(n), 4)
  rows$vi <- round(runif(n, 0.02, 0.2), 5)
  us <- rnorm(ns, 0, sqrt(0.05)); ul <- rnorm(nl, 0, sqrt(0.03))
  rows$e <- us[rows$study] + ul[rows$lab]
  rows$study <- paste0("s", rows$study); rows$lab <- paste0("l", rows$lab)
  rows
}
block_V <- function(d, rho) {
  V <- diag(d$vi)
  for (s in unique(d$study)) {
    i <- which(d$study == s)
    if (length(i) > 1) for (j in i) for (k in i) if (j != k)
      V[j, k] <- rho * sqrt(d$vi[j] * d$vi[k])
  }
  V
}

b <- simulate(150, 25, 20261206)
b$yi <- round(0.3 + 0.2 * b$x + b$e + rnorm(nrow(b), 0, sqrt(b$vi)), 5)
sim <- list(data = b[, c("study", "lab", "x", "vi", "yi")])
for (m in c("REML", "ML")) {
  res <- tight_fit(rma.mv(yi, vi, mods = ~ x, random = list(~ 1 | study, ~ 1 | lab),
                          data = b, sparse = TRUE, method = m))
  sim[[m]] <- fit_info(res, if (m == "REML") c("study", "lab") else NULL)
}

cc <- simulate(120, 20, 7)
rho <- 0.6
V <- block_V(cc, rho)
cc$yi <- round(0.1 - 0.15 * cc$x + cc$e + as.numeric(t(chol(V)) %*% rnorm(nrow(cc))), 5)
corr <- list(data = cc[, c("study", "lab", "x", "vi", "yi")], rho = rho)
for (m in c("REML", "ML")) {
  res <- tight_fit(rma.mv(yi, V, mods = ~ x, random = list(~ 1 | study, ~ 1 | lab),
                          data = cc, sparse = TRUE, method = m))
  corr[[m]] <- fit_info(res)
}

out <- list(mccurdy2020 = a, simulated = sim, correlated = corr,
            versions = list(metafor = as.character(packageVersion("metafor")),
                            R = R.version.string))
writeLines(toJSON(out, digits = NA, auto_unbox = TRUE),
           "tests/reference/metamixed_crossed.json")
