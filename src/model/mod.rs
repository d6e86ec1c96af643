//! The z0 self-observability data model: facts, SDK fact data, tenant payloads, configs and
//! their validation. Everything here is plain serde data; nothing reads a clock or does I/O.

pub mod config;
pub mod errors;
pub mod fact;
pub mod fact_data;
pub mod ids;
pub mod name;
pub mod payload;
pub mod sampling;
pub mod sdk;
pub mod sharding;
pub mod validate;

pub use config::{
    AlarmOnFailure, AlarmRearm, BootstrapConfig, BreakerConfig, ConfigError, StatsConfig,
    TenantConfig, ALARM_MAX_RETRIES, DEFAULT_RPC_TIMEOUT_MS,
};
pub use fact::{EntityMeta, Fact};
pub use fact_data::FactData;
pub use ids::{ActorId, FactId};
pub use name::Name;
pub use payload::TenantStatsPayload;
pub use sdk::{
    CacheStatsData, FactAppendedData, HydrationDoneData, HydrationSource, SchemaInitData, SdkData,
    SdkSubtype, SDK_FACT_TYPE,
};
pub use validate::{FactError, Limits, PayloadError};
