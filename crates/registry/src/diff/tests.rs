//! Tests of the apply diff: printing, idempotency, field-level updates, metadata and project scoping.

use std::time::Duration;

use chrono::{DateTime, Utc};
use larder_core::ValueType;
use larder_core::model::{
    DataSource, Entity, FeatureService, FeatureView, Field, FileFormat, Project, Projection,
    RepoContents, SourceKind, Tags,
};
use larder_core::proto::core as pc;
use larder_core::time::parse_timestamp;
use prost::Message;

use super::*;
use crate::diff::ops::apply_materialization;

fn t(text: &str) -> DateTime<Utc> {
    parse_timestamp(text).unwrap()
}

fn source() -> DataSource {
    DataSource {
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
    }
}

fn view() -> FeatureView {
    FeatureView {
        name: "driver_hourly_stats".into(),
        entities: vec!["driver".into()],
        features: vec![
            Field::new("conv_rate", ValueType::Float),
            Field::new("city", ValueType::String),
        ],
        entity_columns: vec![Field::new("driver_id", ValueType::Int64)],
        ttl: Duration::from_secs(2 * 86_400),
        batch_source: source(),
        stream_source: None,
        online: true,
        offline: false,
        description: String::new(),
        tags: Tags::from([("team".to_string(), "drivers".to_string())]),
        owner: String::new(),
        materialization_intervals: vec![],
    }
}

fn service() -> FeatureService {
    let v = view();
    FeatureService {
        name: "driver_activity".into(),
        projections: vec![Projection {
            view: v.name.clone(),
            alias: None,
            features: v.features.clone(),
            join_key_map: Tags::new(),
        }],
        description: String::new(),
        tags: Tags::new(),
        owner: String::new(),
    }
}

