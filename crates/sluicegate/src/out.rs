//! Where command output goes: `out!`/`outln!` (stdout) and `errln!` (stderr) are the only
//! printing in this crate (`clippy::print_stdout` is denied), so every byte passes here, and:
//!
//! - reaches the terminal with its control characters visible (`core::display::screen`), so
//!   a view that missed a field still cannot move the cursor, recolour or relink the screen
//!   (JSON goes through `display::inert_json` first, which leaves nothing for this to change);
//! - stops when the reader leaves (`sluicegate apply latest | head -1`) without stopping the
//!   command: what it did stands, and so does its exit status. `outln!` would panic (exit
//!   101) after the write was made.

use std::io::{ErrorKind, Write};
use std::process::ExitCode;
use std::sync::OnceLock;

use sluicegate_core::display::screen;

/// The first failed write to stdout (`None`: the reader left); nothing is printed after it.
static FAILED: OnceLock<Option<String>> = OnceLock::new();

/// Print to stdout, controls visible except line breaks.
pub fn print(s: &str) {
    if FAILED.get().is_some() {
        return;
    }
    let mut stdout = std::io::stdout().lock();
    if let Err(e) = stdout
        .write_all(screen(s).as_bytes())
        .and_then(|()| stdout.flush())
    {
        let _ = FAILED.set((e.kind() != ErrorKind::BrokenPipe).then(|| e.to_string()));
    }
}

/// Print to stderr, controls visible; a stderr nobody reads is no reason to fail either.
pub fn err(s: &str) {
    let _ = std::io::stderr().write_all(screen(s).as_bytes());
}

/// The command's exit status, unless its output was lost to anything but a reader that left
/// (a full disk): a run whose answer never arrived must not look clean.
pub fn finish(code: ExitCode) -> ExitCode {
    match FAILED.get() {
        Some(Some(e)) => {
            err(&format!("error: cannot write output: {e}\n"));
            ExitCode::from(2)
        }
        _ => code,
    }
}

macro_rules! out {
    ($($arg:tt)*) => { $crate::out::print(&format!($($arg)*)) };
}

macro_rules! outln {
    () => { $crate::out::print("\n") };
    ($($arg:tt)*) => { $crate::out::print(&format!("{}\n", format_args!($($arg)*))) };
}

macro_rules! errln {
    ($($arg:tt)*) => { $crate::out::err(&format!("{}\n", format_args!($($arg)*))) };
}

/// The printer `sluicegate-ops` commands write through: the same rules as `out!`/`errln!`.
pub struct Screen;

impl sluicegate_ops::Printer for Screen {
    fn out(&mut self, text: &str) {
        print(text);
    }
    fn err(&mut self, text: &str) {
        err(text);
    }
    fn closed(&self) -> bool {
        FAILED.get().is_some()
    }
}
