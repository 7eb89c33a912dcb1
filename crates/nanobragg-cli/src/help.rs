//! Usage text, generated from the same flag table the parser uses
//! ([`crate::args::flag_table`]), so every accepted flag and synonym is listed.

use crate::args::{flag_table, FlagGroup, FlagSpec};

/// Width of the flag column before the description.
const FLAG_COLUMN: usize = 34;

/// The flag column of one entry: all spellings joined by `|`, then the value placeholders.
fn flag_column(spec: &FlagSpec) -> String {
    let mut s = spec.names.join("|");
    if !spec.values.is_empty() {
        s.push(' ');
        s.push_str(spec.values);
    }
    s
}

/// The full usage text: a synopsis, then every supported flag (with all its synonyms, value
/// units and default) grouped as input files, crystal, beam, detector, sampling, output and
/// the options of this implementation.
pub fn usage() -> String {
    let mut out = String::new();
    out.push_str(
        "usage: nanobragg [-hkl Fs.hkl | -default_F F] [-mat A.mat | -cell a b c al be ga] [options]\n\
         \x20      nanobragg grad <flags> -wrt name,... [-loss sum|l2:t.bin|poisson:t.bin]\n\
         \x20      nanobragg refine <flags> -target measured.img|measured.bin -refine name,... [-loss poisson|l2|huber]\n\
         \x20      nanobragg batch <flags> -shots list.toml [-outdir dir]\n\
         \n\
         A nanoBragg-compatible X-ray diffraction simulator. Flags are applied left to right;\n\
         a later flag overrides an earlier one. Units: mm, A (Angstrom), deg, mrad, um.\n\
         Synonyms are separated by '|'.\n",
    );
    for group in FlagGroup::ALL {
        out.push('\n');
        out.push_str(group.title());
        out.push_str(":\n");
        for spec in flag_table().iter().filter(|s| s.group == group) {
            let col = flag_column(spec);
            if col.len() + 2 < FLAG_COLUMN {
                out.push_str(&format!(
                    "  {col:<width$}{}\n",
                    spec.help,
                    width = FLAG_COLUMN - 2
                ));
            } else {
                out.push_str(&format!(
                    "  {col}\n  {:<width$}{}\n",
                    "",
                    spec.help,
                    width = FLAG_COLUMN - 2
                ));
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_name_is_listed() {
        let text = usage();
        for spec in flag_table() {
            for name in spec.names {
                assert!(
                    text.split(|c: char| c.is_whitespace() || c == '|')
                        .any(|w| w == *name),
                    "{name} missing from usage"
                );
            }
        }
    }
}
