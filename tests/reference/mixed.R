# Reference values of the one-stage mixed model (tests/test_stats_mixed.py).
# Run from this folder: Rscript mixed.R  (writes mixed_R.csv)
# R 4.2.2, lme4 1.1.31, lmerTest 3.1.3. Inputs: <name>_periods.csv (patient, period, arm, mean),
# written by make_data.py (example_periods.csv by export_example.py: the packaged example).
suppressMessages(library(lmerTest))
out <- list()
add <- function(series, patient, quantity, value) {
  out[[length(out) + 1]] <<- data.frame(series = series, patient = patient,
                                        quantity = quantity, value = value)
}
# Each series twice: with lme4's default optimizer settings ("<name>"), and with the optimizer
# run to a tight tolerance ("<name>_tight"); on a flat (singular) likelihood the default stops
# early enough to move the Satterthwaite df in the second decimal.
tight <- lmerControl(optimizer = "bobyqa", optCtrl = list(rhoend = 1e-12, maxfun = 1e6))
for (name in c("hetero", "homog", "mixed", "flat", "example")) for (variant in c("", "_tight")) {
  d <- read.csv(paste0(name, "_periods.csv"))
  control <- if (variant == "") lmerControl() else tight
  fit <- lmer(mean ~ arm + (1 + arm | patient), data = d, REML = TRUE, control = control)
  name0 <- name
  name <- paste0(name0, variant)
  s <- summary(fit)$coefficients  # Satterthwaite df by default
  vc <- as.data.frame(VarCorr(fit))
  est <- s["arm", "Estimate"]; se <- s["arm", "Std. Error"]; df <- s["arm", "df"]
  add(name, "", "estimate", est)
  add(name, "", "se", se)
  add(name, "", "df", df)
  add(name, "", "t", s["arm", "t value"])
  add(name, "", "p", s["arm", "Pr(>|t|)"])
  add(name, "", "ci_low", est - qt(0.975, df) * se)
  add(name, "", "ci_high", est + qt(0.975, df) * se)
  add(name, "", "intercept", s["(Intercept)", "Estimate"])
  add(name, "", "tau", vc$sdcor[which(vc$var1 == "arm" & is.na(vc$var2))])
  add(name, "", "tau_intercept", vc$sdcor[which(vc$var1 == "(Intercept)" & is.na(vc$var2))])
  add(name, "", "sigma", sigma(fit))
  add(name, "", "singular", as.numeric(isSingular(fit)))
  add(name, "", "deviance", REMLcrit(fit))
  th <- getME(fit, "theta")
  add(name, "", c("theta1", "theta2", "theta3"), unname(th))
  co <- coef(fit)$patient
  add(name, rownames(co), "own_effect", co[, "arm"])
  name <- name0
}
res <- do.call(rbind, out)
res$value <- sprintf("%.12g", res$value)
write.csv(res, "mixed_R.csv", row.names = FALSE, quote = FALSE)
