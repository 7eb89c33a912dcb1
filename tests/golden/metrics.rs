//! How a render compares with the C image: the figures of `shared/tools/parity_score.py`
//! ([`compare`] → [`Metrics`]) and the two bars a suite holds them to ([`Bar`]).

/// f64 bar: max |Δ| ≤ this × max |C image|.
pub const F64_MAX_REL: f64 = 1e-5;
/// f64 bar: Pearson correlation ≥ this.
pub const F64_MIN_CORR: f64 = 0.99999;
/// f32 bar: Pearson correlation ≥ this.
pub const F32_MIN_CORR: f64 = 0.9999;
/// f32 bar: |Σ ours / Σ C − 1| ≤ this.
pub const F32_MAX_SUM_DEV: f64 = 1e-3;

/// How our image compares with the C image.
#[derive(Debug, Clone, Copy)]
pub struct Metrics {
    /// Pearson correlation (1 when both images are constant and agree, 0 if constant and not).
    pub corr: f64,
    /// max |ours − C| / max |C| (max |C| taken as 1 for an all-zero image).
    pub max_rel: f64,
    /// Σ ours / Σ C (1 when both sums are 0).
    pub sum_ratio: f64,
    /// max |ours − C| in photons.
    pub max_abs: f64,
    /// Both images have their maximum at the same pixel.
    pub argmax_same: bool,
}

impl Metrics {
    /// The f64 bar: max |Δ| ≤ 1e-5 × max |C| and correlation ≥ 0.99999.
    pub fn exact_f64(&self) -> bool {
        self.max_rel <= F64_MAX_REL && self.corr >= F64_MIN_CORR
    }
    /// The f32 bar: correlation ≥ 0.9999 and |sum ratio − 1| ≤ 1e-3.
    pub fn pass_f32(&self) -> bool {
        self.corr >= F32_MIN_CORR && (self.sum_ratio - 1.0).abs() <= F32_MAX_SUM_DEV
    }
    /// Whether these figures meet `bar`.
    pub fn meets(&self, bar: Bar) -> bool {
        match bar {
            Bar::F64 => self.exact_f64(),
            Bar::F32 => self.pass_f32(),
        }
    }
}

fn argmax(v: &[f32]) -> usize {
    let mut best = 0;
    for (i, &x) in v.iter().enumerate() {
        if x > v[best] {
            best = i;
        }
    }
    best
}

/// Compare `ours` with the C image `c` (same layout), in f64 — the same figures as
/// `shared/tools/parity_score.py`.
pub fn compare(c: &[f32], ours: &[f32]) -> Result<Metrics, String> {
    if c.len() != ours.len() {
        return Err(format!("{} pixels, C has {}", ours.len(), c.len()));
    }
    if let Some(i) = ours.iter().position(|x| !x.is_finite()) {
        return Err(format!(
            "non-finite pixel {} at index {i} ({} in all)",
            ours[i],
            ours.iter().filter(|x| !x.is_finite()).count()
        ));
    }
    let n = c.len().max(1) as f64;
    let (mut csum, mut psum, mut cmax, mut dmax) = (0.0f64, 0.0f64, 0.0f64, 0.0f64);
    for (&a, &b) in c.iter().zip(ours) {
        let (a, b) = (a as f64, b as f64);
        csum += a;
        psum += b;
        cmax = cmax.max(a.abs());
        dmax = dmax.max((a - b).abs());
    }
    let max_rel = dmax / if cmax > 0.0 { cmax } else { 1.0 };
    let sum_ratio = if csum != 0.0 {
        psum / csum
    } else if psum == 0.0 {
        1.0
    } else {
        f64::INFINITY
    };
    let (cm, pm) = (csum / n, psum / n);
    let (mut sxy, mut sxx, mut syy) = (0.0f64, 0.0f64, 0.0f64);
    for (&a, &b) in c.iter().zip(ours) {
        let (x, y) = (a as f64 - cm, b as f64 - pm);
        sxy += x * y;
        sxx += x * x;
        syy += y * y;
    }
    let corr = if sxx > 0.0 && syy > 0.0 {
        sxy / (sxx * syy).sqrt()
    } else if max_rel < 1e-6 {
        1.0
    } else {
        0.0
    };
    Ok(Metrics {
        corr,
        max_rel,
        sum_ratio,
        max_abs: dmax,
        argmax_same: argmax(c) == argmax(ours),
    })
}

/// Which bar a parity suite requires of every case not in the deferral table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Bar {
    F64,
    F32,
}

impl Bar {
    /// The bar in words, for the suite's first line.
    pub fn describe(self) -> &'static str {
        match self {
            Bar::F64 => "f64 (max|Δ| ≤ 1e-5·max(C), corr ≥ 0.99999)",
            Bar::F32 => "f32 (corr ≥ 0.9999, |sum ratio − 1| ≤ 1e-3)",
        }
    }
}
