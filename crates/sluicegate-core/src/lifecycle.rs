//! The proposal lifecycle: states, legal transitions and the derived display values.
//!
//! The ledger records a state change only through [`transition`], in the same transaction that
//! appends the event, so a proposal's state is always the projection of its recorded events.

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum State {
    PendingReview,
    Approved,
    Rejected,
    Canceled,
    PendingWorker,
    Applied,
    Conflict,
    Failed,
}

impl State {
    pub const ALL: [State; 8] = [
        State::PendingReview,
        State::Approved,
        State::Rejected,
        State::Canceled,
        State::PendingWorker,
        State::Applied,
        State::Conflict,
        State::Failed,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            State::PendingReview => "pending_review",
            State::Approved => "approved",
            State::Rejected => "rejected",
            State::Canceled => "canceled",
            State::PendingWorker => "pending_worker",
            State::Applied => "applied",
            State::Conflict => "conflict",
            State::Failed => "failed",
        }
    }

    pub fn parse(s: &str) -> Option<State> {
        Some(match s {
            "pending_review" => State::PendingReview,
            "approved" => State::Approved,
            "rejected" => State::Rejected,
            "canceled" => State::Canceled,
            "pending_worker" => State::PendingWorker,
            "applied" => State::Applied,
            "conflict" => State::Conflict,
            "failed" => State::Failed,
            _ => return None,
        })
    }

    /// Human form: `pending review`, `already applied`.
    pub fn human(self) -> String {
        self.as_str().replace('_', " ")
    }

    /// Derived approval status (store.md §4).
    pub fn approval_status(self) -> &'static str {
        match self {
            State::Rejected => "rejected",
            State::Canceled => "canceled",
            State::PendingReview => "pending",
            _ => "approved",
        }
    }

    /// Derived writeback status.
    pub fn writeback_status(self) -> &'static str {
        match self {
            State::PendingWorker => "pending_worker",
            State::Applied => "applied",
            State::Conflict => "conflict",
            State::Failed => "failed",
            _ => "not_applied",
        }
    }

    /// One line on where approval stands, for first-look views.
    pub fn approval_boundary(self) -> &'static str {
        match self {
            State::PendingReview => "required outside MCP",
            State::Approved | State::PendingWorker => {
                "approved outside MCP; waiting for trusted worker"
            }
            State::Applied => "approved outside MCP; writeback applied",
            State::Conflict => "approved outside MCP; writeback blocked by conflict guard",
            State::Failed => "approved outside MCP; writeback failed safely",
            State::Rejected => "rejected outside MCP",
            State::Canceled => "canceled",
        }
    }
}

/// What happened to a proposal.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transition {
    Approve,
    Reject,
    /// An approved proposal handed to a worker (a job was recorded).
    QueueForWorker,
    /// A receipt arrived: applied / already applied, conflict, failed, canceled.
    Receipt(ReceiptOutcome),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReceiptOutcome {
    Applied,
    Conflict,
    Failed,
    Canceled,
}

/// The stable codes of refused transitions (store.md §3.3), printed by the CLI and kept by
/// the ledger's own refusal codes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, strum::VariantArray)]
pub enum TransitionRefusal {
    /// Only a proposal pending review can be approved.
    NotPendingReview,
    /// Only a proposal pending review or approved (not yet handed to a worker) can be rejected.
    NotRejectable,
    /// Work for a worker and receipts need an approved proposal.
    NotApproved,
}

impl TransitionRefusal {
    /// Every transition refusal (derived, so it cannot miss a variant).
    pub const ALL: &'static [TransitionRefusal] =
        <TransitionRefusal as strum::VariantArray>::VARIANTS;

    pub fn as_str(self) -> &'static str {
        match self {
            TransitionRefusal::NotPendingReview => "PROPOSAL_NOT_PENDING_REVIEW",
            TransitionRefusal::NotRejectable => "PROPOSAL_NOT_REJECTABLE",
            TransitionRefusal::NotApproved => "PROPOSAL_NOT_APPROVED",
        }
    }
}

/// Why a transition is not allowed from the current state.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IllegalTransition {
    pub code: TransitionRefusal,
    pub from: State,
}

