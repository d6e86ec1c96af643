//! Validation of facts and tenant payloads at the receivers, and the serde shapes of the model.
//!
//! Specification: `docs/model.md` ("Facts": receivers validate every fact, known
//! subtype, well-formed data, ids and tenant present, sizes bounded, and reject what is malformed
//! with a typed error), the data shapes of the z0 SDK page (as docs/model.md summarises them)
//! and the doc comments of `src/model/validate.rs`.
//!
//! Every test starts from a valid fixture and changes the one thing it is about, then asserts
//! the exact error variant (with `matches!`) and its `kind()` string.

use proptest::prelude::*;
use proptest::test_runner::Config as ProptestConfig;
use serde::Deserialize;
use serde_json::{json, Value};
use z0sim::model::validate::{
    check_tenant, validate_envelope, validate_payload, validate_sdk_fact,
};
use z0sim::model::Name;
use z0sim::model::{
    BootstrapConfig, BreakerConfig, CacheStatsData, EntityMeta, Fact, FactAppendedData, FactData,
    FactError, FactId, HydrationDoneData, HydrationSource, Limits, PayloadError, SchemaInitData,
    SdkData, SdkSubtype, StatsConfig, TenantConfig, TenantStatsPayload,
};

// ------------------------------------------------------------------------------------------------
// Fixtures
// ------------------------------------------------------------------------------------------------

/// The receiver's clock in every test: 40 s after the fixture period ended.
const NOW_MS: u64 = 1_700_000_100_000;
/// Start of the fixture stats period (the z0 page's example).
const PERIOD_START_MS: u64 = 1_700_000_000_000;
/// End of the fixture stats period (the z0 page's example).
const PERIOD_END_MS: u64 = 1_700_000_060_000;
/// The fixture tenant.
const TENANT: &str = "acme";
/// The fixture emitting actor.
const ACTOR: &str = "entity:acme/account_123";
/// The fixture fact's sequence number.
const SEQ: u64 = 7;

fn limits() -> Limits {
    Limits::default()
}

fn fact_id() -> FactId {
    FactId::new(ACTOR, SEQ)
}

/// The fixture fact id as the errors spell it.
fn fact_id_text() -> String {
    fact_id().to_string()
}

fn meta() -> EntityMeta {
    EntityMeta {
        entity_id: "account_123".into(),
        entity_type: "account".into(),
        tenant_id: TENANT.into(),
    }
}

fn cache_stats_data() -> CacheStatsData {
    CacheStatsData {
        entity_id: "account_123".into(),
        entity_type: "account".into(),
        period_start_ms: PERIOD_START_MS,
        period_end_ms: PERIOD_END_MS,
        hits: 42,
        misses: 8,
    }
}

fn fact_appended_data() -> FactAppendedData {
    FactAppendedData {
        entity_id: "account_123".into(),
        entity_type: "account".into(),
        period_start_ms: PERIOD_START_MS,
        period_end_ms: PERIOD_END_MS,
        count: 17,
        last_seq: 1_523,
    }
}

fn schema_init_data() -> SchemaInitData {
    SchemaInitData {
        entity_id: "account_123".into(),
        entity_type: "account".into(),
        tables_created: vec!["facts".into(), "entities".into(), "configs".into()],
        duration_ms: 15,
    }
}

fn hydration_done_data(source: HydrationSource) -> HydrationDoneData {
    HydrationDoneData {
        entity_id: "account_123".into(),
        entity_type: "account".into(),
        facts_replayed: 1_523,
        duration_ms: 450,
        source,
    }
}

/// A valid SDK fact of the fixture entity carrying `data`, stamped at the end of the period.
fn sdk_fact(data: &SdkData) -> Fact {
    Fact::sdk(fact_id(), &meta(), PERIOD_END_MS, data)
}

fn valid_cache_stats_fact() -> Fact {
    sdk_fact(&SdkData::CacheStats(cache_stats_data()))
}

fn valid_fact_appended_fact() -> Fact {
    sdk_fact(&SdkData::FactAppended(fact_appended_data()))
}

fn valid_schema_init_fact() -> Fact {
    sdk_fact(&SdkData::SchemaInit(schema_init_data()))
}

fn valid_hydration_done_fact(source: HydrationSource) -> Fact {
    sdk_fact(&SdkData::HydrationDone(hydration_done_data(source)))
}

/// The valid cache_stats fact with its typed data changed by `change`.
fn cache_stats_fact_with(change: impl FnOnce(&mut CacheStatsData)) -> Fact {
    let mut data = cache_stats_data();
    change(&mut data);
    sdk_fact(&SdkData::CacheStats(data))
}

/// The valid cache_stats fact with its envelope changed by `change`.
fn valid_cache_stats_fact_with(change: impl FnOnce(&mut Fact)) -> Fact {
    let mut fact = valid_cache_stats_fact();
    change(&mut fact);
    fact
}

/// The valid cache_stats fact with one raw JSON field of `data` set (added if absent).
fn cache_stats_fact_with_raw_field(key: &str, value: Value) -> Fact {
    valid_cache_stats_fact_with(|fact| {
        fact.data
            .json_mut()
            .as_object_mut()
            .expect("fixture data is an object")
            .insert(key.to_owned(), value);
    })
}

/// The valid cache_stats fact with one raw JSON field removed from `data`.
fn cache_stats_fact_without_raw_field(key: &str) -> Fact {
    valid_cache_stats_fact_with(|fact| {
        let removed = fact
            .data
            .json_mut()
            .as_object_mut()
            .expect("fixture data is an object")
            .remove(key);
        assert!(removed.is_some(), "fixture data has no field {key}");
    })
}

fn validate(fact: &Fact) -> Result<SdkData, FactError> {
    validate_sdk_fact(fact, NOW_MS, &limits())
}

/// Validates and returns the error, failing the test if the fact was accepted.
fn rejection(fact: &Fact) -> FactError {
    match validate(fact) {
        Ok(data) => panic!("malformed fact accepted: {fact:?} -> {data:?}"),
        Err(error) => error,
    }
}

/// Validates and returns the typed data, failing the test if the fact was rejected.
fn acceptance(fact: &Fact) -> SdkData {
    match validate(fact) {
        Ok(data) => data,
        Err(error) => panic!("valid fact rejected: {fact:?} -> {error:?}"),
    }
}

/// Bytes of `data` as the receiver measures them.
fn data_bytes(fact: &Fact) -> usize {
    serde_json::to_vec(&fact.data)
        .expect("data serialises")
        .len()
}

/// A valid schema_init fact whose `data` serialises to exactly `bytes` bytes (padding the list
/// of created tables with one long table name).
fn schema_init_fact_of_data_bytes(bytes: usize) -> Fact {
    let with_padding = |padding: usize| {
        let mut data = schema_init_data();
        data.tables_created.push("p".repeat(padding));
        sdk_fact(&SdkData::SchemaInit(data))
    };
    let base = data_bytes(&with_padding(0));
    assert!(base <= bytes, "the fixture alone is {base} bytes");
    let fact = with_padding(bytes - base);
    assert_eq!(data_bytes(&fact), bytes, "padding is one byte per char");
    fact
}

/// A string of exactly `bytes` bytes.
fn name_of(bytes: usize) -> String {
    "n".repeat(bytes)
}

