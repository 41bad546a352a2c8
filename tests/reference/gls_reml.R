# Reference values for the calibrated AR(1) test of nof1.stats.ar1 (tests/test_stats_ar1.py):
# REML fit of y = b0 + b1 x + u with AR(1) errors at integer days, missing days left out (their
# spacing kept through the day index): nlme::gls with corCAR1(form = ~ day), whose correlation
# phi^|t - s| is the AR(1) correlation at any gap. Run: Rscript tests/reference/gls_reml.R
# (R 4.2.2, nlme 3.1).
library(nlme)
series <- list(
  list(y = c(9, 9, 10, 11, 9, 7, 6, 6, 6, 6, 5, 5, 6, 4, 6, 6, 7, 7, 9, 8, 8, 7, NA, 6, 6, 7,
             NA, 8),
       x = rep(c(0, 1, 0, 1), each = 7)),
  list(y = c(NA, NA, NA, 6.22, 5.56, 4.48, 3.94, 3.39, NA, 5.32, 5.74, 6.01, 3.81, 2.83, NA, NA,
             NA, 6.60, 4.28, 5.42, 5.34, 4.88, 3.62, NA, 3.76, 4.77, 4.51, 5.84, NA, NA, NA, 4.52,
             3.58, NA, 5.67, 5.17, 5.48, 4.56, 5.02, 4.41, 4.89, NA, NA, NA, NA, 3.42, 2.35,
             3.07, 3.62, 3.61, 3.54, 5.11, 5.98, 3.77, 5.06, 2.81),
       x = rep(c(0, 1, 0, 1), each = 14))
)
for (s in series) {
  d <- data.frame(y = s$y, x = s$x, day = seq_along(s$y))
  d <- d[!is.na(d$y), ]
  fit <- gls(y ~ x, data = d, correlation = corCAR1(form = ~ day), method = "REML",
             control = glsControl(tolerance = 1e-10, msTol = 1e-10))
  phi <- coef(fit$modelStruct$corStruct, unconstrained = FALSE)
  cat(sprintf("b1 %.8f se %.8f phi %.8f sigma2 %.8f\n", coef(fit)[2],
              sqrt(vcov(fit)[2, 2]), phi, fit$sigma^2))
}
