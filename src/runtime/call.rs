//! What the world and the transports hand each other: the calls the world asks a transport to
//! carry out, what a receiver answers, and what a transport must do after each world step.
//! The world imports no transport: everything a transport needs comes back in these types.

use crate::ledgers::{CallId, DeliveryOutcome, Message, MessageKey};
use crate::model::{ActorId, FactData};
use crate::runtime::hostile::HostileKind;
use crate::runtime::reader::Query;
use crate::runtime::spec::ActorIdx;

/// The call id of a forged fact (the `hostile_facts` fault): no client issued it, and its
/// outcome reaches no client.
pub const FORGED_CALL_ID: CallId = CallId::MAX;

/// What a request carries.
#[derive(Clone, Debug)]
pub enum Body {
    /// One message for a ledger.
    Deliver(Message),
    /// A queue batch for the consumer Worker; `batch_id` is the queue's call id of it.
    Batch {
        /// The queue's call id of this delivery.
        batch_id: CallId,
        /// The messages, in delivery order.
        messages: Vec<Message>,
    },
    /// A query of the read side.
    Read(Query),
}

/// Estimated bytes of a fact on the wire besides its names and data.
const FACT_ENVELOPE_BYTES: u64 = 64;
/// Estimated bytes of an SDK fact's data (its JSON is about this size).
const SDK_DATA_BYTES: u64 = 160;
/// Estimated bytes of a tenant payload or a query.
const SMALL_MESSAGE_BYTES: u64 = 256;

impl Body {
    /// The request's estimated size, bytes (for the `max_queued_bytes` overload trigger): a
    /// fact's names and data, a fixed size for payloads and queries. Forged facts with arbitrary
    /// JSON data are measured exactly.
    pub fn approx_bytes(&self) -> u64 {
        match self {
            Body::Deliver(message) => message_bytes(message),
            Body::Batch { messages, .. } => messages.iter().map(message_bytes).sum(),
            Body::Read(_) => SMALL_MESSAGE_BYTES,
        }
    }

    /// An empty body: what stays with a call while its body travels.
    pub fn travelling() -> Self {
        Body::Read(Query::Stats)
    }
}

fn message_bytes(message: &Message) -> u64 {
    let fact = match message {
        Message::SdkFact(fact) | Message::ChildFact { fact, .. } => fact,
        Message::TenantStats(_) => return SMALL_MESSAGE_BYTES,
    };
    let names = [
        fact.id.actor.len() + 20,
        fact.fact_type.len(),
        fact.subtype.len(),
        fact.entity_id.len(),
        fact.entity_type.len(),
        fact.tenant_id.len(),
    ];
    let data = match &fact.data {
        FactData::Sdk(_) => SDK_DATA_BYTES,
        FactData::Json(value) => value.to_string().len() as u64,
    };
    FACT_ENVELOPE_BYTES + names.iter().sum::<usize>() as u64 + data
}

/// A delivery the transport must carry out over the network.
#[derive(Clone, Debug)]
pub struct Call {
    /// The calling actor.
    pub caller: ActorIdx,
    /// Its incarnation: outcomes for an older one go nowhere.
    pub incarnation: u64,
    /// The target actor, if it exists.
    pub target: Option<ActorIdx>,
    /// The target's name.
    pub target_id: ActorId,
    /// The caller's call id.
    pub call_id: CallId,
    /// What to deliver.
    pub body: Body,
    /// The delivered message's identity (none for queue batches).
    pub key: Option<MessageKey>,
    /// No answer within this counts as a timeout, ms.
    pub timeout_ms: u64,
    /// A forged fact (the `hostile_facts` fault): its outcome only counts, it reaches no
    /// client.
    pub hostile: Option<HostileKind>,
}

/// Names a request whose answer the receiver gives later, in a [`Step`]'s `replies` (the
/// consumer Worker answers the queue once the platform answered each message).
pub type ReplyToken = u64;

/// What the transport must do after a world step.
#[derive(Debug, Default)]
#[must_use = "a step's calls must be sent and a moved timer looked at again"]
pub struct Step {
    /// Calls to carry out, in order.
    pub calls: Vec<Call>,
    /// The stepping actor's next timer may have moved: look at `World::next_timer_ms` again.
    pub timer_moved: bool,
    /// Answers to requests the stepping actor deferred ([`Served::deferred`]), to send now.
    pub replies: Vec<(ReplyToken, DeliveryOutcome)>,
}

/// What a receiver answers a request, and when.
#[derive(Debug)]
#[must_use = "a request's answer must be sent"]
pub struct Served {
    /// The answer.
    pub outcome: DeliveryOutcome,
    /// Delay before the answer leaves (service time, slowness), ms.
    pub reply_delay_ms: u64,
    /// What serving it asks of the transport.
    pub step: Step,
    /// The answer comes later, in a step's `replies` under this token (`outcome` and
    /// `reply_delay_ms` are then unused). A receiver that dies first never answers.
    pub deferred: Option<ReplyToken>,
}