fn valid_payload() -> TenantStatsPayload {
    TenantStatsPayload {
        flush_id: TenantStatsPayload::flush_id_for(TENANT, 3),
        tenant_id: TENANT.to_owned(),
        period_start_ms: PERIOD_START_MS,
        period_end_ms: PERIOD_END_MS,
        cache_hits: 42,
        cache_misses: 8,
        facts_count: 5,
        entities_count: 2,
        facts_appended: 17,
    }
}

fn payload_with(change: impl FnOnce(&mut TenantStatsPayload)) -> TenantStatsPayload {
    let mut payload = valid_payload();
    change(&mut payload);
    payload
}

fn payload_rejection(payload: &TenantStatsPayload) -> PayloadError {
    match validate_payload(payload, NOW_MS, &limits()) {
        Ok(()) => panic!("malformed payload accepted: {payload:?}"),
        Err(error) => error,
    }
}

/// Serialises to JSON text and back, asserting equality; returns the text.
fn round_trip<T>(value: &T) -> String
where
    T: serde::Serialize + serde::de::DeserializeOwned + PartialEq + std::fmt::Debug,
{
    let text = serde_json::to_string(value).expect("serialises");
    let back: T = serde_json::from_str(&text).expect("deserialises");
    assert_eq!(&back, value, "round trip through {text}");
    text
}

// ------------------------------------------------------------------------------------------------
// Valid facts
// ------------------------------------------------------------------------------------------------

#[test]
fn a_valid_cache_stats_fact_passes_and_yields_its_data() {
    let data = acceptance(&valid_cache_stats_fact());
    assert_eq!(data, SdkData::CacheStats(cache_stats_data()));
}

#[test]
fn a_valid_fact_appended_fact_passes_and_yields_its_data() {
    let data = acceptance(&valid_fact_appended_fact());
    assert_eq!(data, SdkData::FactAppended(fact_appended_data()));
}

#[test]
fn a_valid_schema_init_fact_passes_and_yields_its_data() {
    let data = acceptance(&valid_schema_init_fact());
    assert_eq!(data, SdkData::SchemaInit(schema_init_data()));
}

#[test]
fn a_valid_hydration_done_fact_from_storage_passes() {
    let data = acceptance(&valid_hydration_done_fact(HydrationSource::Storage));
    assert_eq!(
        data,
        SdkData::HydrationDone(hydration_done_data(HydrationSource::Storage))
    );
}

#[test]
fn a_valid_hydration_done_fact_from_r2_passes() {
    let data = acceptance(&valid_hydration_done_fact(HydrationSource::R2));
    assert_eq!(
        data,
        SdkData::HydrationDone(hydration_done_data(HydrationSource::R2))
    );
}

#[test]
fn the_hydration_source_is_spelled_storage_or_r2_on_the_wire() {
    let storage = valid_hydration_done_fact(HydrationSource::Storage);
    assert_eq!(storage.data.json()["source"], json!("storage"));
    let r2 = valid_hydration_done_fact(HydrationSource::R2);
    assert_eq!(r2.data.json()["source"], json!("r2"));
}

#[test]
fn a_valid_fact_passes_the_envelope_check_too() {
    assert_eq!(
        validate_envelope(&valid_cache_stats_fact(), NOW_MS, &limits()),
        Ok(())
    );
}

#[test]
fn a_stats_period_of_zero_length_with_counts_is_accepted() {
    // flush_stats() may close a period in the same millisecond it opened; it is not empty.
    let fact = cache_stats_fact_with(|data| data.period_end_ms = data.period_start_ms);
    acceptance(&fact);
}

#[test]
fn a_stats_period_with_only_misses_is_accepted() {
    let fact = cache_stats_fact_with(|data| {
        data.hits = 0;
        data.misses = 1;
    });
    acceptance(&fact);
}

// ------------------------------------------------------------------------------------------------
// Envelope: ids, tenant, entity, names
// ------------------------------------------------------------------------------------------------

#[test]
fn a_fact_without_an_emitting_actor_is_rejected_as_missing_id() {
    let fact = valid_cache_stats_fact_with(|fact| fact.id = FactId::new("", SEQ));
    let error = rejection(&fact);
    assert!(matches!(error, FactError::MissingId), "{error:?}");
    assert_eq!(error.kind(), "missing_id");
}

#[test]
fn a_fact_without_a_tenant_is_rejected_as_missing_tenant() {
    let fact = valid_cache_stats_fact_with(|fact| fact.tenant_id = Default::default());
    let error = rejection(&fact);
    assert!(
        matches!(&error, FactError::MissingTenant { id } if *id == fact_id_text()),
        "{error:?}"
    );
    assert_eq!(error.kind(), "missing_tenant");
}

#[test]
fn a_fact_without_an_entity_id_is_rejected_as_missing_entity() {
    let fact = valid_cache_stats_fact_with(|fact| fact.entity_id = Default::default());
    let error = rejection(&fact);
    assert!(
        matches!(&error, FactError::MissingEntity { id } if *id == fact_id_text()),
        "{error:?}"
    );
    assert_eq!(error.kind(), "missing_entity");
}

#[test]
fn a_fact_without_an_entity_type_is_rejected_as_missing_entity() {
    let fact = valid_cache_stats_fact_with(|fact| fact.entity_type = Default::default());
    let error = rejection(&fact);
    assert!(
        matches!(&error, FactError::MissingEntity { id } if *id == fact_id_text()),
        "{error:?}"
    );
    assert_eq!(error.kind(), "missing_entity");
}

/// Asserts that `fact` is rejected as `NameTooLong` for `expected_field` at one byte over.
fn assert_name_too_long(fact: &Fact, expected_field: &str) {
    let limit = limits().max_name_bytes;
    let error = rejection(fact);
    assert!(
        matches!(
            &error,
            FactError::NameTooLong { field, bytes, limit: reported }
                if *field == expected_field && *bytes == limit + 1 && *reported == limit
        ),
        "{error:?}"
    );
    assert_eq!(error.kind(), "name_too_long");
}

#[test]
fn an_actor_id_over_the_name_limit_is_rejected_as_name_too_long() {
    let long = name_of(limits().max_name_bytes + 1);
    let fact = valid_cache_stats_fact_with(|fact| fact.id = FactId::new(long, SEQ));
    assert_name_too_long(&fact, "id.actor");
}

#[test]
fn a_tenant_id_over_the_name_limit_is_rejected_as_name_too_long() {
    let long = name_of(limits().max_name_bytes + 1);
    let fact = valid_cache_stats_fact_with(|fact| fact.tenant_id = Name::from(long));
    assert_name_too_long(&fact, "tenant_id");
}

#[test]
fn an_entity_id_over_the_name_limit_is_rejected_as_name_too_long() {
    let long = name_of(limits().max_name_bytes + 1);
    let fact = cache_stats_fact_with(|data| data.entity_id = Name::from(long.clone()));
    let fact = Fact {
        entity_id: Name::from(long),
        ..fact
    };
    assert_name_too_long(&fact, "entity_id");
}

#[test]
fn an_entity_type_over_the_name_limit_is_rejected_as_name_too_long() {
    let long = name_of(limits().max_name_bytes + 1);
    let fact = cache_stats_fact_with(|data| data.entity_type = Name::from(long.clone()));
    let fact = Fact {
        entity_type: Name::from(long),
        ..fact
    };
    assert_name_too_long(&fact, "entity_type");
}

#[test]
fn a_type_over_the_name_limit_is_rejected_as_name_too_long() {
    let long = name_of(limits().max_name_bytes + 1);
    let fact = valid_cache_stats_fact_with(|fact| fact.fact_type = Name::from(long));
    assert_name_too_long(&fact, "type");
}

