# Reference values for the Hodges-Lehmann estimates and exact intervals of nof1.stats.rank
# (tests/test_stats_cycle.py). Run: Rscript tests/reference/wilcox_hl.R
# R 4.2.2: wilcox.test(..., conf.int = TRUE, exact = TRUE), data without ties or zeros.
one <- list(
  c(-3.2, -0.4, -1.9, 0.7, -2.6),
  c(-1.35, 0.42, -0.88, -2.71, -0.05, -1.62),
  c(-0.952, -0.147, -1.022, -0.43, -0.62, -0.59, -0.49, 0.08, -0.01),
  c(2.1, -0.3, 1.4, 0.9, 3.3, -1.2, 0.5, 1.75, 2.6, -0.65, 1.05, 0.15)
)
two <- list(
  list(c(3.1, 4.6, 2.2, 5.0), c(5.9, 6.3, 4.1, 7.2)),
  list(c(1.12, 0.35, 2.48, 1.91, 0.77), c(2.93, 1.64, 3.51)),
  list(c(6.2, 5.1, 7.4, 4.8, 5.6, 6.9), c(7.7, 6.05, 8.3, 5.35, 7.15, 8.9))
)
show <- function(r) cat(sprintf("estimate %.10f low %.10f high %.10f level %s\n", r$estimate,
  r$conf.int[1], r$conf.int[2], format(attr(r$conf.int, "conf.level"), digits = 10)))
for (d in one) show(suppressWarnings(wilcox.test(d, conf.int = TRUE, exact = TRUE)))
for (p in two) show(suppressWarnings(wilcox.test(p[[1]], p[[2]], conf.int = TRUE, exact = TRUE)))
