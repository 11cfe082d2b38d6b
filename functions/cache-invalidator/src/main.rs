//! The policy-cache invalidator: when a Cognito user signs out, is disabled or changes, it writes the
//! revocation entry the authorizers read and flushes API Gateway's authorizer caches. Every decision is in
//! `authorizer::invalidation`; `aws` makes the calls.

mod aws;

use authorizer::invalidation::{Invalidator, InvalidatorSettings};
use authorizer::runtime::{self, Failure, Invocation};
use std::process::ExitCode;
use std::time::{SystemTime, UNIX_EPOCH};

#[tokio::main(flavor = "current_thread")]
async fn main() -> ExitCode {
    authorizer::log::init();
    let settings = || InvalidatorSettings::from_env().and_then(|s| Ok((aws::Aws::from_env(&s)?, Invalidator::new(s))));
    let (runtime, state) = match runtime::start(settings).await {
        Ok(started) => started,
        Err(code) => return code,
    };
    runtime
        .serve(move |invocation: Invocation| async move {
            let (plane, invalidator) = state;
            let now = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs() as i64);
            // A failure makes Lambda retry an asynchronous event (EventBridge); every step is safe to repeat.
            invalidator
                .handle(&invocation.event, plane, now)
                .await
                .map_err(|e| Failure::new(e.error_type(), e.to_string()))
        })
        .await
}
