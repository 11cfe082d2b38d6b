//! The policy-cache invalidator: when a Cognito user signs out, is disabled or changes, it writes the
//! revocation entry the authorizers read and flushes API Gateway's authorizer caches. Every decision is in
//! `authorizer::invalidation`; `aws` makes the calls.

mod aws;

use authorizer::invalidation::{Invalidator, InvalidatorSettings, Report};
use lambda_runtime::{Diagnostic, LambdaEvent, service_fn};
use serde_json::value::RawValue;
use std::time::{SystemTime, UNIX_EPOCH};

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_runtime::Error> {
    authorizer::log::init();
    let settings =
        InvalidatorSettings::from_env().inspect_err(|e| tracing::error!(event = "config_error", error = %e))?;
    let plane = aws::Aws::from_env(&settings).inspect_err(|e| tracing::error!(event = "config_error", error = %e))?;
    let state: &'static (Invalidator, aws::Aws) = Box::leak(Box::new((Invalidator::new(settings), plane)));
    lambda_runtime::run(service_fn(move |event: LambdaEvent<Box<RawValue>>| handle(state, event))).await
}

async fn handle(
    (invalidator, plane): &(Invalidator, aws::Aws),
    event: LambdaEvent<Box<RawValue>>,
) -> Result<Report, Diagnostic> {
    let now = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs() as i64);
    // An error makes Lambda retry an asynchronous event (EventBridge); every step is safe to repeat.
    invalidator
        .handle(event.payload.get(), plane, now)
        .await
        .map_err(|e| Diagnostic { error_type: e.error_type().into(), error_message: e.to_string() })
}
