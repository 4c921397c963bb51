//! Printing to standard output that never panics and never stops a run: `println!` panics when stdout is a
//! closed pipe (`badgateway run | head -1`), which would lose the run and its `--json`. [`say!`] and
//! [`say_raw!`] write what they can and drop the rest once the reader has gone; the run goes on, its files are
//! written and its exit status is the run's. Every command prints through them (never `println!`).

use std::fmt;
use std::io::Write as _;
use std::sync::atomic::{AtomicBool, Ordering};

/// Set once a write to stdout failed (the reader closed the pipe): nothing more is attempted.
static GONE: AtomicBool = AtomicBool::new(false);

/// Writes `text` to stdout, dropping it when stdout is gone.
pub fn write(text: fmt::Arguments<'_>) {
    if GONE.load(Ordering::Relaxed) {
        return;
    }
    let mut out = std::io::stdout().lock();
    if out.write_fmt(text).and_then(|()| out.flush()).is_err() {
        GONE.store(true, Ordering::Relaxed);
    }
}

/// `println!` that survives a closed stdout.
macro_rules! say {
    () => {
        $crate::stdout::write(format_args!("\n"))
    };
    ($($arg:tt)*) => {
        $crate::stdout::write(format_args!("{}\n", format_args!($($arg)*)))
    };
}

/// `print!` that survives a closed stdout.
macro_rules! say_raw {
    ($($arg:tt)*) => {
        $crate::stdout::write(format_args!($($arg)*))
    };
}