#[test]
fn a_subtype_over_the_name_limit_is_rejected_as_name_too_long() {
    let long = name_of(limits().max_name_bytes + 1);
    let fact = valid_cache_stats_fact_with(|fact| fact.subtype = Name::from(long));
    assert_name_too_long(&fact, "subtype");
}

#[test]
fn names_of_exactly_the_limit_are_accepted() {
    let name = name_of(limits().max_name_bytes);
    let meta = EntityMeta {
        entity_id: Name::from(name.clone()),
        entity_type: Name::from(name.clone()),
        tenant_id: Name::from(name.clone()),
    };
    let data = CacheStatsData {
        entity_id: Name::from(name.clone()),
        entity_type: Name::from(name.clone()),
        ..cache_stats_data()
    };
    let fact = Fact::sdk(
        FactId::new(name, SEQ),
        &meta,
        PERIOD_END_MS,
        &SdkData::CacheStats(data),
    );
    acceptance(&fact);
}

#[test]
fn the_name_limit_counts_bytes_not_chars() {
    // 129 two-byte chars: 129 chars, 258 bytes.
    let tenant = "é".repeat(limits().max_name_bytes / 2 + 1);
    let fact = valid_cache_stats_fact_with(|fact| fact.tenant_id = Name::from(tenant));
    let error = rejection(&fact);
    assert!(
        matches!(
            error,
            FactError::NameTooLong {
                field: "tenant_id",
                ..
            }
        ),
        "{error:?}"
    );
}

// ------------------------------------------------------------------------------------------------
// Type and subtype
// ------------------------------------------------------------------------------------------------

#[test]
fn a_fact_whose_type_is_not_sdk_is_rejected_as_not_sdk() {
    let fact = valid_cache_stats_fact_with(|fact| fact.fact_type = "account".into());
    let error = rejection(&fact);
    assert!(
        matches!(&error, FactError::NotSdk { id, fact_type }
            if *id == fact_id_text() && fact_type == "account"),
        "{error:?}"
    );
    assert_eq!(error.kind(), "not_sdk");
}

#[test]
fn the_sdk_type_is_case_sensitive() {
    let fact = valid_cache_stats_fact_with(|fact| fact.fact_type = "SDK".into());
    let error = rejection(&fact);
    assert!(matches!(error, FactError::NotSdk { .. }), "{error:?}");
}

#[test]
fn a_valid_domain_fact_passes_the_envelope_but_is_not_an_sdk_fact() {
    let fact = Fact::domain(
        fact_id(),
        &meta(),
        PERIOD_END_MS,
        "account",
        "credited",
        json!({ "amount": 10 }),
    );
    assert_eq!(validate_envelope(&fact, NOW_MS, &limits()), Ok(()));
    let error = rejection(&fact);
    assert!(matches!(error, FactError::NotSdk { .. }), "{error:?}");
}

#[test]
fn an_unknown_subtype_is_rejected_as_unknown_subtype() {
    let fact = valid_cache_stats_fact_with(|fact| fact.subtype = "cache_stat".into());
    let error = rejection(&fact);
    assert!(
        matches!(&error, FactError::UnknownSubtype { id, subtype }
            if *id == fact_id_text() && subtype == "cache_stat"),
        "{error:?}"
    );
    assert_eq!(error.kind(), "unknown_subtype");
}

#[test]
fn an_empty_subtype_is_rejected_as_unknown_subtype() {
    let fact = valid_cache_stats_fact_with(|fact| fact.subtype = Default::default());
    let error = rejection(&fact);
    assert!(
        matches!(&error, FactError::UnknownSubtype { subtype, .. } if subtype.is_empty()),
        "{error:?}"
    );
}

// ------------------------------------------------------------------------------------------------
// Data shape
// ------------------------------------------------------------------------------------------------

/// Asserts a `MalformedData` rejection for `expected_subtype` whose reason mentions `needle`.
fn assert_malformed(fact: &Fact, expected_subtype: SdkSubtype, needle: &str) {
    let error = rejection(fact);
    assert!(
        matches!(&error, FactError::MalformedData { id, subtype, reason }
            if *id == fact_id_text() && *subtype == expected_subtype && reason.contains(needle)),
        "expected malformed {expected_subtype} mentioning {needle:?}, got {error:?}"
    );
    assert_eq!(error.kind(), "malformed_data");
}

#[test]
fn data_missing_a_field_is_rejected_as_malformed_data() {
    let fact = cache_stats_fact_without_raw_field("misses");
    assert_malformed(&fact, SdkSubtype::CacheStats, "misses");
}

#[test]
fn data_with_an_unknown_extra_field_is_rejected_as_malformed_data() {
    let fact = cache_stats_fact_with_raw_field("evictions", json!(3));
    assert_malformed(&fact, SdkSubtype::CacheStats, "evictions");
}

#[test]
fn data_with_a_string_where_a_number_belongs_is_rejected_as_malformed_data() {
    let fact = cache_stats_fact_with_raw_field("hits", json!("42"));
    assert_malformed(&fact, SdkSubtype::CacheStats, "string");
}

#[test]
fn data_with_a_negative_count_is_rejected_as_malformed_data() {
    let fact = cache_stats_fact_with_raw_field("hits", json!(-1));
    assert_malformed(&fact, SdkSubtype::CacheStats, "-1");
}

#[test]
fn data_with_a_fractional_count_is_rejected_as_malformed_data() {
    let fact = cache_stats_fact_with_raw_field("hits", json!(4.5));
    assert_malformed(&fact, SdkSubtype::CacheStats, "4.5");
}

#[test]
fn data_that_is_not_an_object_is_rejected_as_malformed_data() {
    let fact = valid_cache_stats_fact_with(|fact| fact.data = json!([1, 2, 3]).into());
    assert_malformed(&fact, SdkSubtype::CacheStats, "");
    let fact = valid_cache_stats_fact_with(|fact| fact.data = Value::Null.into());
    assert_malformed(&fact, SdkSubtype::CacheStats, "");
}

#[test]
fn data_given_as_an_array_of_field_values_is_rejected_as_malformed_data() {
    // The z0 page's data shapes are objects with named fields; a positional array is not one.
    let positional = |data: &SdkData| {
        let object = data.to_value();
        let object = object
            .as_object()
            .expect("typed data serialises to an object");
        let order: &[&str] = match data.subtype() {
            SdkSubtype::CacheStats => &[
                "entity_id",
                "entity_type",
                "period_start",
                "period_end",
                "hits",
                "misses",
            ],
            SdkSubtype::FactAppended => &[
                "entity_id",
                "entity_type",
                "period_start",
                "period_end",
                "count",
                "last_seq",
            ],
            SdkSubtype::SchemaInit => {
                &["entity_id", "entity_type", "tables_created", "duration_ms"]
            }
            SdkSubtype::HydrationDone => &[
                "entity_id",
                "entity_type",
                "facts_replayed",
                "duration_ms",
                "source",
            ],
        };
        Value::Array(order.iter().map(|key| object[*key].clone()).collect())
    };
    for data in [
        SdkData::CacheStats(cache_stats_data()),
        SdkData::FactAppended(fact_appended_data()),
        SdkData::SchemaInit(schema_init_data()),
        SdkData::HydrationDone(hydration_done_data(HydrationSource::R2)),
    ] {
        let mut fact = sdk_fact(&data);
        fact.data = positional(&data).into();
        assert_malformed(&fact, data.subtype(), "");
    }
}

