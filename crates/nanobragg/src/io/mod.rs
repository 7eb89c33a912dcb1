//! File formats: HKL text, Fdump cache, MOSFLM matrices, source lists, SMV, PGM, raw float and PNG previews.
