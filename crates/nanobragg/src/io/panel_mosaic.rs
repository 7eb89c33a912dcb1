//! A multi-panel image laid out as seen from the sample, for a PNG preview: each panel's pixels
//! placed where they are in the lab frame (not a file format; the pixels are not resampled
//! for analysis).
//!
//! Projection: a pixel centre `P` (lab frame) goes to the plane normal to the beam `b` through
//! the direct-beam spot at unit distance, `(u, v) = (P·e₁, P·e₂) / (P·b)` — a gnomonic
//! (central) projection, so panels at different distances keep their angular layout. The
//! screen axes are `e₁ = b × up / |b × up|` (right) and `e₂ = e₁ × b` (up), `up` being lab +y
//! (or +z when the beam is along y): looking from the sample along a beam −z, +x is right and
//! +y is up. Screen rows grow downwards. The scale makes the smallest projected pixel one
//! screen pixel, capped so the longer side is at most `max_side`; where several panel pixels
//! land on one screen pixel the largest value is kept; screen pixels no panel covers are NaN
//! (black in [`super::png`]).

use crate::linalg::{cross_f64, dot_f64, unit_f64};

/// One panel's rendered pixels and its frame (lab frame, any one length unit).
#[derive(Debug, Clone, Copy)]
pub struct PanelPixels<'a> {
    /// Values, `slow·fpixels + fast`.
    pub data: &'a [f32],
    /// Pixels along the fast axis.
    pub fpixels: usize,
    /// Pixels along the slow axis.
    pub spixels: usize,
    /// Outer corner of pixel (0, 0).
    pub origin: [f64; 3],
    /// Unit fast axis.
    pub fast: [f64; 3],
    /// Unit slow axis.
    pub slow: [f64; 3],
    /// Pixel size, in the unit of `origin`.
    pub pixel: f64,
}

/// A screen image: `width × height` values, row-major from the top-left corner.
#[derive(Debug, Clone, PartialEq)]
pub struct Mosaic {
    /// Columns.
    pub width: usize,
    /// Rows.
    pub height: usize,
    /// Values (NaN where no panel is seen).
    pub data: Vec<f32>,
}

/// Lay `panels` out on one screen as seen along `beam` (module doc). Panels behind the sample
/// (P·b ≤ 0) are left out; an empty or all-behind list gives a 1 × 1 NaN screen.
pub fn panel_mosaic(panels: &[PanelPixels<'_>], beam: [f64; 3], max_side: usize) -> Mosaic {
    let b = unit_f64(beam);
    let up = if b[1].abs() > 0.9 { [0.0, 0.0, 1.0] } else { [0.0, 1.0, 0.0] };
    let e1 = unit_f64(cross_f64(b, up));
    let e2 = cross_f64(e1, b);
    let project = |p: [f64; 3]| {
        let depth = dot_f64(p, b);
        (depth > 0.0).then(|| (dot_f64(p, e1) / depth, dot_f64(p, e2) / depth))
    };
    let centre = |panel: &PanelPixels<'_>, f: usize, s: usize| {
        let (df, ds) = ((f as f64 + 0.5) * panel.pixel, (s as f64 + 0.5) * panel.pixel);
        std::array::from_fn(|i| panel.origin[i] + df * panel.fast[i] + ds * panel.slow[i])
    };
    let (mut lo, mut hi, mut step) = ([f64::INFINITY; 2], [f64::NEG_INFINITY; 2], f64::INFINITY);
    for panel in panels {
        for (f, s) in [(0, 0), (panel.fpixels, 0), (0, panel.spixels), (panel.fpixels, panel.spixels)] {
            if let Some((u, v)) = project(centre(panel, f, s)) {
                lo = [lo[0].min(u), lo[1].min(v)];
                hi = [hi[0].max(u), hi[1].max(v)];
            }
        }
        if let (Some(a), Some(c)) = (project(centre(panel, 0, 0)), project(centre(panel, 1, 0))) {
            step = step.min(((c.0 - a.0).powi(2) + (c.1 - a.1).powi(2)).sqrt());
        }
    }
    if !(lo[0] < hi[0] && lo[1] < hi[1] && step > 0.0 && step.is_finite()) {
        return Mosaic { width: 1, height: 1, data: vec![f32::NAN] };
    }
    let longest = (hi[0] - lo[0]).max(hi[1] - lo[1]);
    let step = step.max(longest / max_side.max(1) as f64);
    let width = ((hi[0] - lo[0]) / step).ceil() as usize + 1;
    let height = ((hi[1] - lo[1]) / step).ceil() as usize + 1;
    let mut data = vec![f32::NAN; width * height];
    for panel in panels {
        for s in 0..panel.spixels {
            for f in 0..panel.fpixels {
                let Some((u, v)) = project(centre(panel, f, s)) else { continue };
                let col = ((u - lo[0]) / step) as usize;
                let row = ((hi[1] - v) / step) as usize;
                let (Some(cell), Some(&value)) = (data.get_mut(row * width + col.min(width - 1)), panel.data.get(s * panel.fpixels + f)) else {
                    continue;
                };
                if cell.is_nan() || value > *cell {
                    *cell = value;
                }
            }
        }
    }
    Mosaic { width, height, data }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Two 2 × 1 panels side by side along +x at 100 mm on a beam along −z: the left one (x < 0)
    /// lands in the left columns, the right one in the right columns, rows upright.
    fn panel(data: &[f32], x0: f64) -> PanelPixels<'_> {
        PanelPixels {
            data,
            fpixels: 2,
            spixels: 1,
            origin: [x0, 0.0, -100.0],
            fast: [1.0, 0.0, 0.0],
            slow: [0.0, -1.0, 0.0],
            pixel: 1.0,
        }
    }

    #[test]
    fn panels_left_and_right_of_the_beam_land_left_and_right() {
        let (left, right) = ([1.0_f32, 2.0], [3.0_f32, 4.0]);
        let m = panel_mosaic(&[panel(&right, 0.0), panel(&left, -2.0)], [0.0, 0.0, -1.0], 100);
        let seen: Vec<f32> = m.data.iter().copied().filter(|x| !x.is_nan()).collect();
        assert_eq!(seen, vec![1.0, 2.0, 3.0, 4.0], "screen {m:?}");
    }

    /// A panel above the beam (+y) is drawn in the top rows.
    #[test]
    fn a_panel_above_the_beam_is_drawn_on_top() {
        let (low, high) = ([1.0_f32, 1.0], [9.0_f32, 9.0]);
        let mut above = panel(&high, -1.0);
        above.origin[1] = 5.0;
        let mut below = panel(&low, -1.0);
        below.origin[1] = -5.0;
        let m = panel_mosaic(&[below, above], [0.0, 0.0, -1.0], 100);
        let first = m.data.iter().position(|x| !x.is_nan()).expect("some pixel");
        assert_eq!(m.data[first], 9.0, "the first row seen holds the upper panel");
    }
}
