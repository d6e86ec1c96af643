//! Fixtures shared by the rule tests: an entity wired to a SystemLedger, delivery by hand, and
//! a capture of `tracing` warnings.
#![allow(dead_code)]

use std::io;
use std::sync::{Arc, Mutex};
use z0sim::ledgers::{
    CallId, Effect, EntityConfig, EntityLedger, EntityStorage, FailureKind, Message,
};
use z0sim::model::{
    ActorId, BootstrapConfig, BreakerConfig, EntityMeta, Fact, Limits, StatsConfig,
};

/// The SystemLedger's actor name.
pub fn system() -> ActorId {
    ActorId::new("system")
}

/// An entity config with the defaults, wired to `system`.
pub fn entity_config(name: &str) -> EntityConfig {
    EntityConfig {
        actor: ActorId::new(format!("entity:acme/{name}")),
        meta: EntityMeta {
            entity_id: name.into(),
            entity_type: "account".into(),
            tenant_id: "acme".into(),
        },
        observability_target: Some(system()),
        parent: None,
        bootstrap: BootstrapConfig::default(),
        breaker: BreakerConfig::default(),
        stats: StatsConfig::default(),
        stats_sampled: true,
        jitter_seed: 1,
        limits: Limits::default(),
    }
}

/// A started entity and its storage.
pub struct Entity {
    pub ledger: EntityLedger,
    pub storage: EntityStorage,
    pub config: EntityConfig,
}

impl Entity {
    /// Starts an entity on fresh storage at `now_ms`; returns it and the start's effects.
    pub fn start(config: EntityConfig, now_ms: u64) -> (Self, Vec<Effect>) {
        Self::start_on(config, EntityStorage::default(), now_ms)
    }

    /// Starts (or restarts) an entity on existing storage.
    pub fn start_on(
        config: EntityConfig,
        mut storage: EntityStorage,
        now_ms: u64,
    ) -> (Self, Vec<Effect>) {
        let mut effects = Vec::new();
        let (ledger, _) = EntityLedger::start(config.clone(), now_ms, &mut storage, &mut effects);
        (
            Self {
                ledger,
                storage,
                config,
            },
            effects,
        )
    }

    /// Restart: in-memory state is lost, storage survives.
    pub fn restart(self, now_ms: u64) -> (Self, Vec<Effect>) {
        Self::start_on(self.config, self.storage, now_ms)
    }

    pub fn cache_get(&mut self, now_ms: u64, hit: bool) -> Vec<Effect> {
        let mut effects = Vec::new();
        self.ledger
            .cache_get(now_ms, &mut self.storage, hit, &mut effects);
        effects
    }

    pub fn append(&mut self, now_ms: u64) -> Vec<Effect> {
        let mut effects = Vec::new();
        self.ledger
            .append_fact(
                now_ms,
                &mut self.storage,
                "account",
                "updated",
                serde_json::json!({"n": 1}),
                &mut effects,
            )
            .expect("a well-formed append is accepted");
        effects
    }

    pub fn flush(&mut self, now_ms: u64) -> Vec<Effect> {
        let mut effects = Vec::new();
        self.ledger
            .flush_stats(now_ms, &mut self.storage, &mut effects);
        effects
    }

    pub fn result(
        &mut self,
        now_ms: u64,
        target: &ActorId,
        call_id: CallId,
        outcome: Result<(), FailureKind>,
    ) -> Vec<Effect> {
        let mut effects = Vec::new();
        self.ledger
            .on_delivery_result(now_ms, target, call_id, outcome, &mut effects);
        effects
    }
}

/// A `Send` effect, destructured.
#[derive(Clone, Debug)]
pub struct Sent {
    pub target: ActorId,
    pub call_id: CallId,
    pub message: Message,
    pub awaited: bool,
}

impl Sent {
    /// The SDK fact it carries (panics in a test if it carries something else).
    pub fn sdk_fact(&self) -> &Fact {
        match &self.message {
            Message::SdkFact(fact) => fact,
            other => panic!("expected an SDK fact, got {other:?}"),
        }
    }
}

/// Every `Send` among the effects.
pub fn sends(effects: &[Effect]) -> Vec<Sent> {
    effects
        .iter()
        .filter_map(|effect| match effect {
            Effect::Send {
                target,
                call_id,
                message,
                awaited,
            } => Some(Sent {
                target: target.clone(),
                call_id: *call_id,
                message: message.clone(),
                awaited: *awaited,
            }),
            _ => None,
        })
        .collect()
}

/// The subtypes of the SDK facts sent, in order.
pub fn sent_subtypes(effects: &[Effect]) -> Vec<String> {
    sends(effects)
        .iter()
        .filter_map(|sent| match &sent.message {
            Message::SdkFact(fact) => Some(fact.subtype.to_string()),
            _ => None,
        })
        .collect()
}

#[derive(Clone, Default)]
struct SharedBuffer(Arc<Mutex<Vec<u8>>>);

impl io::Write for SharedBuffer {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.0
            .lock()
            .map_err(|_| io::Error::other("poisoned"))?
            .extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// Runs `body` with a subscriber that records WARN lines; returns its result and those lines.
pub fn capture_warnings<R>(body: impl FnOnce() -> R) -> (R, Vec<String>) {
    let buffer = SharedBuffer::default();
    let writer = buffer.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_writer(move || writer.clone())
        .with_max_level(tracing::Level::WARN)
        .finish();
    let result = tracing::subscriber::with_default(subscriber, body);
    let text = buffer
        .0
        .lock()
        .map(|bytes| String::from_utf8_lossy(&bytes).into_owned())
        .unwrap_or_default();
    let lines = text
        .lines()
        .filter(|line| line.contains("WARN"))
        .map(str::to_owned)
        .collect();
    (result, lines)
}
