# R DESeq2 reference for bench/de_vs_deseq2_r.py: the Wald test (DESeq + results) and the
# likelihood-ratio test (DESeq(test = "LRT") + results) on alsig's own DE inputs.
# Usage: Rscript bench/de_vs_deseq2_r.R counts.tsv.gz coldata.tsv design reduced factor test ref
#                coefficient out_prefix
# counts: genes x samples (first column gene); coldata: one row per sample (first column sample).
# The contrast factor's reference is set with relevel(); other factors keep R's level order
# (sorted, as alsig's design). Writes <out_prefix>_wald.tsv, _lrt.tsv, _mcols.tsv, _lrt_mcols.tsv,
# _meta.tsv and
# prints R_TIMING / R_VERSION lines.
suppressPackageStartupMessages(library(DESeq2))
args <- commandArgs(trailingOnly = TRUE)
stopifnot(length(args) == 9)
counts_path <- args[1]; coldata_path <- args[2]
design <- as.formula(args[3]); reduced <- as.formula(args[4])
factor_name <- args[5]; test <- args[6]; ref <- args[7]; coefficient <- args[8]
out <- args[9]

t0 <- proc.time()[["elapsed"]]
counts <- as.matrix(read.delim(counts_path, row.names = 1, check.names = FALSE))
coldata <- read.delim(coldata_path, row.names = 1, check.names = FALSE, stringsAsFactors = TRUE)
coldata <- coldata[colnames(counts), , drop = FALSE]
coldata[[factor_name]] <- relevel(factor(coldata[[factor_name]]), ref = ref)
t_read <- proc.time()[["elapsed"]] - t0

write_results <- function(res, path) {
  frame <- data.frame(gene = rownames(res), baseMean = res$baseMean,
                      log2FoldChange = res$log2FoldChange, lfcSE = res$lfcSE, stat = res$stat,
                      pvalue = res$pvalue, padj = res$padj)
  write.table(frame, path, sep = "\t", quote = FALSE, row.names = FALSE, na = "")
}

t1 <- proc.time()[["elapsed"]]
dds <- DESeqDataSetFromMatrix(counts, coldata, design)
wald <- DESeq(dds, quiet = TRUE)
res <- results(wald, contrast = c(factor_name, test, ref), alpha = 0.05)
t_wald <- proc.time()[["elapsed"]] - t1
write_results(res, paste0(out, "_wald.tsv"))
mc <- mcols(wald)
write.table(data.frame(gene = rownames(wald), dispGeneEst = mc$dispGeneEst,
                       dispGeneIter = mc$dispGeneIter, dispFit = mc$dispFit,
                       dispersion = mc$dispersion, dispIter = mc$dispIter,
                       dispOutlier = mc$dispOutlier, replace = mc$replace,
                       maxCooks = mc$maxCooks, betaConv = mc$betaConv),
            paste0(out, "_mcols.tsv"), sep = "\t", quote = FALSE, row.names = FALSE, na = "")

t2 <- proc.time()[["elapsed"]]
lrt <- DESeq(dds, test = "LRT", reduced = reduced, quiet = TRUE)
lrt_res <- results(lrt, name = coefficient, alpha = 0.05)
t_lrt <- proc.time()[["elapsed"]] - t2
write_results(lrt_res, paste0(out, "_lrt.tsv"))
write.table(data.frame(gene = rownames(lrt), maxCooks = mcols(lrt)$maxCooks,
                       replace = mcols(lrt)$replace),
            paste0(out, "_lrt_mcols.tsv"), sep = "\t", quote = FALSE, row.names = FALSE,
            na = "")

meta <- data.frame(
  key = c("wald_filter_threshold", "lrt_filter_threshold", "size_factors"),
  value = c(unname(metadata(res)$filterThreshold), unname(metadata(lrt_res)$filterThreshold),
            paste(sizeFactors(wald), collapse = ",")))
write.table(meta, paste0(out, "_meta.tsv"), sep = "\t", quote = FALSE, row.names = FALSE)
cat(sprintf("R_TIMING read_s=%.3f wald_s=%.3f lrt_s=%.3f\n", t_read, t_wald, t_lrt))
cat(sprintf("R_VERSION DESeq2=%s %s\n", as.character(packageVersion("DESeq2")), R.version.string))
