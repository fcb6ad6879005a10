//! [`Plan::apply_to`]: writes a plan's desired protos into the registry, keeping registry metadata
//! (creation times, materialization intervals, state) of objects that already exist.

use chrono::{DateTime, Utc};
use larder_core::proto::core::{self as pc, data_source as pds};
use larder_core::time::to_proto_timestamp;
use prost_types::Timestamp;

use super::{ObjectDiff, ObjectKind, Plan, Transition};
use crate::objects::{find, remove, upsert};

impl Plan {
    /// Applies the plan to `registry` for this plan's project only; other projects are untouched.
    ///
    /// Created and updated objects get `last_updated_timestamp = now` and keep an existing
    /// `created_timestamp`; an updated feature view keeps its materialization intervals and state.
    /// Embedded data sources get the `meta` of the top-level source of the same name, as Feast writes
    /// them. Unchanged objects are not touched, so they stay byte-identical. Replacements keep the
    /// object's position in its list (Feast moves it to the end; order carries no meaning).
    pub fn apply_to(&self, registry: &mut pc::Registry, now: DateTime<Utc>) {
        let now = to_proto_timestamp(now);
        for diff in &self.diffs {
            match diff.transition {
                Transition::Unchanged => {}
                Transition::Deleted => self.delete(registry, diff),
                Transition::Created | Transition::Updated => self.write(registry, diff, now),
            }
        }
    }

    fn delete(&self, registry: &mut pc::Registry, diff: &ObjectDiff) {
        let (p, name) = (self.project.as_str(), diff.name.as_str());
        match diff.kind {
            ObjectKind::Project => remove(&mut registry.projects, p, name),
            ObjectKind::DataSource => remove(&mut registry.data_sources, p, name),
            ObjectKind::Entity => remove(&mut registry.entities, p, name),
            ObjectKind::FeatureView => remove(&mut registry.feature_views, p, name),
            ObjectKind::FeatureService => remove(&mut registry.feature_services, p, name),
        };
    }

    fn write(&self, registry: &mut pc::Registry, diff: &ObjectDiff, now: Timestamp) {
        let (p, name, d) = (self.project.as_str(), diff.name.as_str(), &self.desired);
        match diff.kind {
            ObjectKind::Project => write_project(registry, &d.project, now),
            ObjectKind::DataSource => {
                if let Some(s) = d.data_sources.get(name) {
                    write_source(registry, p, s, now);
                }
            }
            ObjectKind::Entity => {
                if let Some(s) = d.entities.get(name) {
                    write_entity(registry, p, s, now);
                }
            }
            ObjectKind::FeatureView => {
                if let Some(s) = d.feature_views.get(name) {
                    write_view(registry, p, s, now);
                }
            }
            ObjectKind::FeatureService => {
                if let Some(s) = d.feature_services.get(name) {
                    write_service(registry, p, s, now);
                }
            }
        }
    }
}

/// `(created, last_updated)`: the existing creation time (or `now`), and `now`.
fn stamps(
    existing: Option<Option<Timestamp>>,
    now: Timestamp,
) -> (Option<Timestamp>, Option<Timestamp>) {
    (Some(existing.flatten().unwrap_or(now)), Some(now))
}

fn write_project(registry: &mut pc::Registry, spec: &pc::ProjectSpec, now: Timestamp) {
    let existing = find(&registry.projects, &spec.name, &spec.name)
        .map(|p| p.meta.and_then(|m| m.created_timestamp));
    let (created_timestamp, last_updated_timestamp) = stamps(existing, now);
    let project = pc::Project {
        spec: Some(spec.clone()),
        meta: Some(pc::ProjectMeta {
            created_timestamp,
            last_updated_timestamp,
        }),
    };
    upsert(&mut registry.projects, &spec.name, project);
}

fn write_source(
    registry: &mut pc::Registry,
    project: &str,
    source: &pc::DataSource,
    now: Timestamp,
) {
    let existing = find(&registry.data_sources, project, &source.name)
        .map(|s| s.meta.and_then(|m| m.created_timestamp));
    let (created_timestamp, last_updated_timestamp) = stamps(existing, now);
    let mut source = source.clone();
    source.meta = Some(pds::SourceMeta {
        created_timestamp,
        last_updated_timestamp,
        ..Default::default()
    });
    upsert(&mut registry.data_sources, project, source);
}

fn write_entity(
    registry: &mut pc::Registry,
    project: &str,
    spec: &pc::EntitySpecV2,
    now: Timestamp,
) {
    let existing = find(&registry.entities, project, &spec.name)
        .map(|e| e.meta.and_then(|m| m.created_timestamp));
    let (created_timestamp, last_updated_timestamp) = stamps(existing, now);
    let entity = pc::Entity {
        spec: Some(spec.clone()),
        meta: Some(pc::EntityMeta {
            created_timestamp,
            last_updated_timestamp,
        }),
    };
    upsert(&mut registry.entities, project, entity);
}

fn write_view(
    registry: &mut pc::Registry,
    project: &str,
    spec: &pc::FeatureViewSpec,
    now: Timestamp,
) {
    let mut spec = spec.clone();
    let sources = &registry.data_sources;
    spec.batch_source
        .iter_mut()
        .chain(spec.stream_source.iter_mut())
        .for_each(|s| fill_meta(s, sources, project));
    let mut meta = find(&registry.feature_views, project, &spec.name)
        .and_then(|v| v.meta.clone())
        .unwrap_or_else(|| pc::FeatureViewMeta {
            created_timestamp: Some(now),
            ..Default::default()
        });
    meta.created_timestamp.get_or_insert(now);
    meta.last_updated_timestamp = Some(now);
    let view = pc::FeatureView {
        spec: Some(spec),
        meta: Some(meta),
    };
    upsert(&mut registry.feature_views, project, view);
}

fn write_service(
    registry: &mut pc::Registry,
    project: &str,
    spec: &pc::FeatureServiceSpec,
    now: Timestamp,
) {
    let mut spec = spec.clone();
    let sources = &registry.data_sources;
    for p in &mut spec.features {
        p.batch_source
            .iter_mut()
            .chain(p.stream_source.iter_mut())
            .for_each(|s| fill_meta(s, sources, project));
    }
    let existing = find(&registry.feature_services, project, &spec.name)
        .map(|s| s.meta.and_then(|m| m.created_timestamp));
    let (created_timestamp, last_updated_timestamp) = stamps(existing, now);
    let service = pc::FeatureService {
        spec: Some(spec),
        meta: Some(pc::FeatureServiceMeta {
            created_timestamp,
            last_updated_timestamp,
        }),
    };
    upsert(&mut registry.feature_services, project, service);
}

/// Copies the `meta` of `project`'s top-level source of the same name into an embedded source (and
/// its nested batch source), as Feast's registry holds them.
fn fill_meta(source: &mut pc::DataSource, sources: &[pc::DataSource], project: &str) {
    source.meta = find(sources, project, &source.name).and_then(|s| s.meta);
    if let Some(batch) = source.batch_source.as_deref_mut() {
        fill_meta(batch, sources, project);
    }
}