#[test]
fn data_of_another_subtype_is_rejected_as_malformed_data_of_the_declared_one() {
    let fact = valid_cache_stats_fact_with(|fact| fact.subtype = "schema_init".into());
    assert_malformed(&fact, SdkSubtype::SchemaInit, "");
}

#[test]
fn an_unknown_hydration_source_is_rejected_as_malformed_data() {
    let mut fact = valid_hydration_done_fact(HydrationSource::R2);
    fact.data.json_mut()["source"] = json!("disk");
    assert_malformed(&fact, SdkSubtype::HydrationDone, "disk");
}

#[test]
fn data_about_another_entity_is_rejected_as_entity_mismatch() {
    let fact = cache_stats_fact_with(|data| data.entity_id = "account_999".into());
    let error = rejection(&fact);
    assert!(
        matches!(&error, FactError::EntityMismatch { id, fact_entity, data_entity }
            if *id == fact_id_text()
                && fact_entity == "account_123 (account)"
                && data_entity == "account_999 (account)"),
        "{error:?}"
    );
    assert_eq!(error.kind(), "entity_mismatch");
}

#[test]
fn data_about_another_entity_type_is_rejected_as_entity_mismatch() {
    let fact = cache_stats_fact_with(|data| data.entity_type = "invoice".into());
    let error = rejection(&fact);
    assert!(
        matches!(error, FactError::EntityMismatch { .. }),
        "{error:?}"
    );
    assert_eq!(error.kind(), "entity_mismatch");
}

// ------------------------------------------------------------------------------------------------
// Periods and counts
// ------------------------------------------------------------------------------------------------

/// Asserts a `BadPeriod` rejection of the given period whose reason mentions `needle`.
fn assert_bad_period(fact: &Fact, start_ms: u64, end_ms: u64, needle: &str) {
    let error = rejection(fact);
    assert!(
        matches!(&error, FactError::BadPeriod { id, period_start_ms, period_end_ms, reason }
            if *id == fact_id_text()
                && *period_start_ms == start_ms
                && *period_end_ms == end_ms
                && reason.contains(needle)),
        "expected bad period mentioning {needle:?}, got {error:?}"
    );
    assert_eq!(error.kind(), "bad_period");
}

#[test]
fn a_period_that_ends_before_it_starts_is_rejected_as_bad_period() {
    let fact = cache_stats_fact_with(|data| {
        data.period_start_ms = PERIOD_END_MS;
        data.period_end_ms = PERIOD_START_MS;
    });
    assert_bad_period(&fact, PERIOD_END_MS, PERIOD_START_MS, "before");
}

#[test]
fn a_fact_appended_period_that_ends_before_it_starts_is_rejected_as_bad_period() {
    let mut data = fact_appended_data();
    data.period_end_ms = data.period_start_ms - 1;
    let fact = sdk_fact(&SdkData::FactAppended(data));
    assert_bad_period(&fact, PERIOD_START_MS, PERIOD_START_MS - 1, "before");
}

#[test]
fn an_empty_stats_period_is_rejected_as_bad_period() {
    let fact = cache_stats_fact_with(|data| {
        data.hits = 0;
        data.misses = 0;
    });
    assert_bad_period(&fact, PERIOD_START_MS, PERIOD_END_MS, "empty");
}

#[test]
fn a_fact_appended_period_with_count_zero_is_rejected_as_bad_period() {
    let mut data = fact_appended_data();
    data.count = 0;
    let fact = sdk_fact(&SdkData::FactAppended(data));
    assert_bad_period(&fact, PERIOD_START_MS, PERIOD_END_MS, "empty");
}

#[test]
fn hits_plus_misses_overflowing_is_rejected_as_bad_period() {
    let fact = cache_stats_fact_with(|data| {
        data.hits = u64::MAX;
        data.misses = 1;
    });
    assert_bad_period(&fact, PERIOD_START_MS, PERIOD_END_MS, "overflow");
}

#[test]
fn hits_plus_misses_of_exactly_u64_max_is_accepted() {
    let fact = cache_stats_fact_with(|data| {
        data.hits = u64::MAX - 1;
        data.misses = 1;
    });
    acceptance(&fact);
}

// ------------------------------------------------------------------------------------------------
// Clock
// ------------------------------------------------------------------------------------------------

#[test]
fn a_timestamp_too_far_in_the_future_is_rejected_as_from_the_future() {
    let skew = limits().max_clock_skew_ms;
    let fact = valid_cache_stats_fact_with(|fact| fact.timestamp_ms = NOW_MS + skew + 1);
    let error = rejection(&fact);
    assert!(
        matches!(&error, FactError::FromTheFuture { id, at_ms, now_ms, max_skew_ms }
            if *id == fact_id_text()
                && *at_ms == NOW_MS + skew + 1
                && *now_ms == NOW_MS
                && *max_skew_ms == skew),
        "{error:?}"
    );
    assert_eq!(error.kind(), "from_the_future");
}

#[test]
fn a_timestamp_exactly_at_the_allowed_skew_is_accepted() {
    let skew = limits().max_clock_skew_ms;
    let fact = valid_cache_stats_fact_with(|fact| fact.timestamp_ms = NOW_MS + skew);
    acceptance(&fact);
}

#[test]
fn a_period_end_in_the_future_is_rejected_as_from_the_future() {
    let skew = limits().max_clock_skew_ms;
    let end = NOW_MS + skew + 1;
    let mut fact = cache_stats_fact_with(|data| data.period_end_ms = end);
    fact.timestamp_ms = NOW_MS;
    let error = rejection(&fact);
    assert!(
        matches!(&error, FactError::FromTheFuture { at_ms, now_ms, .. }
            if *at_ms == end && *now_ms == NOW_MS),
        "{error:?}"
    );
    assert_eq!(error.kind(), "from_the_future");
}

#[test]
fn a_fact_appended_period_end_in_the_future_is_rejected_as_from_the_future() {
    let end = NOW_MS + limits().max_clock_skew_ms + 1;
    let mut data = fact_appended_data();
    data.period_end_ms = end;
    let mut fact = sdk_fact(&SdkData::FactAppended(data));
    fact.timestamp_ms = NOW_MS;
    let error = rejection(&fact);
    assert!(
        matches!(&error, FactError::FromTheFuture { at_ms, .. } if *at_ms == end),
        "{error:?}"
    );
}

#[test]
fn a_receiver_clock_near_u64_max_does_not_overflow() {
    let fact = valid_cache_stats_fact_with(|fact| fact.timestamp_ms = u64::MAX);
    assert!(validate_sdk_fact(&fact, u64::MAX, &limits()).is_ok());
}

// ------------------------------------------------------------------------------------------------
// Size
// ------------------------------------------------------------------------------------------------

#[test]
fn oversized_data_is_rejected_as_oversized() {
    let limit = limits().max_data_bytes;
    let fact = cache_stats_fact_with_raw_field("note", json!("x".repeat(limit * 2)));
    let error = rejection(&fact);
    assert!(
        matches!(&error, FactError::Oversized { id, bytes, limit: reported }
            if *id == fact_id_text() && *bytes > limit && *reported == limit),
        "{error:?}"
    );
    assert_eq!(error.kind(), "oversized");
}

#[test]
fn data_of_exactly_the_size_limit_is_accepted() {
    let fact = schema_init_fact_of_data_bytes(limits().max_data_bytes);
    acceptance(&fact);
}

