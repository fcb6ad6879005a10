//! The Feast 0.67 `driver_demo` fixture: reading, byte round trip, and a no-change plan for the
//! equivalent definitions (`definitions.yaml`, built by hand here).

use std::time::Duration;

use larder_core::ValueType;
use larder_core::model::{
    DataSource, Entity, FeatureService, FeatureView, Field, FileFormat, Project, Projection,
    RepoContents, SourceKind, Tags,
};
use larder_core::proto::core as pc;
use larder_core::time::{format_rfc3339, from_proto_timestamp};
use larder_registry::view::{ProjectView, projects};
use larder_registry::{Plan, Transition};
use prost::Message;

use crate::fixture_path;

const PROJECT: &str = "feast_demo";

fn fixture_bytes() -> Vec<u8> {
    std::fs::read(fixture_path()).expect("the fixture registry is part of the crate")
}

fn fixture() -> pc::Registry {
    pc::Registry::decode(fixture_bytes().as_slice()).unwrap()
}

/// `definitions.yaml` of the fixture, in the model.
pub(crate) fn fixture_repo() -> RepoContents {
    let source = DataSource {
        name: "driver_stats_source".into(),
        kind: SourceKind::File {
            path: "data/driver_stats.parquet".into(),
            format: FileFormat::Parquet,
        },
        timestamp_field: "event_timestamp".into(),
        created_timestamp_column: "created".into(),
        field_mapping: Tags::new(),
        date_partition_column: String::new(),
        description: String::new(),
        tags: Tags::new(),
        owner: String::new(),
    };
    let features: Vec<Field> = [
        ("conv_rate", ValueType::Float),
        ("acc_rate", ValueType::Float),
        ("avg_daily_trips", ValueType::Int64),
        ("rating", ValueType::Double),
        ("earnings", ValueType::Double),
        ("distance_km", ValueType::Float),
        ("trips_today", ValueType::Int64),
        ("cancellations", ValueType::Int64),
        ("speed_avg", ValueType::Double),
        ("city", ValueType::String),
    ]
    .into_iter()
    .map(|(n, t)| Field::new(n, t))
    .collect();
    let view = FeatureView {
        name: "driver_hourly_stats".into(),
        entities: vec!["driver".into()],
        features: features.clone(),
        entity_columns: vec![Field::new("driver_id", ValueType::Int64)],
        ttl: Duration::from_secs(2 * 86_400),
        batch_source: source.clone(),
        stream_source: None,
        online: true,
        offline: false,
        description: String::new(),
        tags: Tags::from([("team".to_string(), "drivers".to_string())]),
        owner: String::new(),
        materialization_intervals: vec![],
    };
    let service = FeatureService {
        name: "driver_activity".into(),
        projections: vec![Projection {
            view: view.name.clone(),
            alias: None,
            features,
            join_key_map: Tags::new(),
        }],
        description: String::new(),
        tags: Tags::new(),
        owner: String::new(),
    };
    RepoContents {
        project: Project {
            name: PROJECT.into(),
            ..Default::default()
        },
        entities: vec![Entity {
            name: "driver".into(),
            join_key: "driver_id".into(),
            value_type: ValueType::Int64,
            description: "driver id".into(),
            tags: Tags::new(),
            owner: String::new(),
        }],
        data_sources: vec![source],
        feature_views: vec![view],
        feature_services: vec![service],
    }
}

#[test]
fn fixture_reads_as_the_model() {
    let registry = fixture();
    assert_eq!(projects(&registry), [PROJECT]);
    let view = ProjectView::new(&registry, PROJECT);
    assert_eq!(view.project().unwrap().name, PROJECT);

    let driver = view.entity("driver").unwrap();
    assert_eq!(
        (driver.join_key.as_str(), driver.value_type),
        ("driver_id", ValueType::Int64)
    );
    let names: Vec<String> = view.entities().into_iter().map(|e| e.name).collect();
    assert_eq!(names, ["__dummy", "driver"]);

    let fv = view.feature_view("driver_hourly_stats").unwrap();
    assert_eq!(fv.features.len(), 10);
    assert_eq!(fv.ttl, Duration::from_secs(172_800));
    assert_eq!(
        fv.entity_columns,
        [Field::new("driver_id", ValueType::Int64)]
    );
    assert_eq!(fv.feature("city").unwrap().dtype, ValueType::String);
    assert_eq!(fv.materialization_intervals.len(), 1);
    let interval = fv.materialization_intervals[0];
    assert_eq!(format_rfc3339(interval.start), "2026-10-02T00:00:00Z");
    assert_eq!(format_rfc3339(interval.end), "2026-11-01T00:00:00Z");
    assert_eq!(fv.batch_source.name, "driver_stats_source");

    let fs = view.feature_service("driver_activity").unwrap();
    assert_eq!(fs.projections.len(), 1);
    assert_eq!(fs.projections[0].view, "driver_hourly_stats");
    assert_eq!(fs.projections[0].features.len(), 10);
    assert_eq!(
        view.data_source("driver_stats_source")
            .unwrap()
            .timestamp_field,
        "event_timestamp"
    );
    assert!(view.on_demand_feature_view_names().is_empty());

    let err = view.feature_view("nope").unwrap_err().to_string();
    assert_eq!(
        err,
        "feature view `nope` does not exist in project `feast_demo`; available: driver_hourly_stats"
    );
}