/// The state after `t`, or why `t` is illegal from `from` (store.md §3.3, §4).
pub fn transition(from: State, t: Transition) -> Result<State, IllegalTransition> {
    use State::*;
    let illegal = |code| Err(IllegalTransition { code, from });
    match t {
        Transition::Approve => match from {
            PendingReview => Ok(Approved),
            _ => illegal(TransitionRefusal::NotPendingReview),
        },
        Transition::Reject => match from {
            PendingReview | Approved => Ok(Rejected),
            _ => illegal(TransitionRefusal::NotRejectable),
        },
        // Each apply attempt records its own job; once applied, a proposal stays applied.
        Transition::QueueForWorker => match from {
            Approved | PendingWorker | Conflict | Failed => Ok(PendingWorker),
            Applied => Ok(Applied),
            _ => illegal(TransitionRefusal::NotApproved),
        },
        // A receipt is only ever produced for approved work. Applied is final: a later
        // attempt's `already_applied`, or a racing attempt's conflict or failure, is recorded
        // beside the `applied` receipt and never makes the source look unchanged.
        Transition::Receipt(outcome) => match from {
            Applied => Ok(Applied),
            Approved | PendingWorker | Conflict | Failed => Ok(match outcome {
                ReceiptOutcome::Applied => Applied,
                ReceiptOutcome::Conflict => Conflict,
                ReceiptOutcome::Failed => Failed,
                ReceiptOutcome::Canceled => Canceled,
            }),
            _ => illegal(TransitionRefusal::NotApproved),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every state × every transition: the state it leads to, or the refusal code.
    #[test]
    fn every_state_and_transition() {
        use ReceiptOutcome as R;
        use State::*;
        use Transition as T;
        let transitions = [
            T::Approve,
            T::Reject,
            T::QueueForWorker,
            T::Receipt(R::Applied),
            T::Receipt(R::Conflict),
            T::Receipt(R::Failed),
            T::Receipt(R::Canceled),
        ];
        const NOT_PENDING: TransitionRefusal = TransitionRefusal::NotPendingReview;
        const NOT_REJECTABLE: TransitionRefusal = TransitionRefusal::NotRejectable;
        const NOT_APPROVED: TransitionRefusal = TransitionRefusal::NotApproved;
        let ok = Ok::<State, TransitionRefusal>;
        let no = Err::<State, TransitionRefusal>;
        // Columns follow `transitions`.
        #[rustfmt::skip]
        let table: [(State, [Result<State, TransitionRefusal>; 7]); 8] = [
            (PendingReview, [ok(Approved), ok(Rejected), no(NOT_APPROVED), no(NOT_APPROVED), no(NOT_APPROVED), no(NOT_APPROVED), no(NOT_APPROVED)]),
            (Approved, [no(NOT_PENDING), ok(Rejected), ok(PendingWorker), ok(Applied), ok(Conflict), ok(Failed), ok(Canceled)]),
            (Rejected, [no(NOT_PENDING), no(NOT_REJECTABLE), no(NOT_APPROVED), no(NOT_APPROVED), no(NOT_APPROVED), no(NOT_APPROVED), no(NOT_APPROVED)]),
            (Canceled, [no(NOT_PENDING), no(NOT_REJECTABLE), no(NOT_APPROVED), no(NOT_APPROVED), no(NOT_APPROVED), no(NOT_APPROVED), no(NOT_APPROVED)]),
            (PendingWorker, [no(NOT_PENDING), no(NOT_REJECTABLE), ok(PendingWorker), ok(Applied), ok(Conflict), ok(Failed), ok(Canceled)]),
            (Applied, [no(NOT_PENDING), no(NOT_REJECTABLE), ok(Applied), ok(Applied), ok(Applied), ok(Applied), ok(Applied)]),
            (Conflict, [no(NOT_PENDING), no(NOT_REJECTABLE), ok(PendingWorker), ok(Applied), ok(Conflict), ok(Failed), ok(Canceled)]),
            (Failed, [no(NOT_PENDING), no(NOT_REJECTABLE), ok(PendingWorker), ok(Applied), ok(Conflict), ok(Failed), ok(Canceled)]),
        ];
        for (from, row) in table {
            for (t, expected) in transitions.iter().zip(row) {
                let got = transition(from, *t).map_err(|e| {
                    assert_eq!(e.from, from);
                    e.code
                });
                assert_eq!(got, expected, "{from:?} + {t:?}");
            }
        }
    }

    #[test]
    fn all_lists_every_state_once_in_order() {
        // Exhaustive: a new state does not compile here until it has a place in `ALL`.
        let position = |s: State| match s {
            State::PendingReview => 0,
            State::Approved => 1,
            State::Rejected => 2,
            State::Canceled => 3,
            State::PendingWorker => 4,
            State::Applied => 5,
            State::Conflict => 6,
            State::Failed => 7,
        };
        for (i, s) in State::ALL.into_iter().enumerate() {
            assert_eq!(position(s), i, "{s:?}");
        }
    }

    #[test]
    fn states_round_trip_through_their_names() {
        for s in State::ALL {
            assert_eq!(State::parse(s.as_str()), Some(s));
        }
        assert_eq!(State::parse("approved "), None);
    }

    #[test]
    fn refusal_codes_keep_their_strings() {
        let strings: Vec<&str> = TransitionRefusal::ALL.iter().map(|c| c.as_str()).collect();
        assert_eq!(
            strings,
            [
                "PROPOSAL_NOT_PENDING_REVIEW",
                "PROPOSAL_NOT_REJECTABLE",
                "PROPOSAL_NOT_APPROVED"
            ]
        );
    }
}
