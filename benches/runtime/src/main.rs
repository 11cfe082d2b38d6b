//! `runtime-bench`: runs the release authorizers as Lambda runs them, against a minimal Lambda Runtime API
//! on 127.0.0.1, and prints their cold start, warm path, memory and size beside the project's targets.
//!
//! ```text
//! runtime-bench --bin-dir DIR [--invocations N] [--cold-starts N] [--trace-ids unique|constant]
//!               [--request-event FILE]
//! ```
//!
//! `DIR` holds the release `token-authorizer` and `request-authorizer`; `scripts/bench.sh` builds them and
//! runs this. Progress goes to stderr, figures to stdout.

mod fixture;
mod function;
mod http;
mod ids;
mod jwks_server;
mod measure;
mod report;
mod runtime_api;
mod size;
mod stats;

use fixture::{Keys, Signer};
use ids::{Ids, TraceIds};
use jwks_server::JwksServer;
use measure::{MEMORY_CHECKPOINT, Subject};
use report::{Report, SubjectReport};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::{env, fs, thread};

struct Options {
    bin_dir: PathBuf,
    invocations: usize,
    cold_starts: usize,
    trace_ids: TraceIds,
    request_event: PathBuf,
}

const USAGE: &str = "usage: runtime-bench --bin-dir DIR [--invocations N] [--cold-starts N] \
                     [--trace-ids unique|constant] [--request-event FILE]";

fn main() -> ExitCode {
    match options().and_then(|options| run(&options)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("runtime-bench: {e}");
            ExitCode::FAILURE
        }
    }
}

fn options() -> Result<Options, String> {
    let mut options = Options {
        bin_dir: PathBuf::new(),
        invocations: 100_000,
        cold_starts: 20,
        trace_ids: TraceIds::Unique,
        request_event: Path::new(env!("CARGO_MANIFEST_DIR")).join("../../events/request-rest.json"),
    };
    let mut args = env::args().skip(1);
    while let Some(flag) = args.next() {
        let value = args.next().ok_or_else(|| format!("{flag} needs a value\n{USAGE}"))?;
        let count = || value.parse::<usize>().map_err(|_| format!("{flag}: not a count: {value}"));
        match flag.as_str() {
            "--bin-dir" => options.bin_dir = PathBuf::from(&value),
            "--invocations" => options.invocations = count()?,
            "--cold-starts" => options.cold_starts = count()?,
            "--trace-ids" => {
                options.trace_ids =
                    TraceIds::parse(&value).ok_or(format!("--trace-ids: unique or constant\n{USAGE}"))?
            }
            "--request-event" => options.request_event = PathBuf::from(&value),
            _ => return Err(format!("unknown flag {flag}\n{USAGE}")),
        }
    }
    if options.bin_dir.as_os_str().is_empty() {
        return Err(format!("--bin-dir is required\n{USAGE}"));
    }
    // Growth is measured from the memory checkpoint on, so the run must go past it.
    if options.invocations <= MEMORY_CHECKPOINT {
        return Err(format!("--invocations must be over {MEMORY_CHECKPOINT}"));
    }
    Ok(options)
}

fn run(options: &Options) -> Result<(), String> {
    println!(
        "runtime-bench: {} warm invocations per binary, {} cold starts per case, {} trace ids",
        options.invocations,
        options.cold_starts,
        options.trace_ids.name()
    );
    println!("machine: nproc {}, load average {} (at start)", nproc(), load_average());
    println!("function stdout/stderr: /dev/null (log writes to a real pipe cost more); MB = 10^6 bytes");

    let signer = Signer::generate()?;
    let token = signer.access_token()?;
    let floor = signer.signature_floor(&token)?;
    let jwks = signer.jwks();
    let sample =
        fs::read_to_string(&options.request_event).map_err(|e| format!("{}: {e}", options.request_event.display()))?;
    let subjects = [
        subject("TOKEN", "token-authorizer", &options.bin_dir, fixture::token_event(&token)),
        subject("REQUEST", "request-authorizer", &options.bin_dir, fixture::request_event(&sample, &token)?),
    ];
    let jwks_server = JwksServer::start(jwks.clone()).map_err(|e| format!("starting the JWKS server: {e}"))?;
    let baked = fixture::config(&Keys::Baked(&jwks));
    let fetched = fixture::config(&Keys::Uri(&jwks_server.uri()));
    let arm64_dir = size::arm64_dir(&options.bin_dir);

    let mut ids = Ids::new(options.trace_ids);
    let mut reports = Vec::new();
    for subject in &subjects {
        let cold = |config: &str, keys: &str, ids: &mut Ids| {
            if options.cold_starts > 0 {
                eprintln!("{}: {} cold starts, {keys}", subject.label, options.cold_starts);
            }
            measure::cold_starts(subject, config, ids, options.cold_starts)
                .map_err(|e| format!("{} cold start, {keys}: {e}", subject.label))
        };
        let cold_baked = cold(&baked, "pre-baked JWKS", &mut ids)?;
        let cold_fetched = cold(&fetched, "JWKS fetched from loopback", &mut ids)?;
        eprintln!("{}: {} warm invocations", subject.label, options.invocations);
        let warm = measure::warm_run(subject, &baked, &mut ids, options.invocations)
            .map_err(|e| format!("{} warm run: {e}", subject.label))?;
        let sizes = size::measure(&options.bin_dir, subject.name, &arm64_dir)?;
        reports.push(SubjectReport { label: subject.label, cold_baked, cold_fetched, warm, sizes });
    }

    Report {
        trace_ids: options.trace_ids,
        invocations: options.invocations,
        cold_starts: options.cold_starts,
        floor,
        subjects: reports,
    }
    .print();
    println!("\nmachine: nproc {}, load average {} (at the end)", nproc(), load_average());
    Ok(())
}

fn subject(label: &'static str, name: &'static str, bin_dir: &Path, event: Vec<u8>) -> Subject {
    Subject { label, name, binary: bin_dir.join(name), event: Arc::from(event) }
}

fn nproc() -> usize {
    thread::available_parallelism().map_or(0, |n| n.get())
}

fn load_average() -> String {
    let loadavg = fs::read_to_string("/proc/loadavg").unwrap_or_default();
    loadavg.split_whitespace().take(3).collect::<Vec<_>>().join(" ")
}
