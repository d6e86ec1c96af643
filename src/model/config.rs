//! Configs of the SDK components, with the defaults of the z0 page and `docs/model.md`.
//!
//! Every struct deserialises with `#[serde(default)]`, so a partial config takes the documented
//! defaults for what it omits, and rejects unknown keys.

use serde::{Deserialize, Serialize};
use thiserror::Error;

/// Default RPC timeout of a delivery: no answer within it counts as a failure (docs/model.md).
pub const DEFAULT_RPC_TIMEOUT_MS: u64 = 5_000;

/// A config value that makes no sense.
#[derive(Clone, Debug, PartialEq, Error)]
pub enum ConfigError {
    /// A value outside its allowed range.
    #[error("{key}: {message}")]
    OutOfRange {
        /// The config key, e.g. `breaker.failure_threshold`.
        key: &'static str,
        /// What was expected.
        message: String,
    },
}

fn out_of_range(key: &'static str, message: impl Into<String>) -> ConfigError {
    ConfigError::OutOfRange {
        key,
        message: message.into(),
    }
}

/// `BootstrapConfig` of the z0 page: what happens when the observability target fails.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct BootstrapConfig {
    /// true (default): emission is fire-and-forget and failures are dropped.
    /// false: emission is awaited and failures surface to the caller.
    pub fallback_on_failure: bool,
    /// Log a warning on every fallback drop (default true).
    pub warn_on_fallback: bool,
}

impl Default for BootstrapConfig {
    fn default() -> Self {
        Self {
            fallback_on_failure: true,
            warn_on_fallback: true,
        }
    }
}

/// Circuit breaker settings (docs/model.md "Delivery").
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct BreakerConfig {
    /// Consecutive failed deliveries that open the breaker (default 5).
    pub failure_threshold: u32,
    /// Time OPEN before the next emission may probe (default 30 000 ms).
    pub reset_timeout_ms: u64,
    /// Calls admitted while HALF_OPEN (default 1).
    pub half_open_max_probes: u32,
    /// Up to this fraction of the reset timeout is added at random (default 0: off).
    pub reset_timeout_jitter_ratio: f64,
    /// Each re-open without a close in between multiplies the timeout by this (default 1: off).
    pub reset_timeout_growth_factor: f64,
    /// Cap of the grown timeout (before jitter), ms (default 300 000).
    pub reset_timeout_max_ms: u64,
}

impl Default for BreakerConfig {
    fn default() -> Self {
        Self {
            failure_threshold: 5,
            reset_timeout_ms: 30_000,
            half_open_max_probes: 1,
            reset_timeout_jitter_ratio: 0.0,
            reset_timeout_growth_factor: 1.0,
            reset_timeout_max_ms: 300_000,
        }
    }
}

impl BreakerConfig {
    /// Rejects settings under which the breaker cannot work.
    pub fn validate(&self) -> Result<(), ConfigError> {
        if self.failure_threshold == 0 {
            return Err(out_of_range(
                "breaker.failure_threshold",
                "must be at least 1",
            ));
        }
        if self.reset_timeout_ms == 0 {
            return Err(out_of_range(
                "breaker.reset_timeout",
                "must be longer than 0 ms",
            ));
        }
        if self.half_open_max_probes == 0 {
            return Err(out_of_range(
                "breaker.half_open_max_probes",
                "must be at least 1",
            ));
        }
        if !(0.0..=1.0).contains(&self.reset_timeout_jitter_ratio) {
            return Err(out_of_range(
                "breaker.reset_timeout_jitter_ratio",
                "must be in [0, 1]",
            ));
        }
        if !(1.0..=16.0).contains(&self.reset_timeout_growth_factor) {
            return Err(out_of_range(
                "breaker.reset_timeout_growth_factor",
                "must be in [1, 16]",
            ));
        }
        if self.reset_timeout_max_ms < self.reset_timeout_ms {
            return Err(out_of_range(
                "breaker.reset_timeout_max",
                "must be at least reset_timeout",
            ));
        }
        Ok(())
    }
}

/// CachedStateManager stats settings.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct StatsConfig {
    /// Minimum time between flushes (default 60 000 ms).
    pub min_interval_ms: u64,
}

impl Default for StatsConfig {
    fn default() -> Self {
        Self {
            min_interval_ms: 60_000,
        }
    }
}

impl StatsConfig {
    /// Rejects a zero interval (it would flush on every operation).
    pub fn validate(&self) -> Result<(), ConfigError> {
        if self.min_interval_ms == 0 {
            return Err(out_of_range(
                "sdk.stats_min_interval",
                "must be longer than 0 ms",
            ));
        }
        Ok(())
    }
}

/// TenantSystemLedger settings.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct TenantConfig {
    /// Length of an aggregation period; periods are aligned to multiples of it (default 60 000 ms).
    pub aggregation_interval_ms: u64,
    /// Delay before a failed flush is tried again (decision: 5 000 ms, the z0 page is silent).
    pub flush_retry_delay_ms: u64,
    /// What the alarm handler does about its own failures.
    pub alarm_rearm: AlarmRearm,
    /// What the alarm handler does when a flush it hands over fails.
    pub alarm_on_failure: AlarmOnFailure,
}

/// Cloudflare retries a failed alarm handler this many times, then deletes the alarm (the
/// handler's code knows the number too: it sees `retryCount`).
pub const ALARM_MAX_RETRIES: u32 = 6;