fn repo(project: &str) -> RepoContents {
    RepoContents {
        project: Project {
            name: project.into(),
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
        data_sources: vec![source()],
        feature_views: vec![view()],
        feature_services: vec![service()],
    }
}

fn applied(registry: &mut pc::Registry, repo: &RepoContents, now: &str) -> Plan {
    let plan = Plan::compute(registry, repo);
    plan.apply_to(registry, t(now));
    plan
}

#[test]
fn first_apply_creates_everything_but_prints_no_dummy_or_source() {
    let plan = Plan::compute(&pc::Registry::default(), &repo("demo"));
    assert_eq!(
        plan.to_string(),
        "Created project demo\nCreated entity driver\nCreated feature view driver_hourly_stats\n\
         Created feature service driver_activity"
    );
    let created: Vec<(ObjectKind, &str)> = plan
        .diffs()
        .iter()
        .filter(|d| d.transition == Transition::Created)
        .map(|d| (d.kind, d.name.as_str()))
        .collect();
    assert!(created.contains(&(ObjectKind::Entity, "__dummy")));
    assert!(created.contains(&(ObjectKind::DataSource, "driver_stats_source")));
    assert_eq!(plan.created_feature_views(), ["driver_hourly_stats"]);
    assert!(plan.has_changes());
}

#[test]
fn applying_twice_changes_nothing() {
    let mut registry = pc::Registry::default();
    applied(&mut registry, &repo("demo"), "2026-11-24T12:00:00");
    let before = registry.encode_to_vec();
    let again = applied(&mut registry, &repo("demo"), "2026-11-25T12:00:00");
    assert!(!again.has_changes(), "{:?}", again.diffs());
    assert_eq!(again.to_string(), "No changes to registry");
    assert_eq!(
        registry.encode_to_vec(),
        before,
        "an empty plan writes nothing"
    );
    assert!(again.created_feature_views().is_empty() && again.updated_feature_views().is_empty());
}

#[test]
fn applied_registry_has_feast_shape() {
    let mut registry = pc::Registry::default();
    applied(&mut registry, &repo("demo"), "2026-11-24T12:00:00");
    assert_eq!(registry.projects.len(), 1);
    assert_eq!(registry.entities.len(), 2, "driver and __dummy");
    let top = &registry.data_sources[0];
    assert_eq!(top.project, "demo");
    let meta = top.meta.expect("top-level source meta");
    assert_eq!(
        meta.created_timestamp.unwrap().seconds,
        t("2026-11-24T12:00:00").timestamp()
    );
    let fv = registry.feature_views[0].spec.as_ref().unwrap();
    assert_eq!(
        fv.batch_source.as_ref().unwrap().meta,
        Some(meta),
        "embedded copy carries the top-level meta"
    );
    assert_eq!(
        fv.batch_source.as_ref().unwrap().project,
        "",
        "embedded copies have no project, as in Feast"
    );
    let fs = registry.feature_services[0].spec.as_ref().unwrap();
    assert_eq!(
        fs.features[0].batch_source.as_ref().unwrap().meta,
        Some(meta)
    );
}

#[test]
fn updates_list_each_changed_field() {
    let mut registry = pc::Registry::default();
    applied(&mut registry, &repo("demo"), "2026-11-24T12:00:00");
    let mut changed = repo("demo");
    let fv = &mut changed.feature_views[0];
    fv.ttl = Duration::from_secs(86_400);
    fv.features.push(Field::new("trips", ValueType::Int64));
    fv.tags.insert("owner".into(), "ml".into());
    changed.entities[0].description = String::new();
    let plan = Plan::compute(&registry, &changed);
    assert_eq!(
        plan.to_string(),
        "Updated entity driver\n\tdescription: driver id -> \"\"\n\
         Updated feature view driver_hourly_stats\n\
         \tfeatures: [conv_rate: FLOAT, city: STRING] -> [conv_rate: FLOAT, city: STRING, trips: INT64]\n\
         \ttags: {team: drivers} -> {owner: ml, team: drivers}\n\
         \tttl: 2d -> 1d"
    );
    assert_eq!(plan.updated_feature_views(), ["driver_hourly_stats"]);
}

#[test]
fn source_changes_show_in_the_views_that_embed_them() {
    let mut registry = pc::Registry::default();
    applied(&mut registry, &repo("demo"), "2026-11-24T12:00:00");
    let mut changed = repo("demo");
    changed.data_sources[0].timestamp_field = "ts".into();
    changed.feature_views[0].batch_source.timestamp_field = "ts".into();
    let plan = Plan::compute(&registry, &changed);
    let text = plan.to_string();
    assert!(
        text.starts_with(
            "Updated feature view driver_hourly_stats\n\tbatch_source: {name: driver_stats_source"
        ),
        "{text}"
    );
    assert!(
        text.contains("timestamp_field: event_timestamp") && text.contains("timestamp_field: ts"),
        "{text}"
    );
    assert!(
        !text.contains("data source"),
        "data sources are not printed: {text}"
    );
    plan.apply_to(&mut registry, t("2026-11-25T00:00:00"));
    let top = registry.data_sources[0].meta.unwrap();
    let fv = registry.feature_views[0].spec.as_ref().unwrap();
    assert_eq!(fv.batch_source.as_ref().unwrap().meta, Some(top));
    assert_eq!(
        top.last_updated_timestamp.unwrap().seconds,
        t("2026-11-25T00:00:00").timestamp()
    );
    assert_eq!(
        top.created_timestamp.unwrap().seconds,
        t("2026-11-24T12:00:00").timestamp()
    );
}

#[test]
fn updates_keep_creation_time_intervals_and_state() {
    let mut registry = pc::Registry::default();
    applied(&mut registry, &repo("demo"), "2026-11-24T12:00:00");
    apply_materialization(
        &mut registry,
        "demo",
        "driver_hourly_stats",
        t("2026-10-01"),
        t("2026-11-01"),
        t("2026-11-24T13:00:00"),
    )
    .unwrap();
    let entity_before = registry.entities.clone();
    let mut changed = repo("demo");
    changed.feature_views[0].online = false;
    applied(&mut registry, &changed, "2026-11-25T00:00:00");
    let meta = registry.feature_views[0].meta.as_ref().unwrap();
    assert_eq!(
        meta.created_timestamp.unwrap().seconds,
        t("2026-11-24T12:00:00").timestamp()
    );
    assert_eq!(
        meta.last_updated_timestamp.unwrap().seconds,
        t("2026-11-25T00:00:00").timestamp()
    );
    assert_eq!(meta.materialization_intervals.len(), 1);
    assert_eq!(meta.state, pc::FeatureViewState::AvailableOnline as i32);
    assert_eq!(
        registry.entities, entity_before,
        "unchanged objects are untouched"
    );
}

#[test]
fn removed_objects_are_deleted() {
    let mut registry = pc::Registry::default();
    applied(&mut registry, &repo("demo"), "2026-11-24T12:00:00");
    let mut smaller = repo("demo");
    smaller.feature_services.clear();
    smaller.feature_views.clear();
    let plan = applied(&mut registry, &smaller, "2026-11-25T00:00:00");
    assert_eq!(
        plan.to_string(),
        "Deleted feature view driver_hourly_stats\nDeleted feature service driver_activity"
    );
    assert_eq!(plan.deleted_feature_views(), ["driver_hourly_stats"]);
    assert!(registry.feature_views.is_empty() && registry.feature_services.is_empty());
    assert_eq!(
        registry.data_sources.len(),
        1,
        "the source is still defined"
    );
}

#[test]
fn other_projects_are_preserved() {
    let mut registry = pc::Registry::default();
    applied(&mut registry, &repo("other"), "2026-11-20T00:00:00");
    let other_bytes = |r: &pc::Registry| {
        let mut copy = r.clone();
        crate::diff::delete_project(&mut copy, "demo");
        copy.encode_to_vec()
    };
    let before = other_bytes(&registry);
    let plan = applied(&mut registry, &repo("demo"), "2026-11-24T12:00:00");
    assert!(
        plan.to_string().starts_with("Created project demo\n"),
        "{plan}"
    );
    let mut empty_demo = repo("demo");
    empty_demo.feature_views.clear();
    empty_demo.feature_services.clear();
    empty_demo.entities.clear();
    applied(&mut registry, &empty_demo, "2026-11-25T00:00:00");
    assert_eq!(
        other_bytes(&registry),
        before,
        "project `other` is byte-identical"
    );
    assert_eq!(crate::view::projects(&registry), ["demo", "other"]);
    assert_eq!(
        crate::view::ProjectView::new(&registry, "other")
            .feature_views()
            .len(),
        1
    );
    assert!(
        crate::view::ProjectView::new(&registry, "demo")
            .feature_views()
            .is_empty()
    );
}

#[test]
fn data_source_only_changes_are_applied_but_not_printed() {
    let mut registry = pc::Registry::default();
    applied(&mut registry, &repo("demo"), "2026-11-24T12:00:00");
    let mut more = repo("demo");
    let mut extra = source();
    extra.name = "unused".into();
    more.data_sources.push(extra);
    let plan = applied(&mut registry, &more, "2026-11-25T00:00:00");
    assert!(plan.has_changes());
    assert_eq!(plan.to_string(), "No changes to registry");
    assert_eq!(registry.data_sources.len(), 2);
}

#[test]
fn project_updates_print_their_fields() {
    let mut registry = pc::Registry::default();
    applied(&mut registry, &repo("demo"), "2026-11-24T12:00:00");
    let mut described = repo("demo");
    described.project.description = "Driver features".into();
    let plan = applied(&mut registry, &described, "2026-11-25T00:00:00");
    assert_eq!(
        plan.to_string(),
        "Updated project demo\n\tdescription: \"\" -> Driver features"
    );
    let meta = registry.projects[0].meta.unwrap();
    assert_eq!(
        meta.created_timestamp.unwrap().seconds,
        t("2026-11-24T12:00:00").timestamp()
    );
}
