# Reference values of the moderated (borrowed) within-patient variances and the two-stage
# meta-analysis on them (tests/test_stats_moderate.py, tests/test_series_pooling.py).
# Run from this folder: Rscript moderated.R  (writes moderated_R.csv)
# R 4.2.2, metafor 3.8.1. Inputs: <name>_variances.csv (patient, yi, s2, df, factor), written by
# make_moderated.py from the period means.
#
# The prior of the variances (Smyth 2004): s2_i / s0^2 ~ F(df_i, d0). s0^2 and d0 by maximum
# likelihood with optim (L-BFGS-B over log s0^2 and u = 1 / d0 >= 0, several starts; u = 0 is
# d0 = Inf, where R's df() is the chi-square limit), over the patients with df > 0 and s2 > 0.
# Moderated variance (d0 s0^2 + df s2) / (d0 + df) (s0^2 when d0 = Inf or df = 0), on
# min(d0 + df, sum df) degrees of freedom; SE sqrt(variance * factor). Then metafor rma (REML,
# knha), predict(), blup() and confint() (Q-profile, chi-square) on those SEs; the Q-profile
# interval and the heterogeneity test with F(k - 1, nu) quantiles, nu = median of the df, by
# uniroot on the generalized Q; the responder share's interval from the corners of mu's and
# tau's intervals at 97.5%; each patient's P(improvement >= MCID = 1, lower is better) from
# the BLUP and its SE with a t on the patient's df.
suppressMessages(library(metafor))
out <- list()
add <- function(series, patient, quantity, value) {
  out[[length(out) + 1]] <<- data.frame(series = series, patient = patient,
                                        quantity = quantity, value = value)
}
nll <- function(par, s2, d) {
  s0 <- exp(par[1]); u <- par[2]
  -sum(df(s2 / s0, d, if (u == 0) Inf else 1 / u, log = TRUE) - log(s0))
}
prior <- function(s2, d) {
  best <- NULL
  for (u0 in c(0, 0.01, 0.1, 1, 10)) for (l0 in log(mean(s2)) + c(-1, 0, 1)) {
    fit <- optim(c(l0, u0), nll, s2 = s2, d = d, method = "L-BFGS-B",
                 lower = c(-50, 0), upper = c(50, 1000),
                 control = list(factr = 1, pgtol = 0, maxit = 10000))
    if (is.null(best) || fit$value < best$value) best <- fit
  }
  # the d0 = Inf boundary in closed form: the pooled variance
  pooled <- sum(d * s2) / sum(d)
  at_inf <- nll(c(log(pooled), 0), s2, d)
  if (at_inf <= best$value) return(c(s0 = pooled, d0 = Inf))
  c(s0 = exp(best$par[1]), d0 = 1 / best$par[2])
}
gen_q <- function(tau2, y, v) {
  w <- 1 / (v + tau2); mu <- sum(w * y) / sum(w); sum(w * (y - mu)^2)
}
qprofile_f <- function(y, v, level, nu) {
  k <- length(y)
  targets <- (k - 1) * qf(c((1 + level) / 2, (1 - level) / 2), k - 1, nu)
  sapply(targets, function(target) {
    if (gen_q(0, y, v) <= target) return(0)
    uniroot(function(t2) gen_q(t2, y, v) - target, c(0, 1e4), tol = 1e-14)$root
  })
}
for (name in c("degenerate", "spread", "mixed", "example")) {
  e <- read.csv(paste0(name, "_variances.csv"))
  fit_ok <- e$df > 0 & !is.na(e$s2) & e$s2 > 0
  p <- prior(e$s2[fit_ok], e$df[fit_ok])
  s0 <- p[["s0"]]; d0 <- p[["d0"]]
  own <- ifelse(e$df > 0, e$s2, 0)
  v <- if (is.infinite(d0)) rep(s0, nrow(e)) else (d0 * s0 + e$df * own) / (d0 + e$df)
  total <- sum(e$df[!is.na(e$s2)])
  dfm <- pmin(d0 + e$df, total)
  se <- sqrt(v * e$factor)
  fit <- rma(e$yi, sei = se, method = "REML", test = "knha",
             control = list(stepadj = 0.5, maxiter = 1000, threshold = 1e-12))
  pr <- predict(fit)
  b <- blup(fit)
  ci <- confint(fit, control = list(tol = 1e-12))$random
  k <- nrow(e)
  nu <- median(dfm)
  tf <- qprofile_f(e$yi, se^2, 0.95, nu)
  tf975 <- qprofile_f(e$yi, se^2, 0.975, nu)
  half <- qt(1 - 0.025 / 2, k - 1) * fit$se
  mu <- c(fit$beta[1] - half, fit$beta[1] + half)
  corners <- expand.grid(mu = mu, tau = sqrt(tf975))
  share <- ifelse(corners$tau == 0, as.numeric(-1 - corners$mu >= 0),
                  pnorm((-1 - corners$mu) / corners$tau))
  add(name, "", "prior_variance", s0)
  add(name, "", "prior_df", d0)
  add(name, e$patient, "variance", v)
  add(name, e$patient, "df", dfm)
  add(name, e$patient, "se", se)
  add(name, "", "estimate", fit$beta[1])
  add(name, "", "se_mu", fit$se)
  add(name, "", "ci_low", fit$ci.lb)
  add(name, "", "ci_high", fit$ci.ub)
  add(name, "", "p", fit$pval)
  add(name, "", "tau2", fit$tau2)
  add(name, "", "i2", fit$I2)
  add(name, "", "q", fit$QE)
  add(name, "", "q_p", fit$QEp)
  add(name, "", "pi_low", pr$pi.lb)
  add(name, "", "pi_high", pr$pi.ub)
  add(name, "", "tau2_qp_low", ci["tau^2", "ci.lb"])
  add(name, "", "tau2_qp_high", ci["tau^2", "ci.ub"])
  add(name, "", "heterogeneity_p", pf(fit$QE / (k - 1), k - 1, nu, lower.tail = FALSE))
  add(name, "", "tau2_f_low", tf[1])
  add(name, "", "tau2_f_high", tf[2])
  add(name, "", "share", if (fit$tau2 == 0) as.numeric(-1 - fit$beta[1] >= 0)
                         else pnorm((-1 - fit$beta[1]) / sqrt(fit$tau2)))
  add(name, "", "share_low", min(share))
  add(name, "", "share_high", max(share))
  add(name, e$patient, "blup", b$pred)
  add(name, e$patient, "blup_se", b$se)
  z <- (-1 - b$pred) / b$se
  add(name, e$patient, "p_mcid", ifelse(is.infinite(dfm), pnorm(z), pt(z, dfm)))
}
res <- do.call(rbind, out)
res$value <- sprintf("%.12g", res$value)
write.csv(res, "moderated_R.csv", row.names = FALSE, quote = FALSE)
