//! Progress of long commands (`eval`, `explain`, `compare`, `tables`, `evaluate`): an indicatif
//! bar with an ETA on a terminal, a plain line at each quarter otherwise (so a log shows the
//! run is alive), nothing with `--quiet`; and one closing throughput line.

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use std::io::IsTerminal;
use std::time::Instant;

pub struct Progress {
    what: String,
    unit: &'static str,
    len: usize,
    done: usize,
    quiet: bool,
    /// The bar on a terminal; `None` when printing quarter lines or quiet.
    bar: Option<ProgressBar>,
    /// Quarters (1..=3) already reported as lines.
    quarters: usize,
    t0: Instant,
}

impl Progress {
    /// `len` items of `unit` (e.g. "images") for the step named `what` (e.g. "eval").
    pub fn new(what: &str, len: usize, unit: &'static str, quiet: bool) -> Progress {
        let bar = (!quiet && std::io::stdout().is_terminal()).then(|| {
            let pb = ProgressBar::with_draw_target(Some(len as u64), ProgressDrawTarget::stdout());
            pb.set_style(
                ProgressStyle::with_template(
                    "{prefix} [{bar:30}] {pos}/{len} {msg} {per_sec} ETA {eta}",
                )
                .expect("valid template")
                .progress_chars("=> "),
            );
            pb.set_prefix(what.to_string());
            pb.set_message(unit);
            pb
        });
        Progress {
            what: what.to_string(),
            unit,
            len,
            done: 0,
            quiet,
            bar,
            quarters: 0,
            t0: Instant::now(),
        }
    }

    /// A progress that shows nothing (library calls without a user watching).
    pub fn hidden() -> Progress {
        Progress::new("", 0, "items", true)
    }

    /// Whether anything is shown: callers wait for the device between steps only then, so
    /// the bar follows the work rather than the queueing of it.
    pub fn visible(&self) -> bool {
        !self.quiet
    }

    /// `n` more items done.
    pub fn inc(&mut self, n: usize) {
        self.done += n;
        if let Some(bar) = &self.bar {
            bar.inc(n as u64);
            return;
        }
        // The last quarter is the closing throughput line.
        if self.quiet || self.done >= self.len {
            return;
        }
        let quarter = (4 * self.done / self.len).min(3);
        if quarter > self.quarters {
            self.quarters = quarter;
            let secs = self.t0.elapsed().as_secs_f64();
            let rate = self.done as f64 / secs.max(1e-9);
            let eta = (self.len - self.done.min(self.len)) as f64 / rate.max(1e-9);
            println!(
                "{}: {}/{} {} ({}%), {rate:.1} {}/s, ETA {eta:.0} s",
                self.what,
                self.done,
                self.len,
                self.unit,
                100 * self.done / self.len,
                self.unit
            );
        }
    }

    /// Seconds since the start.
    pub fn seconds(&self) -> f64 {
        self.t0.elapsed().as_secs_f64()
    }

    /// Clears the bar and prints "`what`: N unit in S s (R unit/s)" unless quiet.
    pub fn finish(self) {
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
        if !self.quiet {
            println!("{}", self.throughput());
        }
    }

    /// The closing line.
    pub fn throughput(&self) -> String {
        let secs = self.seconds();
        format!(
            "{}: {} {} in {secs:.1} s ({:.1} {}/s)",
            self.what,
            self.done,
            self.unit,
            self.done as f64 / secs.max(1e-9),
            self.unit
        )
    }
}
