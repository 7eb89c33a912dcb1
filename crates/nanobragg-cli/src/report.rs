//! Console report in the C program's format (`%g` numbers), so scripts that scrape it keep working.

use nanobragg::io::cfmt::format_g;
use nanobragg::stats::ImageStats;

/// Print the maximum, its position, mean, RMS and RMSD as the C program does.
pub fn print_stats(s: &ImageStats) {
    say!(
        "max_I = {}  at {} {}",
        format_g(s.max, 6),
        format_g(s.max_fdet_m, 6),
        format_g(s.max_sdet_m, 6)
    );
    say!(
        "mean= {} rms= {} rmsd= {}",
        format_g(s.mean, 6),
        format_g(s.rms, 6),
        format_g(s.rmsd, 6)
    );
}
