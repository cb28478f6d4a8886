//! The problems the OpenAPI document shows as examples, each built by the code that sends it, so the two cannot drift.
//! The handlers' `#[utoipa::path]` attributes and the shared problems of `openapi` both take their examples here.

use crate::problem::Problem;

/// How long the document's examples of a 429 say to wait.
pub(crate) const EXAMPLE_WAIT_SECS: i64 = 30;

/// The problem as the service sends it, for an example in the document.
pub(crate) fn sent(problem: impl Into<Problem>) -> serde_json::Value {
    serde_json::to_value(problem.into()).expect("a problem serialises")
}

/// The problem a refused input gets, for an example in the document: `refused(object_id("42"))`.
pub(crate) fn refused<T>(outcome: Result<T, Problem>) -> serde_json::Value {
    match outcome {
        Err(problem) => sent(problem),
        Ok(_) => panic!("an example of a refused input was accepted"),
    }
}

/// [`EXAMPLE_WAIT_SECS`], for the examples of a locked account.
pub(crate) fn example_wait() -> chrono::Duration {
    chrono::Duration::seconds(EXAMPLE_WAIT_SECS)
}
