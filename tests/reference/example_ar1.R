# Reference values for the AR(1) daily model of the packaged example trial, as nof1 analyze
# reports it (tests/test_analysis.py): JSON ar1_ml is R's arima (exact Gaussian ML, Wald), JSON
# ar1 the REML fit of nlme::gls with corCAR1(form = ~ day) (phi^|t - s| at any gap; nof1 adds
# the Satterthwaite df). Days from tests/reference/export_example_days.py.
# Run: Rscript tests/reference/example_ar1.R   (R 4.2.2, nlme 3.1)
library(nlme)
days <- read.csv("tests/reference/example_days.csv")
for (outcome in c("pain", "fatigue")) {
  y <- days[[outcome]]
  ml <- arima(y, order = c(1, 0, 0), xreg = days$treatment, method = "ML",
              optim.control = list(reltol = 1e-12))
  d <- data.frame(y = y, x = days$treatment, day = days$day)
  d <- d[!is.na(d$y), ]
  reml <- gls(y ~ x, data = d, correlation = corCAR1(form = ~ day), method = "REML",
              control = glsControl(tolerance = 1e-10, msTol = 1e-10))
  phi <- coef(reml$modelStruct$corStruct, unconstrained = FALSE)
  cat(sprintf("%s ml b1 %.8f se %.8f phi %.8f loglik %.6f | reml b1 %.8f se %.8f phi %.8f\n",
              outcome, coef(ml)[3], sqrt(ml$var.coef[3, 3]), coef(ml)[1], ml$loglik,
              coef(reml)[2], sqrt(vcov(reml)[2, 2]), phi))
}
