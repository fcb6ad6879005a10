//! Protobuf JSON (canonical proto3 mapping: camelCase names, enum names, RFC 3339 timestamps,
//! `"86400s"` durations), as Feast's `registry-dump` and REST API print registry objects.

use std::sync::OnceLock;

use prost::Message;
use prost_reflect::{DescriptorPool, DynamicMessage, SerializeOptions};

use crate::error::{Error, Result};

static POOL: OnceLock<DescriptorPool> = OnceLock::new();

fn pool() -> &'static DescriptorPool {
    POOL.get_or_init(|| {
        DescriptorPool::decode(&include_bytes!(concat!(env!("OUT_DIR"), "/descriptors.bin"))[..])
            .expect("descriptors compiled by build.rs decode")
    })
}

/// The proto3 JSON of `message`, whose full name is e.g. `feast.core.FeatureView`.
/// Default values are omitted, as Feast's `MessageToDict` does.
pub fn to_json<M: Message>(full_name: &str, message: &M) -> Result<serde_json::Value> {
    let descriptor = pool()
        .get_message_by_name(full_name)
        .ok_or_else(|| Error::Value(format!("unknown protobuf message `{full_name}`")))?;
    let bytes = message.encode_to_vec();
    let dynamic =
        DynamicMessage::decode(descriptor, bytes.as_slice()).map_err(|source| Error::Decode {
            what: full_name.to_string(),
            source,
        })?;
    let options = SerializeOptions::new().skip_default_fields(true);
    dynamic
        .serialize_with_options(serde_json::value::Serializer, &options)
        .map_err(|e| Error::Value(format!("cannot render {full_name} as JSON: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::proto::core as pc;

    #[test]
    fn renders_like_feasts_message_to_dict() {
        let entity = pc::Entity {
            spec: Some(pc::EntitySpecV2 {
                name: "driver".into(),
                join_key: "driver_id".into(),
                value_type: 4,
                ..Default::default()
            }),
            meta: Some(pc::EntityMeta {
                created_timestamp: Some(prost_types::Timestamp {
                    seconds: 1795528044,
                    nanos: 821248000,
                }),
                last_updated_timestamp: None,
            }),
        };
        let j = to_json("feast.core.Entity", &entity).unwrap();
        assert_eq!(j["spec"]["joinKey"], "driver_id");
        assert_eq!(j["spec"]["valueType"], "INT64");
        assert_eq!(j["meta"]["createdTimestamp"], "2026-11-24T13:47:24.821248Z");
        assert!(j["spec"].get("description").is_none());
    }

    #[test]
    fn durations_render_as_seconds() {
        let spec = pc::FeatureViewSpec {
            ttl: Some(prost_types::Duration {
                seconds: 172_800,
                nanos: 0,
            }),
            ..Default::default()
        };
        let j = to_json("feast.core.FeatureViewSpec", &spec).unwrap();
        assert_eq!(j["ttl"], "172800s");
    }
}