#[test]
fn data_one_byte_over_the_size_limit_is_rejected_as_oversized() {
    let limit = limits().max_data_bytes;
    let fact = schema_init_fact_of_data_bytes(limit + 1);
    let error = rejection(&fact);
    assert!(
        matches!(&error, FactError::Oversized { bytes, limit: reported, .. }
            if *bytes == limit + 1 && *reported == limit),
        "{error:?}"
    );
    assert_eq!(error.kind(), "oversized");
}

#[test]
fn a_configured_size_limit_is_a_boundary_on_serialised_bytes() {
    let fact = valid_cache_stats_fact();
    let bytes = data_bytes(&fact);
    let exact = Limits {
        max_data_bytes: bytes,
        ..limits()
    };
    assert!(validate_sdk_fact(&fact, NOW_MS, &exact).is_ok());
    let one_short = Limits {
        max_data_bytes: bytes - 1,
        ..limits()
    };
    let error = validate_sdk_fact(&fact, NOW_MS, &one_short).expect_err("one byte over");
    assert!(
        matches!(error, FactError::Oversized { bytes: b, limit, .. }
            if b == bytes && limit == bytes - 1),
        "{error:?}"
    );
}

#[test]
fn the_size_limit_counts_escaped_json_bytes() {
    // Each quote serialises as two bytes (\"): fewer chars than the limit, more bytes.
    let limit = limits().max_data_bytes;
    let fact = cache_stats_fact_with_raw_field("note", json!("\"".repeat(limit / 2 + 10)));
    assert!(data_bytes(&fact) > limit);
    let error = rejection(&fact);
    assert!(matches!(error, FactError::Oversized { .. }), "{error:?}");
}

// ------------------------------------------------------------------------------------------------
// Tenant isolation
// ------------------------------------------------------------------------------------------------

#[test]
fn a_fact_of_another_tenant_is_rejected_as_foreign_tenant() {
    let fact = valid_cache_stats_fact();
    let error = check_tenant(&fact, "globex").expect_err("foreign tenant");
    assert!(
        matches!(&error, FactError::ForeignTenant { id, tenant_id, expected }
            if *id == fact_id_text() && tenant_id == TENANT && expected == "globex"),
        "{error:?}"
    );
    assert_eq!(error.kind(), "foreign_tenant");
}

#[test]
fn a_tenant_is_matched_exactly_not_by_prefix_or_case() {
    let fact = valid_cache_stats_fact();
    for other in ["acm", "acme2", "ACME", "acme ", ""] {
        let error = check_tenant(&fact, other).expect_err(other);
        assert!(
            matches!(error, FactError::ForeignTenant { .. }),
            "{other:?}: {error:?}"
        );
    }
}

#[test]
fn a_fact_of_the_receivers_own_tenant_passes_the_tenant_check() {
    assert_eq!(check_tenant(&valid_cache_stats_fact(), TENANT), Ok(()));
}

// ------------------------------------------------------------------------------------------------
// Tenant stats payloads
// ------------------------------------------------------------------------------------------------

#[test]
fn a_valid_payload_passes() {
    assert_eq!(
        validate_payload(&valid_payload(), NOW_MS, &limits()),
        Ok(())
    );
}

#[test]
fn a_payload_with_as_many_entities_as_facts_passes() {
    let payload = payload_with(|p| p.entities_count = p.facts_count);
    assert_eq!(validate_payload(&payload, NOW_MS, &limits()), Ok(()));
}

#[test]
fn a_payload_without_a_flush_id_is_rejected_as_missing_flush_id() {
    let error = payload_rejection(&payload_with(|p| p.flush_id.clear()));
    assert!(matches!(error, PayloadError::MissingFlushId), "{error:?}");
    assert_eq!(error.kind(), "missing_flush_id");
}

#[test]
fn a_payload_without_a_tenant_is_rejected_as_missing_tenant() {
    let error = payload_rejection(&payload_with(|p| p.tenant_id.clear()));
    assert!(
        matches!(&error, PayloadError::MissingTenant { flush_id } if flush_id == "acme/3"),
        "{error:?}"
    );
    assert_eq!(error.kind(), "missing_tenant");
}

#[test]
fn a_payload_with_a_flush_id_over_the_name_limit_is_rejected_as_name_too_long() {
    let long = name_of(limits().max_name_bytes + 1);
    let error = payload_rejection(&payload_with(|p| p.flush_id = long));
    assert!(
        matches!(
            error,
            PayloadError::NameTooLong {
                field: "flush_id",
                ..
            }
        ),
        "{error:?}"
    );
    assert_eq!(error.kind(), "name_too_long");
}

#[test]
fn a_payload_with_a_tenant_over_the_name_limit_is_rejected_as_name_too_long() {
    let long = name_of(limits().max_name_bytes + 1);
    let error = payload_rejection(&payload_with(|p| p.tenant_id = long));
    assert!(
        matches!(
            error,
            PayloadError::NameTooLong {
                field: "tenant_id",
                ..
            }
        ),
        "{error:?}"
    );
}

#[test]
fn a_payload_period_of_zero_length_is_rejected_as_bad_period() {
    let error = payload_rejection(&payload_with(|p| p.period_end_ms = p.period_start_ms));
    assert!(
        matches!(&error, PayloadError::BadPeriod { flush_id, period_start_ms, period_end_ms }
            if flush_id == "acme/3"
                && *period_start_ms == PERIOD_START_MS
                && *period_end_ms == PERIOD_START_MS),
        "{error:?}"
    );
    assert_eq!(error.kind(), "bad_period");
}

#[test]
fn a_payload_period_that_ends_before_it_starts_is_rejected_as_bad_period() {
    let error = payload_rejection(&payload_with(|p| {
        p.period_start_ms = PERIOD_END_MS;
        p.period_end_ms = PERIOD_START_MS;
    }));
    assert!(matches!(error, PayloadError::BadPeriod { .. }), "{error:?}");
}

#[test]
fn a_payload_with_no_facts_is_rejected_as_inconsistent_counts() {
    let error = payload_rejection(&payload_with(|p| p.facts_count = 0));
    assert!(
        matches!(&error, PayloadError::InconsistentCounts { flush_id, .. } if flush_id == "acme/3"),
        "{error:?}"
    );
    assert_eq!(error.kind(), "inconsistent_counts");
}

#[test]
fn a_payload_with_no_entities_is_rejected_as_inconsistent_counts() {
    let error = payload_rejection(&payload_with(|p| p.entities_count = 0));
    assert!(
        matches!(error, PayloadError::InconsistentCounts { .. }),
        "{error:?}"
    );
    assert_eq!(error.kind(), "inconsistent_counts");
}

#[test]
fn a_payload_with_more_entities_than_facts_is_rejected_as_inconsistent_counts() {
    let error = payload_rejection(&payload_with(|p| p.entities_count = p.facts_count + 1));
    assert!(
        matches!(error, PayloadError::InconsistentCounts { .. }),
        "{error:?}"
    );
    assert_eq!(error.kind(), "inconsistent_counts");
}

#[test]
fn a_payload_period_end_in_the_future_is_rejected_as_from_the_future() {
    let end = NOW_MS + limits().max_clock_skew_ms + 1;
    let error = payload_rejection(&payload_with(|p| p.period_end_ms = end));
    assert!(
        matches!(&error, PayloadError::FromTheFuture { flush_id, period_end_ms, now_ms }
            if flush_id == "acme/3" && *period_end_ms == end && *now_ms == NOW_MS),
        "{error:?}"
    );
    assert_eq!(error.kind(), "from_the_future");
}

