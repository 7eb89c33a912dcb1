//! What the CLI shows while it renders: `-trace_pixel` and `-printout` lines on stdout, and a
//! progress bar on stderr.

use std::io::{IsTerminal, Write};
use std::time::{Duration, Instant};

use nanobragg::scene::IoScene;
use nanobragg::trace::{pixel_trace_lines, printout_lines, PixelReport, ProbeSelection, RenderObserver};

/// The CLI's render observer.
pub struct CliObserver {
    fpixels: usize,
    /// Traced pixel index (`slow·fpixels + fast`).
    trace: Option<usize>,
    printout: Printout,
    progress: Option<ProgressBar>,
}

/// Which pixels `-printout` prints.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Printout {
    Off,
    All,
    Pixel(usize),
}

impl CliObserver {
    /// From the I/O options of the scene, for a detector `fpixels × spixels`. Pixels outside
    /// the detector are never reached, as in the C program (nothing is printed for them).
    pub fn new(io: &IoScene, fpixels: usize, spixels: usize) -> Self {
        let index = |fast: i64, slow: i64| {
            (fast >= 0 && slow >= 0 && (fast as usize) < fpixels && (slow as usize) < spixels)
                .then(|| slow as usize * fpixels + fast as usize)
        };
        let trace = io.trace_pixel.and_then(|[s, f]| index(f, s));
        let printout = match (io.printout, io.printout_pixel) {
            (false, _) => Printout::Off,
            (true, None) => Printout::All,
            (true, Some([f, s])) => index(f, s).map_or(Printout::Off, Printout::Pixel),
        };
        // As in the C program the progress meter gives way to -printout; ours is also off
        // unless stderr is a terminal.
        let wanted = io.progress.unwrap_or(true) && printout == Printout::Off;
        let progress = (wanted && std::io::stderr().is_terminal()).then(|| ProgressBar::new("pixels"));
        CliObserver {
            fpixels,
            trace,
            printout,
            progress,
        }
    }

    /// Whether a pixel trace was asked for (and lies on the detector).
    pub fn traces(&self) -> bool {
        self.trace.is_some()
    }

    /// Clear the progress bar line, if one was drawn.
    pub fn finish(&mut self) {
        if let Some(bar) = &mut self.progress {
            bar.clear();
        }
    }
}

impl RenderObserver for CliObserver {
    fn selection(&self) -> ProbeSelection {
        if self.printout == Printout::All {
            return ProbeSelection::All;
        }
        let mut pixels: Vec<usize> = self.trace.into_iter().collect();
        if let Printout::Pixel(p) = self.printout {
            pixels.push(p);
        }
        if pixels.is_empty() {
            ProbeSelection::None
        } else {
            ProbeSelection::Pixels(pixels)
        }
    }

    fn pixel(&mut self, report: &PixelReport) {
        let index = report.slow * self.fpixels + report.fast;
        if self.trace == Some(index) {
            for line in pixel_trace_lines(report) {
                say!("{line}");
            }
        }
        let print = match self.printout {
            Printout::Off => false,
            Printout::All => true,
            Printout::Pixel(p) => p == index,
        };
        if print {
            for line in printout_lines(report) {
                say!("{line}");
            }
        }
    }

    fn progress(&mut self, done: usize, total: usize) {
        if let Some(bar) = &mut self.progress {
            bar.update(done, total);
        }
    }
}

/// A one-line bar on stderr, drawn only once a render has run for a second, at most ten times
/// a second, counting `unit`s (pixels, shots).
pub(crate) struct ProgressBar {
    start: Instant,
    last: Option<Instant>,
    drawn: bool,
    unit: &'static str,
}

impl ProgressBar {
    const DELAY: Duration = Duration::from_secs(1);
    const PERIOD: Duration = Duration::from_millis(100);
    const WIDTH: usize = 30;

    pub(crate) fn new(unit: &'static str) -> Self {
        ProgressBar {
            start: Instant::now(),
            last: None,
            drawn: false,
            unit,
        }
    }

    pub(crate) fn update(&mut self, done: usize, total: usize) {
        let now = Instant::now();
        let elapsed = now - self.start;
        if elapsed < Self::DELAY || self.last.is_some_and(|t| now - t < Self::PERIOD) {
            return;
        }
        self.last = Some(now);
        let frac = if total == 0 { 1.0 } else { done as f64 / total as f64 };
        let filled = (frac * Self::WIDTH as f64).round() as usize;
        let left = if frac > 0.0 {
            format!(", ~{:.0} s left", elapsed.as_secs_f64() * (1.0 - frac) / frac)
        } else {
            String::new()
        };
        let mut err = std::io::stderr().lock();
        let _ = write!(
            err,
            "\r\x1b[K[{}{}] {:3.0}% {done}/{total} {}, {:.1} s{left}",
            "#".repeat(filled),
            "-".repeat(Self::WIDTH - filled.min(Self::WIDTH)),
            100.0 * frac,
            self.unit,
            elapsed.as_secs_f64(),
        );
        let _ = err.flush();
        self.drawn = true;
    }

    pub(crate) fn clear(&mut self) {
        if self.drawn {
            let _ = write!(std::io::stderr().lock(), "\r\x1b[K");
            self.drawn = false;
        }
    }
}
