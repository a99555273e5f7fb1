# R DESeq2 reference for tests/unit/test_deseq2_engine.py (run by scripts/build_deseq2_fixture.py).
# Usage: Rscript scripts/deseq2_fixture.R counts.tsv.gz coldata.tsv out_dir [lrt]
# (with "lrt" only the likelihood-ratio test is run and written)
# Fits ~ region + condition (references: region frontal, condition control) with DESeq() (Wald)
# and DESeq(test = "LRT", reduced = ~ region), and writes per gene: Wald results of ALS vs control
# and other vs control, the LRT results (log2 fold change of condition_ALS_vs_control) and the
# dispersion / deviance / Cook's columns of mcols(), plus the size factors.
suppressPackageStartupMessages(library(DESeq2))
args <- commandArgs(trailingOnly = TRUE)
stopifnot(length(args) %in% c(3, 4))
lrt_only <- length(args) == 4 && args[4] == "lrt"
counts <- as.matrix(read.delim(args[1], row.names = 1, check.names = FALSE))
coldata <- read.delim(args[2], row.names = 1, check.names = FALSE, stringsAsFactors = TRUE)
coldata <- coldata[colnames(counts), , drop = FALSE]
coldata$region <- relevel(factor(coldata$region), ref = "frontal")
coldata$condition <- relevel(factor(coldata$condition), ref = "control")
out <- args[3]

dds <- DESeqDataSetFromMatrix(counts, coldata, ~ region + condition)
write_results <- function(res, path) {
  frame <- data.frame(gene = rownames(res), baseMean = res$baseMean,
                      log2FoldChange = res$log2FoldChange, lfcSE = res$lfcSE, stat = res$stat,
                      pvalue = res$pvalue, padj = res$padj)
  write.table(frame, path, sep = "\t", quote = FALSE, row.names = FALSE, na = "")
}
if (!lrt_only) {
  wald <- DESeq(dds, quiet = TRUE)
  als <- results(wald, contrast = c("condition", "ALS", "control"), alpha = 0.05)
  write_results(als, file.path(out, "r_wald_ALS_vs_control.tsv"))
  other <- results(wald, contrast = c("condition", "other", "control"), alpha = 0.05)
  write_results(other, file.path(out, "r_wald_other_vs_control.tsv"))
  mc <- mcols(wald)
  write.table(data.frame(gene = rownames(wald), dispGeneEst = mc$dispGeneEst, dispFit = mc$dispFit,
                         dispersion = mc$dispersion, deviance = mc$deviance,
                         maxCooks = mc$maxCooks, replace = mc$replace),
              file.path(out, "r_wald_mcols.tsv"), sep = "\t", quote = FALSE, row.names = FALSE,
              na = "")
  write.table(data.frame(sample = colnames(wald), size_factor = sizeFactors(wald)),
              file.path(out, "r_size_factors.tsv"), sep = "\t", quote = FALSE, row.names = FALSE)
}

lrt <- DESeq(dds, test = "LRT", reduced = ~ region, quiet = TRUE)
res <- results(lrt, name = "condition_ALS_vs_control", alpha = 0.05)
write_results(res, file.path(out, "r_lrt.tsv"))
cat(sprintf("R_VERSION DESeq2=%s %s\n", as.character(packageVersion("DESeq2")), R.version.string))