#[test]
fn a_payload_period_end_exactly_at_the_allowed_skew_passes() {
    let end = NOW_MS + limits().max_clock_skew_ms;
    let payload = payload_with(|p| p.period_end_ms = end);
    assert_eq!(validate_payload(&payload, NOW_MS, &limits()), Ok(()));
}

// ------------------------------------------------------------------------------------------------
// Serde: round trips and wire names
// ------------------------------------------------------------------------------------------------

#[test]
fn a_fact_round_trips_through_json_with_the_wire_name_type() {
    let fact = valid_cache_stats_fact();
    let text = round_trip(&fact);
    assert!(text.contains(r#""type":"sdk""#), "{text}");
    assert!(text.contains(r#""subtype":"cache_stats""#), "{text}");
    assert!(!text.contains("fact_type"), "{text}");
    assert!(text.contains(r#""period_start":1700000000000"#), "{text}");
    assert!(text.contains(r#""period_end":1700000060000"#), "{text}");
}

#[test]
fn a_fact_with_an_unknown_top_level_field_does_not_deserialize() {
    let mut value = serde_json::to_value(valid_cache_stats_fact()).expect("serialises");
    value["fact_type"] = json!("sdk");
    assert!(serde_json::from_value::<Fact>(value).is_err());
}

#[test]
fn cache_stats_data_round_trips_with_the_wire_names_period_start_and_period_end() {
    let text = round_trip(&cache_stats_data());
    assert!(text.contains(r#""period_start":1700000000000"#), "{text}");
    assert!(text.contains(r#""period_end":1700000060000"#), "{text}");
    assert!(!text.contains("_ms"), "{text}");
}

#[test]
fn fact_appended_data_round_trips_with_the_wire_names_period_start_and_period_end() {
    let text = round_trip(&fact_appended_data());
    assert!(text.contains(r#""period_start":"#), "{text}");
    assert!(text.contains(r#""period_end":"#), "{text}");
    assert!(!text.contains("period_start_ms"), "{text}");
}

#[test]
fn schema_init_data_round_trips() {
    round_trip(&schema_init_data());
}

#[test]
fn hydration_done_data_round_trips_for_both_sources() {
    let storage = round_trip(&hydration_done_data(HydrationSource::Storage));
    assert!(storage.contains(r#""source":"storage""#), "{storage}");
    let r2 = round_trip(&hydration_done_data(HydrationSource::R2));
    assert!(r2.contains(r#""source":"r2""#), "{r2}");
}

#[test]
fn every_sdk_data_shape_round_trips_through_a_fact_and_validation() {
    let shapes = [
        SdkData::CacheStats(cache_stats_data()),
        SdkData::FactAppended(fact_appended_data()),
        SdkData::SchemaInit(schema_init_data()),
        SdkData::HydrationDone(hydration_done_data(HydrationSource::Storage)),
        SdkData::HydrationDone(hydration_done_data(HydrationSource::R2)),
    ];
    for data in shapes {
        let fact = sdk_fact(&data);
        assert_eq!(fact.subtype, data.subtype().as_str());
        let text = round_trip(&fact);
        let back: Fact = serde_json::from_str(&text).expect("deserialises");
        assert_eq!(acceptance(&back), data);
    }
}

#[test]
fn the_z0_pages_data_examples_parse_into_the_typed_data() {
    let cache_stats: CacheStatsData = serde_json::from_value(json!({
        "entity_id": "account_123",
        "entity_type": "account",
        "period_start": 1_700_000_000_000_u64,
        "period_end": 1_700_000_060_000_u64,
        "hits": 42,
        "misses": 8
    }))
    .expect("the page's cache_stats example parses");
    assert_eq!(cache_stats, cache_stats_data());
    let schema_init: SchemaInitData = serde_json::from_value(json!({
        "entity_id": "account_123",
        "entity_type": "account",
        "tables_created": ["facts", "entities", "configs"],
        "duration_ms": 15
    }))
    .expect("the page's schema_init example parses");
    assert_eq!(schema_init, schema_init_data());
    let hydration: HydrationDoneData = serde_json::from_value(json!({
        "entity_id": "account_123",
        "entity_type": "account",
        "facts_replayed": 1523,
        "duration_ms": 450,
        "source": "r2"
    }))
    .expect("the page's hydration_done example parses");
    assert_eq!(hydration, hydration_done_data(HydrationSource::R2));
}

#[test]
fn a_tenant_stats_payload_round_trips_with_the_z0_pages_wire_names() {
    let text = round_trip(&valid_payload());
    for key in [
        "flush_id",
        "tenant_id",
        "period_start",
        "period_end",
        "cache_hits",
        "cache_misses",
        "facts_count",
        "entities_count",
    ] {
        assert!(text.contains(&format!("\"{key}\":")), "{key} in {text}");
    }
    assert!(!text.contains("_ms\""), "{text}");
}

#[test]
fn a_tenant_stats_payload_without_facts_appended_defaults_it_to_zero() {
    let payload: TenantStatsPayload = serde_json::from_value(json!({
        "flush_id": "acme/3",
        "tenant_id": "acme",
        "period_start": PERIOD_START_MS,
        "period_end": PERIOD_END_MS,
        "cache_hits": 42,
        "cache_misses": 8,
        "facts_count": 5,
        "entities_count": 2
    }))
    .expect("the page's payload shape plus a flush id parses");
    assert_eq!(payload, payload_with(|p| p.facts_appended = 0));
}

#[test]
fn the_flush_id_of_a_tenant_flush_is_tenant_slash_sequence() {
    assert_eq!(TenantStatsPayload::flush_id_for("acme", 3), "acme/3");
}

#[test]
fn bootstrap_config_defaults_to_fallback_and_warn() {
    let defaults = BootstrapConfig::default();
    assert!(defaults.fallback_on_failure);
    assert!(defaults.warn_on_fallback);
    let from_empty: BootstrapConfig = serde_json::from_str("{}").expect("{} parses");
    assert_eq!(from_empty, defaults);
}

#[test]
fn bootstrap_config_round_trips_with_the_z0_pages_key_names() {
    let text = round_trip(&BootstrapConfig::default());
    assert!(text.contains(r#""fallback_on_failure":true"#), "{text}");
    assert!(text.contains(r#""warn_on_fallback":true"#), "{text}");
    round_trip(&BootstrapConfig {
        fallback_on_failure: false,
        warn_on_fallback: false,
    });
    round_trip(&BootstrapConfig {
        fallback_on_failure: false,
        warn_on_fallback: true,
    });
}

#[test]
fn breaker_config_round_trips_and_defaults_from_an_empty_object() {
    round_trip(&BreakerConfig::default());
    round_trip(&BreakerConfig {
        failure_threshold: 3,
        reset_timeout_ms: 12_345,
        half_open_max_probes: 2,
        reset_timeout_jitter_ratio: 0.25,
        reset_timeout_growth_factor: 2.0,
        reset_timeout_max_ms: 120_000,
    });
    let from_empty: BreakerConfig = serde_json::from_str("{}").expect("{} parses");
    assert_eq!(from_empty, BreakerConfig::default());
}

#[test]
fn stats_config_round_trips_and_defaults_from_an_empty_object() {
    round_trip(&StatsConfig::default());
    let text = round_trip(&StatsConfig {
        min_interval_ms: 30_000,
    });
    assert!(text.contains(r#""min_interval_ms":30000"#), "{text}");
    let from_empty: StatsConfig = serde_json::from_str("{}").expect("{} parses");
    assert_eq!(from_empty, StatsConfig::default());
}

#[test]
fn tenant_config_round_trips_and_defaults_from_an_empty_object() {
    round_trip(&TenantConfig::default());
    round_trip(&TenantConfig {
        aggregation_interval_ms: 300_000,
        flush_retry_delay_ms: 1_000,
        alarm_rearm: z0sim::model::AlarmRearm::AtStart,
        alarm_on_failure: z0sim::model::AlarmOnFailure::RetryThenRearm,
    });
    let from_empty: TenantConfig = serde_json::from_str("{}").expect("{} parses");
    assert_eq!(from_empty, TenantConfig::default());
}

#[test]
fn sdk_subtype_parses_each_of_the_four_names() {
    let expected = [
        ("cache_stats", SdkSubtype::CacheStats),
        ("fact_appended", SdkSubtype::FactAppended),
        ("schema_init", SdkSubtype::SchemaInit),
        ("hydration_done", SdkSubtype::HydrationDone),
    ];
    for (name, subtype) in expected {
        assert_eq!(name.parse::<SdkSubtype>(), Ok(subtype));
        assert_eq!(subtype.as_str(), name);
        assert_eq!(subtype.to_string(), name);
        assert_eq!(
            serde_json::to_string(&subtype).expect("serialises"),
            format!("\"{name}\"")
        );
        assert_eq!(
            serde_json::from_str::<SdkSubtype>(&format!("\"{name}\"")).expect("deserialises"),
            subtype
        );
    }
    assert_eq!(SdkSubtype::ALL.len(), expected.len());
}

#[test]
fn sdk_subtype_rejects_every_other_name() {
    for name in [
        "",
        "cache_stat",
        "CacheStats",
        "Cache_Stats",
        "cache-stats",
        " cache_stats",
        "cache_stats ",
        "sdk",
        "schema_inits",
    ] {
        assert_eq!(name.parse::<SdkSubtype>(), Err(name.to_owned()), "{name:?}");
        assert!(
            serde_json::from_value::<SdkSubtype>(json!(name)).is_err(),
            "{name:?}"
        );
    }
}

// ------------------------------------------------------------------------------------------------
// Property: validation never panics, and accepted data re-validates to itself
// ------------------------------------------------------------------------------------------------

/// Names, mostly the fixture names (so that many facts get past the envelope), sometimes empty,
/// short, arbitrary, or around the name limit (multi-byte chars make some of these longer in
/// bytes than in chars).
fn arb_name(typical: &'static str) -> impl Strategy<Value = String> {
    prop_oneof![
        20 => Just(typical.to_owned()),
        1 => Just(String::new()),
        2 => "[a-z_]{1,12}",
        1 => any::<String>(),
        1 => ".{250,260}",
    ]
}

fn arb_fact_type() -> impl Strategy<Value = String> {
    prop_oneof![
        20 => Just("sdk".to_owned()),
        1 => Just("SDK".to_owned()),
        1 => Just(String::new()),
        1 => any::<String>(),
    ]
}

fn arb_subtype() -> impl Strategy<Value = String> {
    prop_oneof![
        16 => prop::sample::select(SdkSubtype::ALL.to_vec()).prop_map(|s| s.as_str().to_owned()),
        1 => Just("cache_stat".to_owned()),
        1 => any::<String>(),
    ]
}

/// Numbers mostly around the receiver's clock, sometimes at the edges of u64.
fn arb_u64() -> impl Strategy<Value = u64> {
    prop_oneof![
        4 => 0_u64..2_000_000_000_000,
        2 => 0_u64..4,
        1 => Just(u64::MAX),
        1 => any::<u64>(),
    ]
}

/// Arbitrary JSON: null, bools, integers of both signs, floats, strings, arrays, objects.
fn arb_json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<u64>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        any::<f64>().prop_map(Value::from),
        ".{0,40}".prop_map(Value::String),
    ];
    leaf.prop_recursive(3, 32, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            prop::collection::btree_map("[a-z_]{0,14}", inner, 0..8)
                .prop_map(|map| Value::Object(map.into_iter().collect())),
        ]
    })
}

/// Data built in the shape of one subtype, then perhaps damaged.
#[derive(Clone, Debug)]
struct ShapedData {
    /// Use the fact's own subtype when it is one of the four (else `subtype`).
    own_subtype: bool,
    subtype: SdkSubtype,
    /// Use the fact's own entity id and type (else `other_entity`).
    own_entity: bool,
    other_entity: (String, String),
    numbers: [u64; 4],
    tables: Vec<String>,
    source: &'static str,
    /// Remove the field at this index (modulo the field count).
    drop_field: Option<usize>,
    /// Add (or overwrite) this field.
    extra_field: Option<(String, Value)>,
    /// Replace the value of the field at this index (modulo the field count).
    replace_field: Option<(usize, Value)>,
}

impl ShapedData {
    fn build(&self, fact_subtype: &str, entity_id: &str, entity_type: &str) -> Value {
        let subtype = match fact_subtype.parse() {
            Ok(subtype) if self.own_subtype => subtype,
            _ => self.subtype,
        };
        let (entity_id, entity_type) = if self.own_entity {
            (entity_id.to_owned(), entity_type.to_owned())
        } else {
            self.other_entity.clone()
        };
        let [a, b, c, d] = self.numbers;
        let mut value = match subtype {
            SdkSubtype::CacheStats => json!({
                "entity_id": entity_id, "entity_type": entity_type,
                "period_start": a, "period_end": b, "hits": c, "misses": d,
            }),
            SdkSubtype::FactAppended => json!({
                "entity_id": entity_id, "entity_type": entity_type,
                "period_start": a, "period_end": b, "count": c, "last_seq": d,
            }),
            SdkSubtype::SchemaInit => json!({
                "entity_id": entity_id, "entity_type": entity_type,
                "tables_created": self.tables, "duration_ms": a,
            }),
            SdkSubtype::HydrationDone => json!({
                "entity_id": entity_id, "entity_type": entity_type,
                "facts_replayed": a, "duration_ms": b, "source": self.source,
            }),
        };
        let object = value.as_object_mut().expect("built as an object");
        let keys: Vec<String> = object.keys().cloned().collect();
        if let Some(index) = self.drop_field {
            object.remove(&keys[index % keys.len()]);
        }
        if let Some((index, replacement)) = &self.replace_field {
            object.insert(keys[index % keys.len()].clone(), replacement.clone());
        }
        if let Some((key, extra)) = &self.extra_field {
            object.insert(key.clone(), extra.clone());
        }
        value
    }
}

fn arb_shaped_data() -> impl Strategy<Value = ShapedData> {
    (
        prop::bool::weighted(0.9),
        prop::sample::select(SdkSubtype::ALL.to_vec()),
        prop::bool::weighted(0.9),
        (arb_name("account_999"), arb_name("invoice")),
        [arb_u64(), arb_u64(), arb_u64(), arb_u64()],
        prop::collection::vec(".{0,12}", 0..5),
        prop::sample::select(vec!["storage", "r2", "disk", "R2"]),
        prop::option::weighted(0.1, any::<usize>()),
        prop::option::weighted(0.1, ("[a-z_]{0,12}", arb_json())),
        prop::option::weighted(0.1, (any::<usize>(), arb_json())),
    )
        .prop_map(
            |(
                own_subtype,
                subtype,
                own_entity,
                other_entity,
                numbers,
                tables,
                source,
                drop_field,
                extra_field,
                replace_field,
            )| ShapedData {
                own_subtype,
                subtype,
                own_entity,
                other_entity,
                numbers,
                tables,
                source,
                drop_field,
                extra_field,
                replace_field,
            },
        )
}

/// Where a generated fact's `data` comes from.
#[derive(Clone, Debug)]
enum DataPlan {
    /// Built in a subtype's shape (boxed: it is much larger than a JSON value).
    Shaped(Box<ShapedData>),
    /// Arbitrary JSON.
    Raw(Value),
}

/// Everything a generated fact is made of.
#[derive(Clone, Debug)]
struct FactPlan {
    actor: String,
    seq: u64,
    fact_type: String,
    subtype: String,
    entity_id: String,
    entity_type: String,
    tenant_id: String,
    timestamp_ms: u64,
    data: DataPlan,
}

impl FactPlan {
    fn build(&self) -> Fact {
        let data = match &self.data {
            DataPlan::Shaped(shaped) => {
                shaped.build(&self.subtype, &self.entity_id, &self.entity_type)
            }
            DataPlan::Raw(value) => value.clone(),
        };
        Fact {
            id: FactId::new(self.actor.clone(), self.seq),
            fact_type: Name::from(self.fact_type.clone()),
            subtype: Name::from(self.subtype.clone()),
            entity_id: Name::from(self.entity_id.clone()),
            entity_type: Name::from(self.entity_type.clone()),
            tenant_id: Name::from(self.tenant_id.clone()),
            timestamp_ms: self.timestamp_ms,
            data: data.into(),
        }
    }
}

fn arb_fact_plan() -> impl Strategy<Value = FactPlan> {
    (
        arb_name(ACTOR),
        any::<u64>(),
        arb_fact_type(),
        arb_subtype(),
        arb_name("account_123"),
        arb_name("account"),
        arb_name(TENANT),
        prop_oneof![3 => PERIOD_START_MS..NOW_MS, 1 => arb_u64()],
        prop_oneof![
            6 => arb_shaped_data().prop_map(|shaped| DataPlan::Shaped(Box::new(shaped))),
            1 => arb_json().prop_map(DataPlan::Raw),
        ],
    )
        .prop_map(
            |(
                actor,
                seq,
                fact_type,
                subtype,
                entity_id,
                entity_type,
                tenant_id,
                timestamp_ms,
                data,
            )| {
                FactPlan {
                    actor,
                    seq,
                    fact_type,
                    subtype,
                    entity_id,
                    entity_type,
                    tenant_id,
                    timestamp_ms,
                    data,
                }
            },
        )
}

fn arb_limits() -> impl Strategy<Value = Limits> {
    prop_oneof![
        4 => Just(Limits::default()),
        1 => (0_usize..600, 0_usize..300, arb_u64()).prop_map(
            |(max_data_bytes, max_name_bytes, max_clock_skew_ms)| Limits {
                max_data_bytes,
                max_name_bytes,
                max_clock_skew_ms,
            }
        ),
    ]
}

fn arb_now() -> impl Strategy<Value = u64> {
    prop_oneof![4 => Just(NOW_MS), 1 => arb_u64()]
}

fn proptest_config(cases: u32) -> ProptestConfig {
    ProptestConfig {
        cases,
        // Never write regression files into the source tree.
        failure_persistence: None,
        ..ProptestConfig::default()
    }
}

proptest! {
    #![proptest_config(proptest_config(256))]

    #[test]
    fn validation_never_panics_and_accepted_data_revalidates_to_itself(
        plan in arb_fact_plan(),
        now_ms in arb_now(),
        limits in arb_limits(),
    ) {
        let fact = plan.build();
        // The envelope check alone must not panic either, and must agree with the full check
        // whenever it rejects.
        let envelope = validate_envelope(&fact, now_ms, &limits);
        let result = validate_sdk_fact(&fact, now_ms, &limits);
        if let Err(envelope_error) = &envelope {
            prop_assert_eq!(result.as_ref().err(), Some(envelope_error));
        }
        if let Ok(data) = result {
            prop_assert_eq!(data.subtype().as_str(), fact.subtype.as_str());
            prop_assert_eq!(data.entity_id(), fact.entity_id.as_str());
            prop_assert_eq!(data.entity_type(), fact.entity_type.as_str());
            let meta = EntityMeta {
                entity_id: fact.entity_id.clone(),
                entity_type: fact.entity_type.clone(),
                tenant_id: fact.tenant_id.clone(),
            };
            let rebuilt = Fact::sdk(fact.id.clone(), &meta, fact.timestamp_ms, &data);
            let again = validate_sdk_fact(&rebuilt, now_ms, &limits);
            prop_assert_eq!(again, Ok(data));
        }
    }

    /// Typed data (what the simulated SDK builds) is judged exactly as its JSON is: same
    /// verdict, same error, whatever the envelope, the limits and the clock.
    #[test]
    fn typed_data_validates_exactly_as_its_json(
        plan in arb_fact_plan(),
        now_ms in arb_now(),
        limits in arb_limits(),
    ) {
        let fact = plan.build();
        let json = fact.data.json().into_owned();
        let readings = [
            CacheStatsData::deserialize(&json).ok().map(SdkData::CacheStats),
            FactAppendedData::deserialize(&json).ok().map(SdkData::FactAppended),
            SchemaInitData::deserialize(&json).ok().map(SdkData::SchemaInit),
            HydrationDoneData::deserialize(&json).ok().map(SdkData::HydrationDone),
        ];
        for data in readings.into_iter().flatten() {
            let typed = Fact { data: FactData::from(data.clone()), ..fact.clone() };
            let as_json = Fact { data: FactData::from(data.to_value()), ..fact.clone() };
            prop_assert!(typed.data.sdk().is_some() && as_json.data.sdk().is_none());
            prop_assert_eq!(
                validate_sdk_fact(&typed, now_ms, &limits),
                validate_sdk_fact(&as_json, now_ms, &limits)
            );
            prop_assert_eq!(
                validate_envelope(&typed, now_ms, &limits),
                validate_envelope(&as_json, now_ms, &limits)
            );
        }
    }

    #[test]
    fn payload_validation_never_panics(
        flush_id in arb_name("acme/3"),
        tenant_id in arb_name(TENANT),
        period_start_ms in arb_u64(),
        period_end_ms in arb_u64(),
        counts in [arb_u64(), arb_u64(), arb_u64(), arb_u64(), arb_u64()],
        now_ms in arb_now(),
        limits in arb_limits(),
    ) {
        let [cache_hits, cache_misses, facts_count, entities_count, facts_appended] = counts;
        let payload = TenantStatsPayload {
            flush_id,
            tenant_id,
            period_start_ms,
            period_end_ms,
            cache_hits,
            cache_misses,
            facts_count,
            entities_count,
            facts_appended,
        };
        if validate_payload(&payload, now_ms, &limits).is_ok() {
            prop_assert!(!payload.flush_id.is_empty() && !payload.tenant_id.is_empty());
            prop_assert!(payload.period_end_ms > payload.period_start_ms);
            prop_assert!(
                payload.entities_count >= 1 && payload.entities_count <= payload.facts_count
            );
        }
    }
}
