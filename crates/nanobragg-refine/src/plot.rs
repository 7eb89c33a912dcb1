//! Pictures of a refinement as RGB pixel buffers (write them with
//! [`nanobragg::io::png::write_rgb_png`]): the loss curve and signed residual maps.

/// An RGB canvas.
struct Canvas {
    w: usize,
    h: usize,
    px: Vec<u8>,
}

impl Canvas {
    fn new(w: usize, h: usize) -> Self {
        Canvas { w, h, px: vec![255; 3 * w * h] }
    }

    fn set(&mut self, x: i64, y: i64, c: [u8; 3]) {
        if x >= 0 && y >= 0 && (x as usize) < self.w && (y as usize) < self.h {
            let i = 3 * (y as usize * self.w + x as usize);
            self.px[i..i + 3].copy_from_slice(&c);
        }
    }

    /// A line from (x0, y0) to (x1, y1), `thick` pixels wide (DDA).
    fn line(&mut self, (x0, y0): (f64, f64), (x1, y1): (f64, f64), c: [u8; 3], thick: i64) {
        let n = ((x1 - x0).abs().max((y1 - y0).abs()).ceil() as usize).max(1);
        for k in 0..=n {
            let t = k as f64 / n as f64;
            let (x, y) = ((x0 + t * (x1 - x0)).round() as i64, (y0 + t * (y1 - y0)).round() as i64);
            for dx in 0..thick {
                for dy in 0..thick {
                    self.set(x + dx - thick / 2, y + dy - thick / 2, c);
                }
            }
        }
    }
}

/// The loss curve: `log₁₀(L_k − L_min + 1)` against iteration `k` (L_min the lowest loss, so
/// the curve ends at 0 when the run converged), `width × height` pixels, RGB. Axes in black
/// with a tick every decade (left) and every 10 iterations (bottom); the curve in blue.
pub fn loss_curve(losses: &[f64], width: usize, height: usize) -> Vec<u8> {
    let mut c = Canvas::new(width, height);
    let (left, right, top, bottom) = (40.0, width as f64 - 10.0, 10.0, height as f64 - 30.0);
    let black = [0, 0, 0];
    c.line((left, top), (left, bottom), black, 2);
    c.line((left, bottom), (right, bottom), black, 2);
    let finite: Vec<f64> = losses.iter().copied().filter(|v| v.is_finite()).collect();
    if finite.is_empty() {
        return c.px;
    }
    let min = finite.iter().copied().fold(f64::INFINITY, f64::min);
    let ys: Vec<f64> = losses.iter().map(|&l| if l.is_finite() { (l - min + 1.0).log10() } else { f64::NAN }).collect();
    let ymax = ys.iter().copied().filter(|v| v.is_finite()).fold(1.0f64, f64::max).ceil();
    let n = (losses.len().max(2) - 1) as f64;
    let px = |k: f64| left + (right - left) * k / n;
    let py = |y: f64| bottom - (bottom - top) * y / ymax;
    for d in 0..=ymax as i64 {
        let y = py(d as f64);
        c.line((left - 8.0, y), (left, y), black, 2);
        if d > 0 {
            for x in (left as i64..right as i64).step_by(6) {
                c.set(x, y.round() as i64, [200, 200, 200]);
            }
        }
    }
    for k in (0..losses.len()).step_by(10) {
        let x = px(k as f64);
        c.line((x, bottom), (x, bottom + 8.0), black, 2);
    }
    let blue = [20, 60, 200];
    for k in 1..ys.len() {
        if ys[k - 1].is_finite() && ys[k].is_finite() {
            c.line((px((k - 1) as f64), py(ys[k - 1])), (px(k as f64), py(ys[k])), blue, 2);
        }
    }
    c.px
}

/// Pearson residuals `(y − μ)/√μ` of the used pixels as a blue–white–red map (blue: model
/// above the data, red: below), saturating at `±limit`; pixels not used (or with `μ ≤ 0`) are
/// grey. Images are fast-major, `fpixels × spixels`.
pub fn residual_map(counts: &[f64], mu: &[f64], used: &[usize], fpixels: usize, spixels: usize, limit: f64) -> Vec<u8> {
    let mut px = vec![128u8; 3 * fpixels * spixels];
    for &i in used {
        if mu[i] <= 0.0 {
            continue;
        }
        let r = ((counts[i] - mu[i]) / mu[i].sqrt() / limit).clamp(-1.0, 1.0);
        let fade = (255.0 * (1.0 - r.abs())).round() as u8;
        let rgb = if r >= 0.0 { [255, fade, fade] } else { [fade, fade, 255] };
        px[3 * i..3 * i + 3].copy_from_slice(&rgb);
    }
    px
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn residual_map_colours_by_sign_and_greys_unused_pixels() {
        let px = residual_map(&[10.0, 0.0, 4.0], &[4.0, 4.0, 4.0], &[0, 1], 3, 1, 2.0);
        assert_eq!(&px[0..3], &[255, 0, 0]); // +3σ, saturated red
        assert_eq!(&px[3..6], &[0, 0, 255]); // −2σ, saturated blue
        assert_eq!(&px[6..9], &[128, 128, 128]);
    }

    #[test]
    fn loss_curve_draws_inside_the_canvas() {
        let px = loss_curve(&[1e6, 1e4, 1e3, 10.0, 1.0, 1.0], 200, 100);
        assert_eq!(px.len(), 3 * 200 * 100);
        assert!(px.chunks(3).any(|c| c == [20, 60, 200]));
    }
}
