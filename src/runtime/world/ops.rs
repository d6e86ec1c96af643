//! Primary operations as ground truth: every local operation of an entity that emitted (its
//! start, a cache get or append that closed a period, `flushStats()`, a tracking toggle) is
//! timed from its start to when its caller gets the result. A caller whose emissions are
//! awaited (fallback off) waits until each of them settles: delivered, or an error (a failure,
//! a rejection by an open breaker); otherwise it goes on at once.

use super::actor::{OpHistory, WaitingOp};
use super::{Observers, World};
use crate::ledgers::{Effect, MessageKey};
use crate::model::ActorId;
use crate::runtime::observe::{Observation, OpKind, Trigger};
use crate::runtime::recorder::Recorder;
use crate::runtime::spec::ActorIdx;
use rustc_hash::FxHashMap;

/// What noting an operation needs of the world, borrowed apart from the entity's ledger.
pub(super) struct OpContext<'a> {
    pub observer: &'a mut Observers,
    pub names: &'a FxHashMap<ActorId, ActorIdx>,
    pub recorder: &'a mut Recorder,
}

impl OpContext<'_> {
    /// The operation `kind` of entity `idx` at `at_ms` pushed `effects[from..]`: its emissions
    /// are observed (and taken out: nothing else carries them out) and its caller is timed.
    /// `kind` is `None` for what no caller started (a child's fact rolled up).
    #[allow(clippy::too_many_arguments)]
    pub fn record(
        &mut self,
        history: &mut OpHistory,
        idx: ActorIdx,
        kind: Option<OpKind>,
        at_ms: u64,
        trigger: Trigger,
        effects: &mut Vec<Effect>,
        from: usize,
    ) {
        let mut awaited_keys = Vec::new();
        let mut emitted = false;
        let mut position = from;
        while position < effects.len() {
            let Effect::Emitted { .. } = &effects[position] else {
                position += 1;
                continue;
            };
            let Effect::Emitted {
                target,
                key,
                awaited,
                stats,
            } = effects.remove(position)
            else {
                unreachable!("the effect was just matched");
            };
            emitted = true;
            self.observer.note(|| Observation::Emitted {
                at_ms,
                entity: idx,
                target: self.names.get(&target).copied(),
                key: &key,
                awaited,
                stats,
                trigger,
            });
            if awaited {
                awaited_keys.push(key);
            }
        }
        let Some(kind) = kind.filter(|_| emitted) else {
            return;
        };
        let op = WaitingOp {
            kind,
            started_ms: at_ms,
            pending: awaited_keys.clone(),
            keys: awaited_keys,
            ok: true,
        };
        if op.pending.is_empty() {
            self.done(idx, &op, at_ms, false);
        } else {
            history.waiting.push(op);
        }
    }

    /// Operation `op`'s caller got its result at `done_ms` (`waiting`: it had none yet when
    /// the run ended).
    fn done(&mut self, idx: ActorIdx, op: &WaitingOp, done_ms: u64, waiting: bool) {
        let WaitingOp {
            kind,
            started_ms,
            ok,
            ref keys,
            ..
        } = *op;
        let latency_ms = done_ms - started_ms;
        self.recorder.primary_op.record(latency_ms);
        let counters = &mut self.recorder.counters;
        if latency_ms > 0 || waiting {
            counters.primary_ops_delayed += 1;
        }
        if !ok {
            counters.primary_ops_errored += 1;
        }
        self.observer.note(|| Observation::PrimaryOp {
            entity: idx,
            kind,
            started_ms,
            done_ms,
            ok,
            waiting,
            keys,
        });
    }

    /// Emission `key` of entity `idx` settled at `now_ms` (delivered, or an error): the
    /// callers waiting only for it get their result.
    pub fn settle(
        &mut self,
        history: &mut OpHistory,
        idx: ActorIdx,
        key: &MessageKey,
        ok: bool,
        now_ms: u64,
    ) {
        let mut position = 0;
        while position < history.waiting.len() {
            let op = &mut history.waiting[position];
            if let Some(found) = op.pending.iter().position(|pending| pending == key) {
                op.pending.swap_remove(found);
                op.ok &= ok;
            }
            if op.pending.is_empty() {
                let op = history.waiting.remove(position);
                self.done(idx, &op, now_ms, false);
            } else {
                position += 1;
            }
        }
    }

    /// Every caller still waiting gets its result at `now_ms`: an error (`ended_by_kill`: its
    /// entity was killed) or none yet (the run ended).
    pub fn end_waiting(
        &mut self,
        history: &mut OpHistory,
        idx: ActorIdx,
        now_ms: u64,
        ended_by_kill: bool,
    ) {
        for mut op in std::mem::take(&mut history.waiting) {
            op.ok &= !ended_by_kill;
            self.done(idx, &op, now_ms, !ended_by_kill);
        }
    }
}

impl World {
    /// What noting an operation of running entity `idx` needs, with the entity's history
    /// (none for another actor).
    pub(super) fn op_context(&mut self, idx: ActorIdx) -> Option<(OpContext<'_>, &mut OpHistory)> {
        let entity = self.actors[idx].running_entity()?;
        let context = OpContext {
            observer: &mut self.observer,
            names: &self.names,
            recorder: &mut self.recorder,
        };
        Some((context, entity.history))
    }
}
