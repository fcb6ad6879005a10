//! Registry changes other than apply: recording a materialization, removing a project (teardown),
//! and recording a project's SQLite online tables in `infra`.

use chrono::{DateTime, Utc};
use larder_core::proto::core::{self as pc, infra_object};
use larder_core::time::to_proto_timestamp;

use crate::error::{Error, Result};
use crate::objects::{RegistryObject, names_in_project, position, remove_project};

/// Feast's Python class of a SQLite online table, stored in `infra_object_class_type`.
pub const SQLITE_TABLE_CLASS: &str = "feast.infra.online_stores.sqlite.SqliteTable";

/// Records that feature view `view` of `project` was materialized over `[start, end]`, as Feast
/// does: appends the interval to the view's meta, sets `last_updated_timestamp = now` and the state
/// to `AVAILABLE_ONLINE`. Stream feature views are found too.
pub fn apply_materialization(
    registry: &mut pc::Registry,
    project: &str,
    view: &str,
    start: DateTime<Utc>,
    end: DateTime<Utc>,
    now: DateTime<Utc>,
) -> Result<()> {
    let meta = if let Some(i) = position(&registry.feature_views, project, view) {
        registry.feature_views[i]
            .meta
            .get_or_insert_with(Default::default)
    } else if let Some(i) = position(&registry.stream_feature_views, project, view) {
        registry.stream_feature_views[i]
            .meta
            .get_or_insert_with(Default::default)
    } else {
        return Err(Error::NotFound {
            kind: "feature view",
            name: view.to_string(),
            project: project.to_string(),
            available: names_in_project(&registry.feature_views, project),
        });
    };
    meta.materialization_intervals
        .push(pc::MaterializationInterval {
            start_time: Some(to_proto_timestamp(start)),
            end_time: Some(to_proto_timestamp(end)),
        });
    meta.last_updated_timestamp = Some(to_proto_timestamp(now));
    meta.state = pc::FeatureViewState::AvailableOnline as i32;
    Ok(())
}

/// Removes every object of `project` (teardown): its `Project` entry and metadata, entities, data
/// sources, all kinds of feature views, feature services, saved datasets, validation references,
/// permissions, version-history records and SQLite `infra` entries. Other projects are untouched.
pub fn delete_project(registry: &mut pc::Registry, project: &str) {
    remove_sqlite_tables(registry, project);
    remove_project(&mut registry.projects, project);
    remove_project(&mut registry.entities, project);
    remove_project(&mut registry.data_sources, project);
    remove_project(&mut registry.feature_views, project);
    remove_project(&mut registry.on_demand_feature_views, project);
    remove_project(&mut registry.stream_feature_views, project);
    remove_project(&mut registry.label_views, project);
    remove_project(&mut registry.feature_services, project);
    remove_project(&mut registry.saved_datasets, project);
    remove_project(&mut registry.validation_references, project);
    remove_project(&mut registry.permissions, project);
    #[allow(deprecated)]
    registry.project_metadata.retain(|m| m.project != project);
    if let Some(history) = registry.feature_view_version_history.as_mut() {
        history.records.retain(|r| r.project_id != project);
    }
}

/// Records `project`'s SQLite online tables (`<project>_<view>`, in database `db_path`) in `infra`,
/// replacing the project's previous entries and keeping other projects' (Feast replaces the whole
/// `infra`, losing them). An entry is the project's when its name starts with `<project>_` and is
/// not the table of a view of another project.
pub fn set_sqlite_infra(
    registry: &mut pc::Registry,
    project: &str,
    db_path: &str,
    table_names: &[String],
) {
    remove_sqlite_tables(registry, project);
    if table_names.is_empty() {
        return;
    }
    let infra = registry.infra.get_or_insert_with(Default::default);
    infra
        .infra_objects
        .extend(table_names.iter().map(|name| pc::InfraObject {
            infra_object_class_type: SQLITE_TABLE_CLASS.to_string(),
            infra_object: Some(infra_object::InfraObject::SqliteTable(pc::SqliteTable {
                path: db_path.to_string(),
                name: name.clone(),
            })),
        }));
}

