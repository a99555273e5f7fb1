# Reference results of limma (voom, lmFit, eBayes, duplicateCorrelation) and lme4 + lmerTest
# (per-gene REML mixed model, Satterthwaite df) for alsig.voom's tests.
#
# Usage: Rscript scripts/voom_reference.R <in_dir> <out_dir>
#   in_dir: counts.tsv (genes x samples, first column gene), design.tsv (samples x coefficients,
#           first column sample), samples.tsv (sample, subject), lib_size.tsv (sample, lib_size),
#           spec.tsv (key, value): coef = tested coefficient, ftest = comma-separated coefficients
# Writes TSVs to out_dir (see the end of this file). Called by scripts/build_voom_fixtures.py.
suppressPackageStartupMessages({
  library(limma)
  library(lme4)
  library(lmerTest)
  library(DESeq2)
})
args <- commandArgs(trailingOnly = TRUE)
in_dir <- args[1]
out_dir <- args[2]
dir.create(out_dir, showWarnings = FALSE, recursive = TRUE)

read <- function(name) read.delim(file.path(in_dir, name), check.names = FALSE, stringsAsFactors = FALSE)
counts <- as.matrix(read("counts.tsv")[, -1, drop = FALSE])
rownames(counts) <- read("counts.tsv")[, 1]
design_df <- read("design.tsv")
design <- as.matrix(design_df[, -1, drop = FALSE])
rownames(design) <- design_df[, 1]
samples <- read("samples.tsv")
block <- samples$subject
lib_size <- read("lib_size.tsv")$lib_size
spec <- read("spec.tsv")
coef <- spec$value[spec$key == "coef"]
ftest <- strsplit(spec$value[spec$key == "ftest"], ",")[[1]]
write <- function(x, name) write.table(x, file.path(out_dir, name), sep = "\t", quote = FALSE, row.names = FALSE)

# DESeq2 median-of-ratios size factors of the same counts
write(data.frame(sample = colnames(counts), size_factor = estimateSizeFactorsForMatrix(counts)),
      "size_factors.tsv")

# voom without blocking, lmFit, eBayes; moderated F for the ftest coefficients
v <- voom(counts, design, lib.size = lib_size)
write(data.frame(gene = rownames(counts), v$E, check.names = FALSE), "voom_E.tsv")
write(data.frame(gene = rownames(counts), v$weights, check.names = FALSE), "voom_weights.tsv")
fit <- eBayes(lmFit(v, design))
write(data.frame(gene = rownames(counts), coefficient = fit$coefficients[, coef],
                 stdev_unscaled = fit$stdev.unscaled[, coef], sigma = fit$sigma,
                 t = fit$t[, coef], pvalue = fit$p.value[, coef], s2_post = fit$s2.post,
                 df_total = fit$df.total),
      "lm_ebayes.tsv")
fitf <- eBayes(lmFit(v, design)[, ftest])
write(data.frame(gene = rownames(counts), F = fitf$F, F_pvalue = fitf$F.p.value), "lm_ftest.tsv")
write(data.frame(key = c("s2_prior", "df_prior"), value = c(fit$s2.prior, fit$df.prior)),
      "lm_prior.tsv")
# unweighted fit: limma's F uses a design-level correlation, exact only without weights
fit0 <- eBayes(lmFit(v$E, design)[, ftest])
write(data.frame(gene = rownames(counts), F = fit0$F, F_pvalue = fit0$F.p.value,
                 s2_prior = fit0$s2.prior, df_prior = fit0$df.prior), "lm_unweighted_ftest.tsv")

# duplicateCorrelation twice, as limma's authors advise
dc1 <- duplicateCorrelation(v, design, block = block)
v2 <- voom(counts, design, lib.size = lib_size, block = block, correlation = dc1$consensus)
dc2 <- duplicateCorrelation(v2, design, block = block)
fit2 <- eBayes(lmFit(v2, design, block = block, correlation = dc2$consensus))
write(data.frame(gene = rownames(counts), atanh_1 = dc1$atanh.correlations,
                 atanh_2 = dc2$atanh.correlations), "dupcor_genes.tsv")
write(data.frame(key = c("consensus_1", "consensus_2", "s2_prior", "df_prior"),
                 value = c(dc1$consensus, dc2$consensus, fit2$s2.prior, fit2$df.prior)),
      "dupcor_summary.tsv")
write(data.frame(gene = rownames(counts), v2$weights, check.names = FALSE), "dupcor_weights.tsv")
write(data.frame(gene = rownames(counts), coefficient = fit2$coefficients[, coef],
                 stdev_unscaled = fit2$stdev.unscaled[, coef], sigma = fit2$sigma,
                 t = fit2$t[, coef], pvalue = fit2$p.value[, coef]),
      "dupcor_ebayes.tsv")

# lme4 + lmerTest per gene on the plain voom values and weights (fixed inputs)
cols <- paste0("x", seq_len(ncol(design)) - 1)
frame <- data.frame(design, subject = block)
colnames(frame) <- c(cols, "subject")
form <- as.formula(paste("y ~ 0 +", paste(cols, collapse = " + "), "+ (1 | subject)"))
j <- which(colnames(design) == coef)
Lf <- matrix(0, nrow = length(ftest), ncol = ncol(design))
for (i in seq_along(ftest)) Lf[i, which(colnames(design) == ftest[i])] <- 1
rows <- list()
for (g in seq_len(nrow(counts))) {
  frame$y <- v$E[g, ]
  w <- v$weights[g, ]
  m <- suppressMessages(suppressWarnings(
    lmerTest::lmer(form, data = frame, weights = w, REML = TRUE)))
  ct <- summary(m)$coefficients
  vc <- as.data.frame(VarCorr(m))
  f <- lmerTest::contest(m, Lf, ddf = "Satterthwaite")
  rows[[g]] <- data.frame(
    gene = rownames(counts)[g], estimate = ct[j, "Estimate"], se = ct[j, "Std. Error"],
    df = ct[j, "df"], t = ct[j, "t value"], pvalue = ct[j, "Pr(>|t|)"],
    var_subject = vc$vcov[vc$grp == "subject"], var_residual = vc$vcov[vc$grp == "Residual"],
    singular = isSingular(m), F = f[["F value"]], F_df2 = f[["DenDF"]], F_pvalue = f[["Pr(>F)"]])
}
write(do.call(rbind, rows), "lmer.tsv")
cat("R_VERSION", R.version.string, "limma", as.character(packageVersion("limma")), "lme4",
    as.character(packageVersion("lme4")), "lmerTest", as.character(packageVersion("lmerTest")), "\n")
