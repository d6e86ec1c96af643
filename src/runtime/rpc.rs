//! The wire format between actor nodes: requests and replies carried as in-memory payloads
//! over `madsim::net` (no serialisation: the simulated network passes `Box<dyn Any>`).

use crate::ledgers::{FailureKind, Message};

/// Tag of every request; replies use a per-call tag.
pub const REQUEST_TAG: u64 = 1;

/// What a request carries.
#[derive(Clone, Debug)]
pub enum Body {
    /// One message for a ledger.
    Deliver(Message),
    /// A queue batch for the consumer (the platform ledger).
    Batch(Vec<Message>),
}

/// A request: its body and where to answer.
#[derive(Clone, Debug)]
pub struct Request {
    /// Reply tag chosen by the caller.
    pub reply_tag: u64,
    /// The content.
    pub body: Body,
}

/// A reply: accepted (stored or duplicate), or why not.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Reply {
    /// The receiver's answer.
    pub outcome: Result<(), FailureKind>,
}