/// What a tenant ledger's alarm handler does when a flush fails (Cloudflare's "Alarms" page:
/// catch the error and re-arm, or let the handler throw and rely on the runtime's retries).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AlarmOnFailure {
    /// The handler hands the flushes to its client and returns; a failed flush is caught and
    /// the ledger re-arms `flush_retry_delay` later. Its runs never fail for a flush, so the
    /// runtime's retries never start, and pending work keeps an alarm.
    #[default]
    Rearm,
    /// The handler awaits its flushes and throws when one fails: the runtime retries it after
    /// 2, 4, 8, 16, 32 and 64 s, then deletes the alarm; pending work then waits for the
    /// ledger's next input. (A `setAlarm` during the run, from an input or an `at_start` safety
    /// alarm, replaces the retry.)
    Retry,
    /// Like `Retry`, but on its last retry (`retryCount` = 6) the handler catches the failure
    /// and re-arms, so the alarm is never deleted for a failed flush.
    RetryThenRearm,
}

impl AlarmOnFailure {
    /// Every policy.
    pub const ALL: [AlarmOnFailure; 3] = [
        AlarmOnFailure::Rearm,
        AlarmOnFailure::Retry,
        AlarmOnFailure::RetryThenRearm,
    ];

    /// Its name in scenario files.
    pub const fn as_str(self) -> &'static str {
        match self {
            AlarmOnFailure::Rearm => "rearm",
            AlarmOnFailure::Retry => "retry",
            AlarmOnFailure::RetryThenRearm => "retry_then_rearm",
        }
    }
}

/// What a tenant ledger's alarm handler does about its own failures (Cloudflare retries a
/// failed handler six times, then deletes the alarm).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AlarmRearm {
    /// Relies on the runtime's retries; an alarm deleted after its last retry is set again on
    /// the ledger's next input (until then, pending work has no alarm).
    #[default]
    OnInput,
    /// Sets a safety alarm (one flush retry delay later) as the handler's first statement, so a
    /// failing run leaves an alarm set: the runtime's retries are replaced by the ledger's own
    /// schedule, and pending work always has an alarm.
    AtStart,
}

impl AlarmRearm {
    /// Every policy.
    pub const ALL: [AlarmRearm; 2] = [AlarmRearm::OnInput, AlarmRearm::AtStart];

    /// Its name in scenario files.
    pub const fn as_str(self) -> &'static str {
        match self {
            AlarmRearm::OnInput => "on_input",
            AlarmRearm::AtStart => "at_start",
        }
    }
}

impl Default for TenantConfig {
    fn default() -> Self {
        Self {
            aggregation_interval_ms: 60_000,
            flush_retry_delay_ms: 5_000,
            alarm_rearm: AlarmRearm::OnInput,
            alarm_on_failure: AlarmOnFailure::Rearm,
        }
    }
}

impl TenantConfig {
    /// Rejects zero durations.
    pub fn validate(&self) -> Result<(), ConfigError> {
        if self.aggregation_interval_ms == 0 {
            return Err(out_of_range(
                "sdk.tenant_aggregation_interval",
                "must be longer than 0 ms",
            ));
        }
        if self.flush_retry_delay_ms == 0 {
            return Err(out_of_range(
                "tenant.flush_retry_delay",
                "must be longer than 0 ms",
            ));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_those_of_the_z0_page_and_model_md() {
        let bootstrap = BootstrapConfig::default();
        assert!(bootstrap.fallback_on_failure);
        assert!(bootstrap.warn_on_fallback);
        let breaker = BreakerConfig::default();
        assert_eq!(breaker.failure_threshold, 5);
        assert_eq!(breaker.reset_timeout_ms, 30_000);
        assert_eq!(breaker.half_open_max_probes, 1);
        assert_eq!(breaker.reset_timeout_jitter_ratio, 0.0);
        assert_eq!(breaker.reset_timeout_growth_factor, 1.0);
        assert_eq!(StatsConfig::default().min_interval_ms, 60_000);
        assert_eq!(TenantConfig::default().aggregation_interval_ms, 60_000);
        assert_eq!(DEFAULT_RPC_TIMEOUT_MS, 5_000);
    }

    #[test]
    fn a_partial_config_takes_defaults_for_the_rest() {
        let bootstrap: BootstrapConfig =
            serde_json::from_str(r#"{"fallback_on_failure": false}"#).expect("parses");
        assert!(!bootstrap.fallback_on_failure);
        assert!(bootstrap.warn_on_fallback);
        let breaker: BreakerConfig =
            serde_json::from_str(r#"{"failure_threshold": 2}"#).expect("parses");
        assert_eq!(breaker.failure_threshold, 2);
        assert_eq!(breaker.reset_timeout_ms, 30_000);
    }

    #[test]
    fn unknown_config_keys_are_rejected() {
        let result: Result<BootstrapConfig, _> =
            serde_json::from_str(r#"{"fallback_on_falure": false}"#);
        assert!(result.is_err());
    }

    #[test]
    fn defaults_validate_and_nonsense_does_not() {
        assert!(BreakerConfig::default().validate().is_ok());
        assert!(StatsConfig::default().validate().is_ok());
        assert!(TenantConfig::default().validate().is_ok());
        let zero_threshold = BreakerConfig {
            failure_threshold: 0,
            ..BreakerConfig::default()
        };
        assert!(matches!(
            zero_threshold.validate(),
            Err(ConfigError::OutOfRange {
                key: "breaker.failure_threshold",
                ..
            })
        ));
        let no_probes = BreakerConfig {
            half_open_max_probes: 0,
            ..BreakerConfig::default()
        };
        assert!(no_probes.validate().is_err());
        let wild_jitter = BreakerConfig {
            reset_timeout_jitter_ratio: 2.0,
            ..BreakerConfig::default()
        };
        assert!(wild_jitter.validate().is_err());
        assert!(StatsConfig { min_interval_ms: 0 }.validate().is_err());
        let zero_interval = TenantConfig {
            aggregation_interval_ms: 0,
            ..TenantConfig::default()
        };
        assert!(zero_interval.validate().is_err());
    }
}
