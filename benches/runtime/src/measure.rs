//! The measurements: cold starts, each in a fresh process, and one long warm run with the process's memory
//! read along the way. Every answer must be an Allow, so a misconfigured run cannot pass for a fast one.

use crate::function::{Function, Memory};
use crate::ids::Ids;
use crate::runtime_api::{Invocation, Outcome, RuntimeApi};
use crate::stats::Summary;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// A cold start, fetch included, must answer within this; a warm invocation too.
const ANSWER_LIMIT: Duration = Duration::from_secs(10);
/// How often a wait checks that the function is still alive.
const LIVENESS_CHECK: Duration = Duration::from_millis(100);
/// Memory is read after this many warm invocations, and again at the end.
pub const MEMORY_CHECKPOINT: usize = 1_000;

/// One authorizer binary and the event it is measured with.
pub struct Subject {
    /// `TOKEN` or `REQUEST`.
    pub label: &'static str,
    /// The binary's name, also the function's name.
    pub name: &'static str,
    pub binary: PathBuf,
    pub event: Arc<[u8]>,
}

/// Times from just before the spawn.
struct ColdStart {
    first_poll: Duration,
    first_response: Duration,
}

/// Cold starts summarised over the runs.
pub struct ColdSummary {
    pub first_poll: Summary,
    pub first_response: Summary,
}

pub struct WarmRun {
    pub latency: Summary,
    pub at_checkpoint: Memory,
    pub at_end: Memory,
}

struct Answer {
    latency: Duration,
    received: Instant,
}

/// `runs` cold starts, each in a fresh process; `None` when none are asked for.
pub fn cold_starts(subject: &Subject, config: &str, ids: &mut Ids, runs: usize) -> Result<Option<ColdSummary>, String> {
    let mut first_poll = Vec::with_capacity(runs);
    let mut first_response = Vec::with_capacity(runs);
    for _ in 0..runs {
        let cold = cold_start(subject, config, ids)?;
        first_poll.push(cold.first_poll);
        first_response.push(cold.first_response);
    }
    Ok(Summary::of(first_poll)
        .zip(Summary::of(first_response))
        .map(|(first_poll, first_response)| ColdSummary { first_poll, first_response }))
}

fn cold_start(subject: &Subject, config: &str, ids: &mut Ids) -> Result<ColdStart, String> {
    let api = RuntimeApi::start(subject.name).map_err(|e| format!("starting the runtime API: {e}"))?;
    // Queued before the spawn, so the first `/next` is answered at once.
    let request_id = queue(&api, ids, subject);
    let (mut function, started) = spawn(subject, &api, config)?;
    let answer = wait(&api, &mut function, &request_id)?;
    let first_poll = api.first_poll().ok_or("a response came before any /next")?;
    Ok(ColdStart { first_poll: first_poll - started, first_response: answer.received - started })
}

/// Runs `invocations` warm invocations after the first (cold) one, which is not counted.
pub fn warm_run(subject: &Subject, config: &str, ids: &mut Ids, invocations: usize) -> Result<WarmRun, String> {
    let api = RuntimeApi::start(subject.name).map_err(|e| format!("starting the runtime API: {e}"))?;
    let (mut function, _) = spawn(subject, &api, config)?;
    let mut invoke = |function: &mut Function| {
        let request_id = queue(&api, ids, subject);
        wait(&api, function, &request_id)
    };
    invoke(&mut function)?;
    let mut latencies = Vec::with_capacity(invocations);
    let mut at_checkpoint = None;
    for done in 1..=invocations {
        latencies.push(invoke(&mut function)?.latency);
        if done == MEMORY_CHECKPOINT {
            at_checkpoint = Some(memory(&function)?);
        }
    }
    Ok(WarmRun {
        latency: Summary::of(latencies).ok_or("no invocations")?,
        at_checkpoint: at_checkpoint.ok_or(format!("fewer than {MEMORY_CHECKPOINT} invocations"))?,
        at_end: memory(&function)?,
    })
}

fn spawn(subject: &Subject, api: &RuntimeApi, config: &str) -> Result<(Function, Instant), String> {
    Function::spawn(&subject.binary, subject.name, api.addr(), config)
        .map_err(|e| format!("starting {}: {e}", subject.binary.display()))
}

fn memory(function: &Function) -> Result<Memory, String> {
    function.memory().map_err(|e| format!("reading the function's memory: {e}"))
}

fn queue(api: &RuntimeApi, ids: &mut Ids, subject: &Subject) -> String {
    let (request_id, trace_id) = ids.next_pair();
    api.queue(Invocation { request_id: request_id.clone(), trace_id, event: Arc::clone(&subject.event) });
    request_id
}

/// Waits for the answer to `request_id`, which must be an Allow.
fn wait(api: &RuntimeApi, function: &mut Function, request_id: &str) -> Result<Answer, String> {
    let deadline = Instant::now() + ANSWER_LIMIT;
    loop {
        match api.outcome(LIVENESS_CHECK) {
            Some(Outcome::Response { request_id: id, latency, received, body }) => {
                if id != request_id {
                    return Err(format!("expected the response to {request_id}, got one to {id}"));
                }
                if !body.windows(7).any(|w| w == b"\"Allow\"") {
                    return Err(format!("expected an Allow, got {}", String::from_utf8_lossy(&body)));
                }
                return Ok(Answer { latency, received });
            }
            Some(Outcome::Failed(why)) => return Err(why),
            None => {
                if let Some(why) = function.exited() {
                    return Err(why);
                }
                if Instant::now() > deadline {
                    return Err(format!("no answer to {request_id} within {ANSWER_LIMIT:?}"));
                }
            }
        }
    }
}
