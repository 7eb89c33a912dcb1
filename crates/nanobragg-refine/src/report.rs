//! Plain-text tables of a refinement: values with standard errors, and correlations.

use crate::spec::Variable;

/// A value in 14 columns: fixed with 6 decimals, or scientific for very large/small values.
fn value(v: f64) -> String {
    let a = v.abs();
    if v == 0.0 || (1e-3..1e7).contains(&a) {
        format!("{v:>14.6}")
    } else {
        format!("{v:>14.6e}")
    }
}

/// The table `parameter | unit | [true] | start | refined | error or shift | σ | [error/σ]`.
/// With `truth`, the error column is `refined − true` and the last column its ratio to σ;
/// without, the shift `refined − start` is shown.
pub fn value_table(
    variables: &[Variable],
    truth: Option<&[f64]>,
    start: &[f64],
    refined: &[f64],
    sigma: Option<&[f64]>,
) -> String {
    let mut out = String::new();
    let mut header = format!("{:<18} {:<12}", "parameter", "unit");
    if truth.is_some() {
        header += &format!(" {:>14}", "true");
    }
    header += &format!(" {:>14} {:>14}", "start", "refined");
    header += &format!(" {:>11}", if truth.is_some() { "error" } else { "shift" });
    if sigma.is_some() {
        header += &format!(" {:>10}", "σ");
        if truth.is_some() {
            header += &format!(" {:>7}", "err/σ");
        }
    }
    out += header.trim_end();
    out.push('\n');
    for (i, v) in variables.iter().enumerate() {
        let unit: String = v.unit().split(" (").next().unwrap_or("").chars().take(12).collect();
        let mut line = format!("{:<18} {:<12}", v.name(), unit);
        if let Some(t) = truth {
            line += &format!(" {}", value(t[i]));
        }
        line += &format!(" {} {}", value(start[i]), value(refined[i]));
        let diff = match truth {
            Some(t) => refined[i] - t[i],
            None => refined[i] - start[i],
        };
        line += &format!(" {diff:>+11.3e}");
        if let Some(s) = sigma {
            line += &format!(" {:>10.3e}", s[i]);
            if truth.is_some() {
                line += &format!(" {:>+7.2}", diff / s[i]);
            }
        }
        out += &line;
        out.push('\n');
    }
    out
}

/// The correlation matrix as a lower-triangular table with two decimals; columns are numbered
/// like the rows.
pub fn correlation_table(variables: &[Variable], correlation: &[Vec<f64>]) -> String {
    let mut out = format!("{:<22}", "correlation");
    for j in 0..variables.len() {
        out += &format!(" {:>5}", j + 1);
    }
    out.push('\n');
    for (i, v) in variables.iter().enumerate() {
        out += &format!("{:>2} {:<19}", i + 1, v.name());
        for j in 0..=i {
            out += &format!(" {:>5.2}", correlation[i][j]);
        }
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use nanobragg::gradients::ParamName;

    #[test]
    fn value_table_has_a_row_per_variable_and_the_error_over_sigma() {
        let vars = [Variable::Param(ParamName::CellA), Variable::Scale];
        let t = value_table(&vars, Some(&[40.0, 1.0]), &[40.4, 1.0], &[40.002, 0.99], Some(&[0.001, 0.01]));
        let lines: Vec<&str> = t.lines().collect();
        assert_eq!(lines.len(), 3);
        assert!(lines[1].starts_with("cell_a") && lines[1].contains("+2.00"), "{t}");
        assert!(lines[2].starts_with("scale") && lines[2].contains("-1.00"), "{t}");
    }
}
