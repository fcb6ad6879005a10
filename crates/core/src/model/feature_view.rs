//! Feature views: a group of features from one source, keyed by entities.

use std::time::Duration;

use chrono::{DateTime, Utc};

use super::{DataSource, Field, Tags};
use crate::proto::core as pc;
use crate::time::{from_proto_duration, from_proto_timestamp, to_proto_duration};

/// A feature view (Feast's `FeatureView`).
#[derive(Debug, Clone, PartialEq)]
pub struct FeatureView {
    /// The name.
    pub name: String,
    /// The entities (by name); `["__dummy"]` for views without entities.
    pub entities: Vec<String>,
    /// The features.
    pub features: Vec<Field>,
    /// The typed join-key columns.
    pub entity_columns: Vec<Field>,
    /// How long a value stays valid; zero is forever.
    pub ttl: Duration,
    /// The batch source (a push view's push source's batch source).
    pub batch_source: DataSource,
    /// The push (stream) source, if any.
    pub stream_source: Option<DataSource>,
    /// Whether the view is materialized into and served from the online store.
    pub online: bool,
    /// Whether materialized rows are also written to the offline store.
    pub offline: bool,
    /// A description.
    pub description: String,
    /// Tags.
    pub tags: Tags,
    /// The owner.
    pub owner: String,
    /// Intervals already materialized (registry metadata, not definitions).
    pub materialization_intervals: Vec<MaterializationInterval>,
}

/// One materialized time range, both ends inclusive.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MaterializationInterval {
    /// Start.
    pub start: DateTime<Utc>,
    /// End.
    pub end: DateTime<Utc>,
}

impl FeatureView {
    /// The join keys, in entity-column order.
    pub fn join_keys(&self) -> Vec<String> {
        self.entity_columns.iter().map(|f| f.name.clone()).collect()
    }

    /// The feature called `name`.
    pub fn feature(&self, name: &str) -> Option<&Field> {
        self.features.iter().find(|f| f.name == name)
    }

    /// The comma-separated feature names, for messages.
    pub fn feature_names(&self) -> String {
        self.features
            .iter()
            .map(|f| f.name.as_str())
            .collect::<Vec<_>>()
            .join(", ")
    }

    /// Whether the ttl is unbounded.
    pub fn ttl_is_forever(&self) -> bool {
        self.ttl.is_zero()
    }

    /// The end of the last materialized interval, if any.
    pub fn most_recent_end(&self) -> Option<DateTime<Utc>> {
        self.materialization_intervals.iter().map(|i| i.end).max()
    }

    /// The `FeatureViewSpec` message for `project` (embedded sources without registry metadata).
    pub fn to_spec(&self, project: &str) -> pc::FeatureViewSpec {
        pc::FeatureViewSpec {
            name: self.name.clone(),
            project: project.into(),
            entities: self.entities.clone(),
            features: self.features.iter().map(Field::to_proto).collect(),
            tags: self.tags.clone(),
            ttl: Some(to_proto_duration(self.ttl)),
            batch_source: Some(self.batch_source.to_proto(None, true)),
            online: self.online,
            stream_source: self.stream_source.as_ref().map(|s| s.to_proto(None, true)),
            description: self.description.clone(),
            owner: self.owner.clone(),
            entity_columns: self.entity_columns.iter().map(Field::to_proto).collect(),
            offline: self.offline,
            version: "latest".into(),
            ..Default::default()
        }
    }

    /// The view described by a `FeatureView` message.
    pub fn from_proto(p: &pc::FeatureView) -> Self {
        let spec = p.spec.clone().unwrap_or_default();
        let meta = p.meta.clone().unwrap_or_default();
        let batch_source = spec
            .batch_source
            .as_ref()
            .map(DataSource::from_proto)
            .unwrap_or_else(|| DataSource::from_proto(&pc::DataSource::default()));
        FeatureView {
            name: spec.name,
            entities: spec.entities,
            features: spec.features.iter().map(Field::from_proto).collect(),
            entity_columns: spec.entity_columns.iter().map(Field::from_proto).collect(),
            ttl: spec
                .ttl
                .as_ref()
                .map(from_proto_duration)
                .unwrap_or_default(),
            batch_source,
            stream_source: spec.stream_source.as_ref().map(DataSource::from_proto),
            online: spec.online,
            offline: spec.offline,
            description: spec.description,
            tags: spec.tags,
            owner: spec.owner,
            materialization_intervals: meta
                .materialization_intervals
                .iter()
                .map(|i| MaterializationInterval {
                    start: i
                        .start_time
                        .as_ref()
                        .map(from_proto_timestamp)
                        .unwrap_or_default(),
                    end: i
                        .end_time
                        .as_ref()
                        .map(from_proto_timestamp)
                        .unwrap_or_default(),
                })
                .collect(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{FileFormat, SourceKind};
    use crate::types::ValueType;

    pub(crate) fn driver_view() -> FeatureView {
        FeatureView {
            name: "driver_hourly_stats".into(),
            entities: vec!["driver".into()],
            features: vec![
                Field::new("conv_rate", ValueType::Float),
                Field::new("city", ValueType::String),
            ],
            entity_columns: vec![Field::new("driver_id", ValueType::Int64)],
            ttl: Duration::from_secs(172_800),
            batch_source: DataSource {
                name: "src".into(),
                kind: SourceKind::File {
                    path: "data/x.parquet".into(),
                    format: FileFormat::Parquet,
                },
                timestamp_field: "event_timestamp".into(),
                created_timestamp_column: "created".into(),
                field_mapping: Tags::new(),
                date_partition_column: String::new(),
                description: String::new(),
                tags: Tags::new(),
                owner: String::new(),
            },
            stream_source: None,
            online: true,
            offline: false,
            description: String::new(),
            tags: [("team".to_string(), "drivers".to_string())].into(),
            owner: String::new(),
            materialization_intervals: vec![],
        }
    }

    #[test]
    fn spec_round_trips() {
        let v = driver_view();
        let spec = v.to_spec("demo");
        assert_eq!(spec.version, "latest");
        assert_eq!(spec.ttl.as_ref().unwrap().seconds, 172_800);
        let back = FeatureView::from_proto(&pc::FeatureView {
            spec: Some(spec),
            meta: None,
        });
        assert_eq!(back, v);
        assert_eq!(back.join_keys(), vec!["driver_id".to_string()]);
    }

    #[test]
    fn zero_ttl_is_written_and_means_forever() {
        let mut v = driver_view();
        v.ttl = Duration::ZERO;
        let spec = v.to_spec("demo");
        assert!(spec.ttl.is_some());
        assert!(
            FeatureView::from_proto(&pc::FeatureView {
                spec: Some(spec),
                meta: None
            })
            .ttl_is_forever()
        );
    }
}
