//! The printed report: Markdown tables of every figure, then each target with PASS or MISS.
//!
//! Sizes are in MB (10^6 bytes) so the targets read as stated; /proc gives memory in KiB.

use crate::fixture::Floor;
use crate::function::Memory;
use crate::ids::TraceIds;
use crate::measure::{ColdSummary, MEMORY_CHECKPOINT, WarmRun};
use crate::size::Sizes;
use std::time::Duration;

const FIRST_RESPONSE_TARGET: Duration = Duration::from_millis(10);
const PEAK_RSS_TARGET_BYTES: u64 = 16_000_000;
const BINARY_TARGET_BYTES: u64 = 4_000_000;
/// RSS moves in 4 KiB pages and with the allocator's arenas: below this it is noise, not growth.
const GROWTH_NOISE_KIB_PER_1000: f64 = 1.0;

pub struct Report {
    pub trace_ids: TraceIds,
    pub invocations: usize,
    pub cold_starts: usize,
    pub floor: Floor,
    pub subjects: Vec<SubjectReport>,
}

/// Everything measured for one binary; cold starts are absent when none were run.
pub struct SubjectReport {
    pub label: &'static str,
    pub cold_baked: Option<ColdSummary>,
    pub cold_fetched: Option<ColdSummary>,
    pub warm: WarmRun,
    pub sizes: Sizes,
}

impl Report {
    pub fn print(&self) {
        self.print_cold_starts();
        self.print_warm_path();
        self.print_memory();
        self.print_sizes();
        self.print_targets();
    }

    fn print_cold_starts(&self) {
        let runs = self.cold_starts;
        if runs == 0 {
            return;
        }
        println!("\n### Cold start: from spawn to the first /next and to the first response ({runs} runs each)\n");
        println!("| binary | keys | first /next: median | max | first response: median | max |");
        println!("|---|---|---|---|---|---|");
        for subject in &self.subjects {
            let cases =
                [("pre-baked JWKS", &subject.cold_baked), ("JWKS fetched (loopback HTTP)", &subject.cold_fetched)];
            for (keys, cold) in cases {
                if let Some(cold) = cold {
                    println!(
                        "| {} | {keys} | {} | {} | {} | {} |",
                        subject.label,
                        time(cold.first_poll.median),
                        time(cold.first_poll.max),
                        time(cold.first_response.median),
                        time(cold.first_response.max)
                    );
                }
            }
        }
    }

    fn print_warm_path(&self) {
        println!(
            "\n### Warm path: from writing the event on /next to reading the response POST ({} invocations, {} trace ids)\n",
            self.invocations,
            self.trace_ids.name()
        );
        println!(
            "Floor, measured in this run: one bare RS256 signature check with ring, the functions' crypto backend: \
             {} (for reference, aws-lc-rs with a parsed key: {}).",
            time(self.floor.ring),
            time(self.floor.aws_lc_parsed)
        );
        println!("A warm invocation also pays the runtime API round trip and the JSON log line.\n");
        println!("| binary | median | p99 | max |");
        println!("|---|---|---|---|");
        for subject in &self.subjects {
            let latency = subject.warm.latency;
            println!(
                "| {} | {} | {} | {} |",
                subject.label,
                time(latency.median),
                time(latency.p99),
                time(latency.max)
            );
        }
    }

    fn print_memory(&self) {
        println!("\n### Memory: /proc/<pid>/status VmHWM (peak) / VmRSS ({} trace ids)\n", self.trace_ids.name());
        println!(
            "| binary | after {MEMORY_CHECKPOINT} | after {} | RSS growth per 1,000 invocations |",
            self.invocations
        );
        println!("|---|---|---|---|");
        for subject in &self.subjects {
            let warm = &subject.warm;
            let growth = self.growth_kib_per_1000(warm);
            println!(
                "| {} | {} | {} | {growth:+.1} KiB ({:+.0} B per invocation) |",
                subject.label,
                memory(warm.at_checkpoint),
                memory(warm.at_end),
                growth * 1024.0 / 1000.0
            );
        }
    }

