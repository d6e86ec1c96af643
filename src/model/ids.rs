//! Identifiers: actors (Durable Object names) and globally unique fact ids.

use super::name::Name;
use serde::{Deserialize, Serialize};
use std::fmt;

/// The name of an actor (a Durable Object), e.g. `system`, `tenant:acme`, `entity:acme/account-3`.
///
/// `id_from_name` in Durable Objects is deterministic, so the name is the identity.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct ActorId(pub Name);

impl ActorId {
    /// Builds an actor id from anything string-like.
    pub fn new(name: impl Into<Name>) -> Self {
        Self(name.into())
    }

    /// The name as a string slice.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The name, shared (cloning it copies a pointer).
    pub fn name(&self) -> &Name {
        &self.0
    }
}

impl fmt::Display for ActorId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A globally unique fact id: the emitting actor plus that actor's own sequence number.
///
/// The sequence is durable (persisted by the emitter), so ids never repeat across restarts;
/// a fact re-sent after a failure keeps its id, which is what lets receivers de-duplicate.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct FactId {
    /// The emitting actor's name; never empty in a valid fact.
    pub actor: Name,
    /// The emitter's sequence number, strictly increasing per actor.
    pub seq: u64,
}

impl FactId {
    /// Builds the id of the `seq`-th fact of `actor`.
    pub fn new(actor: impl Into<Name>, seq: u64) -> Self {
        Self {
            actor: actor.into(),
            seq,
        }
    }
}

impl fmt::Display for FactId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}#{}", self.actor, self.seq)
    }
}