#[test]
fn fixture_bytes_round_trip() {
    let bytes = fixture_bytes();
    let registry = fixture();
    let written = registry.encode_to_vec();
    assert_eq!(pc::Registry::decode(written.as_slice()).unwrap(), registry);
    // Stronger than required: prost writes the same bytes Feast's Python protobuf wrote.
    assert_eq!(written, bytes);
}

#[test]
fn fixture_plans_no_changes_for_its_definitions() {
    let registry = fixture();
    let plan = Plan::compute(&registry, &fixture_repo());
    let changed: Vec<_> = plan
        .diffs()
        .iter()
        .filter(|d| d.transition != Transition::Unchanged)
        .collect();
    assert!(changed.is_empty(), "{changed:#?}");
    assert!(!plan.has_changes());
    assert_eq!(plan.to_string(), "No changes to registry");
}

/// Feast drops `data_source_class_type` from a view's embedded source when it rewrites the view
/// (observed: `feast apply` over a registry Larder wrote); that alone is not a change.
#[test]
fn embedded_source_class_type_is_not_a_change() {
    let mut registry = fixture();
    let spec = registry.feature_views[0].spec.as_mut().unwrap();
    spec.batch_source
        .as_mut()
        .unwrap()
        .data_source_class_type
        .clear();
    assert_eq!(
        Plan::compute(&registry, &fixture_repo()).to_string(),
        "No changes to registry"
    );
    registry.data_sources[0].data_source_class_type.clear();
    let plan = Plan::compute(&registry, &fixture_repo());
    assert!(
        plan.has_changes(),
        "the top-level source's class type is compared"
    );
    assert_eq!(
        plan.to_string(),
        "No changes to registry",
        "data sources are not printed"
    );
}

#[test]
fn applying_an_update_to_the_fixture_keeps_feast_metadata() {
    let mut registry = fixture();
    let original = fixture();
    let mut repo = fixture_repo();
    repo.feature_views[0].description = "hourly driver stats".into();
    let plan = Plan::compute(&registry, &repo);
    assert_eq!(
        plan.to_string(),
        "Updated feature view driver_hourly_stats\n\tdescription: \"\" -> hourly driver stats"
    );
    let now = larder_core::time::parse_timestamp("2026-11-25T00:00:00").unwrap();
    plan.apply_to(&mut registry, now);

    let (old, new) = (&original.feature_views[0], &registry.feature_views[0]);
    let (old_meta, new_meta) = (old.meta.as_ref().unwrap(), new.meta.as_ref().unwrap());
    assert_eq!(new_meta.created_timestamp, old_meta.created_timestamp);
    assert_eq!(
        from_proto_timestamp(&new_meta.last_updated_timestamp.unwrap()),
        now
    );
    assert_eq!(
        new_meta.materialization_intervals,
        old_meta.materialization_intervals
    );
    assert_eq!(new_meta.state, pc::FeatureViewState::AvailableOnline as i32);
    let mut expected_spec = old.spec.clone().unwrap();
    expected_spec.description = "hourly driver stats".into();
    assert_eq!(
        new.spec.as_ref(),
        Some(&expected_spec),
        "embedded source meta kept from the top-level source"
    );
    let others = |r: &pc::Registry| {
        (
            encode_all(&r.entities),
            encode_all(&r.data_sources),
            encode_all(&r.feature_services),
            encode_all(&r.projects),
        )
    };
    assert_eq!(
        others(&registry),
        others(&original),
        "unchanged objects stay byte-identical"
    );
    assert_eq!(
        Plan::compute(&registry, &repo).to_string(),
        "No changes to registry"
    );
}

/// The encoded bytes of each message.
fn encode_all<M: Message>(messages: &[M]) -> Vec<Vec<u8>> {
    messages.iter().map(Message::encode_to_vec).collect()
}