    fn print_sizes(&self) {
        println!("\n### Binary size: stripped release binaries\n");
        println!("| binary | x86_64 | arm64 |");
        println!("|---|---|---|");
        for subject in &self.subjects {
            let arm64 = match &subject.sizes.arm64 {
                Ok(bytes) => size(*bytes),
                Err(why) => why.clone(),
            };
            println!("| {} | {} | {arm64} |", subject.label, size(subject.sizes.x86_64));
        }
    }

    fn print_targets(&self) {
        println!("\n### Targets\n");
        let labels: Vec<_> = self.subjects.iter().map(|s| s.label).collect();
        println!("| target | {} |", labels.join(" | "));
        println!("|---|{}", "---|".repeat(labels.len()));
        self.target_row("first response within 10 ms of process start, pre-baked JWKS (median)", |s| {
            let first_response = s.cold_baked.as_ref()?.first_response;
            let figure = format!("{} (max {})", time(first_response.median), time(first_response.max));
            Some((first_response.median <= FIRST_RESPONSE_TARGET, figure))
        });
        self.target_row("peak RSS (VmHWM at the end) under 16 MB", |s| {
            let peak = s.warm.at_end.peak_kib * 1024;
            Some((peak < PEAK_RSS_TARGET_BYTES, size(peak)))
        });
        let trace_ids = self.trace_ids.name();
        let target = format!(
            "no RSS growth (under {GROWTH_NOISE_KIB_PER_1000} KiB per 1,000 invocations), {trace_ids} trace ids"
        );
        self.target_row(&target, |s| {
            let growth = self.growth_kib_per_1000(&s.warm);
            Some((growth < GROWTH_NOISE_KIB_PER_1000, format!("{growth:+.1} KiB per 1,000")))
        });
        self.target_row("stripped x86_64 binary under 4 MB", |s| {
            Some((s.sizes.x86_64 < BINARY_TARGET_BYTES, size(s.sizes.x86_64)))
        });
    }

    /// One target across the binaries: PASS or MISS with the figure, or `not measured`.
    fn target_row(&self, target: &str, verdict: impl Fn(&SubjectReport) -> Option<(bool, String)>) {
        let cells: Vec<_> = self
            .subjects
            .iter()
            .map(|s| match verdict(s) {
                Some((true, figure)) => format!("PASS {figure}"),
                Some((false, figure)) => format!("MISS {figure}"),
                None => "not measured".into(),
            })
            .collect();
        println!("| {target} | {} |", cells.join(" | "));
    }

    /// RSS growth from the checkpoint to the end, in KiB per 1,000 invocations.
    fn growth_kib_per_1000(&self, warm: &WarmRun) -> f64 {
        let grown = warm.at_end.rss_kib as f64 - warm.at_checkpoint.rss_kib as f64;
        grown * 1000.0 / (self.invocations - MEMORY_CHECKPOINT) as f64
    }
}

/// A duration in the unit that suits it.
fn time(d: Duration) -> String {
    if d >= Duration::from_millis(1) {
        format!("{:.2} ms", d.as_secs_f64() * 1e3)
    } else {
        format!("{:.1} µs", d.as_secs_f64() * 1e6)
    }
}

fn size(bytes: u64) -> String {
    format!("{:.2} MB", bytes as f64 / 1e6)
}

fn memory(m: Memory) -> String {
    format!("{} / {}", size(m.peak_kib * 1024), size(m.rss_kib * 1024))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_read_in_their_unit() {
        assert_eq!(time(Duration::from_micros(83)), "83.0 µs");
        assert_eq!(time(Duration::from_micros(2_346)), "2.35 ms");
        assert_eq!(size(5_870_416), "5.87 MB");
    }
}
