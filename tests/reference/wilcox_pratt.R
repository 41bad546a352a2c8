# Reference p-values of the signed-rank test with zeros and ties (Pratt's method, midranks, exact
# conditional null distribution), for nof1.stats.signed_rank (tests/test_stats_rank.py).
# Run: Rscript tests/reference/wilcox_pratt.R   (R 4.2.2, coin 1.4-2: Debian r-cran-coin)
suppressMessages(library(coin))
cases <- list(
  c(0.5, 0, 0, -2, -2, -1.5, -1, 0.5, -2, -1, 0.5),
  c(-1, -1, 1, -1.5),
  c(1, 2, -2, 0, 4),
  c(-2, -1, 0, -3, -1, -2, 0, -1),
  c(-1.5, -0.5, -0.5, 0, -2, 1, -1, -0.5, -1.5, -2.5, 0.5, -1),
  c(3, -1, 2, 2, 0, 1, -2, 3, 1, 1),
  c(-0.25, -0.75, -0.25, -1, 0.25, -0.5, 0, -0.75, -1.25, -0.5, -0.25, 0, -1, -0.75),
  c(-4, -3, -3, -2, -2, -2, -1, -1, 0, 1, -5, -3)
)
for (d in cases) {
  z <- rep(0, length(d))
  p <- sapply(c("two.sided", "less", "greater"), function(alt) pvalue(wilcoxsign_test(
    d ~ z, zero.method = "Pratt", distribution = "exact", alternative = alt)))
  w <- statistic(wilcoxsign_test(d ~ z, zero.method = "Pratt", distribution = "exact"), "linear")
  cat(sprintf("W+ %s two %.15g less %.15g greater %.15g\n", format(w), p[1], p[2], p[3]))
}