/// Removes `project`'s SQLite table entries from `infra` (see [`set_sqlite_infra`]).
fn remove_sqlite_tables(registry: &mut pc::Registry, project: &str) {
    let others = other_projects_tables(registry, project);
    let prefix = format!("{project}_");
    let Some(infra) = registry.infra.as_mut() else {
        return;
    };
    infra.infra_objects.retain(|o| match &o.infra_object {
        Some(infra_object::InfraObject::SqliteTable(t)) => {
            !t.name.starts_with(&prefix) || others.contains(&t.name)
        }
        _ => true,
    });
}

/// The table names `<project>_<view>` of every project but `project`.
fn other_projects_tables(registry: &pc::Registry, project: &str) -> Vec<String> {
    let views = registry
        .feature_views
        .iter()
        .map(|v| (v.project(), v.name()));
    let streams = registry
        .stream_feature_views
        .iter()
        .map(|v| (v.project(), v.name()));
    views
        .chain(streams)
        .filter(|(p, _)| *p != project)
        .map(|(p, v)| format!("{p}_{v}"))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use larder_core::time::parse_timestamp;

    fn view(name: &str, project: &str) -> pc::FeatureView {
        pc::FeatureView {
            spec: Some(pc::FeatureViewSpec {
                name: name.into(),
                project: project.into(),
                ..Default::default()
            }),
            meta: None,
        }
    }

    fn table_names(r: &pc::Registry) -> Vec<String> {
        let objects = r
            .infra
            .as_ref()
            .map(|i| i.infra_objects.clone())
            .unwrap_or_default();
        objects
            .into_iter()
            .filter_map(|o| match o.infra_object {
                Some(infra_object::InfraObject::SqliteTable(t)) => Some(t.name),
                _ => None,
            })
            .collect()
    }

    #[test]
    fn materialization_is_recorded_like_feast() {
        let mut r = pc::Registry {
            feature_views: vec![view("fv", "p")],
            ..Default::default()
        };
        let (start, end) = (
            parse_timestamp("2026-10-02").unwrap(),
            parse_timestamp("2026-11-01").unwrap(),
        );
        let now = parse_timestamp("2026-11-24T12:00:00").unwrap();
        apply_materialization(&mut r, "p", "fv", start, end, now).unwrap();
        let meta = r.feature_views[0].meta.as_ref().unwrap();
        assert_eq!(meta.materialization_intervals.len(), 1);
        assert_eq!(
            meta.materialization_intervals[0].end_time.unwrap().seconds,
            1_793_491_200
        );
        assert_eq!(
            meta.last_updated_timestamp.unwrap().seconds,
            now.timestamp()
        );
        assert_eq!(meta.state, pc::FeatureViewState::AvailableOnline as i32);
        let err = apply_materialization(&mut r, "other", "fv", start, end, now).unwrap_err();
        assert_eq!(
            err.to_string(),
            "feature view `fv` does not exist in project `other`; available: none"
        );
    }

    #[test]
    fn sqlite_infra_replaces_only_this_projects_tables() {
        let mut r = pc::Registry {
            feature_views: vec![view("fv", "a"), view("x", "a_b"), view("y", "a_b")],
            ..Default::default()
        };
        set_sqlite_infra(
            &mut r,
            "a_b",
            "/db",
            &["a_b_x".to_string(), "a_b_y".to_string()],
        );
        set_sqlite_infra(
            &mut r,
            "a",
            "/db",
            &["a_fv".to_string(), "a_old".to_string()],
        );
        set_sqlite_infra(&mut r, "a", "/db", &["a_fv".to_string()]);
        assert_eq!(table_names(&r), ["a_b_x", "a_b_y", "a_fv"]);
        let first = &r.infra.as_ref().unwrap().infra_objects[0];
        assert_eq!(first.infra_object_class_type, SQLITE_TABLE_CLASS);
    }

    #[test]
    fn delete_project_keeps_other_projects() {
        let mut r = pc::Registry {
            feature_views: vec![view("fv", "a"), view("fv", "b")],
            ..Default::default()
        };
        set_sqlite_infra(&mut r, "a", "/db", &["a_fv".to_string()]);
        set_sqlite_infra(&mut r, "b", "/db", &["b_fv".to_string()]);
        delete_project(&mut r, "a");
        assert_eq!(r.feature_views.len(), 1);
        assert_eq!(r.feature_views[0].project(), "b");
        assert_eq!(table_names(&r), ["b_fv"]);
    }
}
