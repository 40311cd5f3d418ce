//! Fixture for `write_fixture_is_refused`: a model-facing crate reaching write handles.

use sluicegate_runtime::ReviewApi;
use sluicegate_source::writeback::apply_guarded_update;

pub fn decide_for_the_model(api: &AgentApi, id: &str) {
    // A handle that leads to the ledger, then a write on it: compiles without naming the type.
    api.ledger().decide(id, "approve");
    api.ledger()
        .queue_job(id);
}

pub fn through_paths(review: &ReviewApi, store: &sluicegate::Ledger) {
    let _ = ReviewApi::apply(review, "p1");
    let _ = sluicegate::Ledger::record_receipt(store, "p1");
    tracing::info!("{:?}", review.approve("p1"));
    let _ = format!("{}", std::any::type_name::<ReviewApi>());
}
