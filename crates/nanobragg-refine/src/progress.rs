//! A one-line progress display on stderr, redrawn in place (only when stderr is a terminal,
//! unless forced).

use std::io::{IsTerminal, Write};

/// Progress line writer.
#[derive(Debug)]
pub struct Progress {
    on: bool,
    drawn: bool,
}

impl Progress {
    /// `force`: `Some(on)` to force it on or off, `None` for "when stderr is a terminal".
    pub fn new(force: Option<bool>) -> Self {
        Progress {
            on: force.unwrap_or_else(|| std::io::stderr().is_terminal()),
            drawn: false,
        }
    }

    /// Redraw the line.
    pub fn show(&mut self, text: &str) {
        if self.on {
            let mut e = std::io::stderr();
            let _ = write!(e, "\r\x1b[2K{text}");
            let _ = e.flush();
            self.drawn = true;
        }
    }

    /// End the line (a newline after the last redraw).
    pub fn finish(&mut self) {
        if self.on && self.drawn {
            let _ = writeln!(std::io::stderr());
            self.drawn = false;
        }
    }
}
