# Reference values of the two-stage random-effects meta-analysis (tests/test_stats_meta.py).
# Run from this folder: Rscript meta.R  (writes meta_R.csv)
# R 4.2.2, metafor 3.8.1. Inputs: <name>_effects.csv (patient, yi, sei), written by make_data.py
# (zero_effects.csv by hand: effects so alike that REML puts tau^2 at 0; example_effects.csv
# by export_example.py: stage 1 of the packaged example series).
suppressMessages(library(metafor))
out <- list()
add <- function(series, patient, quantity, value) {
  out[[length(out) + 1]] <<- data.frame(series = series, patient = patient,
                                        quantity = quantity, value = value)
}
for (name in c("hetero", "homog", "mixed", "flat", "zero", "example")) {
  e <- read.csv(paste0(name, "_effects.csv"))
  fit <- rma(yi, sei = sei, data = e, method = "REML", test = "knha",
             control = list(stepadj = 0.5, maxiter = 1000, threshold = 1e-12))
  pr <- predict(fit)
  b <- blup(fit)
  add(name, "", "estimate", fit$beta[1])
  add(name, "", "se", fit$se)
  add(name, "", "ci_low", fit$ci.lb)
  add(name, "", "ci_high", fit$ci.ub)
  add(name, "", "t", fit$zval)
  add(name, "", "df", fit$ddf)
  add(name, "", "p", fit$pval)
  add(name, "", "tau2", fit$tau2)
  add(name, "", "i2", fit$I2)
  add(name, "", "q", fit$QE)
  add(name, "", "q_p", fit$QEp)
  add(name, "", "pi_low", pr$pi.lb)
  add(name, "", "pi_high", pr$pi.ub)
  add(name, e$patient, "blup", b$pred)
  add(name, e$patient, "blup_se", b$se)
}
res <- do.call(rbind, out)
res$value <- sprintf("%.12g", res$value)
write.csv(res, "meta_R.csv", row.names = FALSE, quote = FALSE)
