//! The apply diff: what must change in the registry to make one project match a repo's definitions.
//!
//! [`Plan::compute`] matches objects by name within the project, per kind (project, data source,
//! entity, feature view, feature service), and compares their spec protos. Embedded data sources
//! (inside feature views and feature-service projections) are compared with their registry `meta`
//! cleared, so re-applying unchanged definitions is a no-op — unlike Feast 0.67, whose regenerated
//! `meta` timestamps make every re-apply print `Updated feature view ...`.
//!
//! [`Plan`]'s `Display` prints what Feast's `plan`/`apply` print; [`Plan::apply_to`] makes the change.

mod apply;
mod fields;
mod ops;

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use larder_core::model::{DUMMY_ENTITY_NAME, Entity, RepoContents};
use larder_core::proto::core as pc;

use crate::objects::{RegistryObject, in_project};
use fields::FieldDef;

pub use ops::{SQLITE_TABLE_CLASS, apply_materialization, delete_project, set_sqlite_infra};

/// The kinds of registry object a [`Plan`] covers, in Feast's order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum ObjectKind {
    /// A project.
    Project,
    /// A top-level data source (diffed and applied, never printed, as in Feast).
    DataSource,
    /// An entity.
    Entity,
    /// A (batch) feature view.
    FeatureView,
    /// A feature service.
    FeatureService,
}

impl ObjectKind {
    /// The name Feast prints: `project`, `data source`, `entity`, `feature view`, `feature service`.
    pub fn as_str(self) -> &'static str {
        match self {
            ObjectKind::Project => "project",
            ObjectKind::DataSource => "data source",
            ObjectKind::Entity => "entity",
            ObjectKind::FeatureView => "feature view",
            ObjectKind::FeatureService => "feature service",
        }
    }
}

impl fmt::Display for ObjectKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What happens to one object.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Transition {
    /// Desired, not in the registry.
    Created,
    /// In both, with a different spec.
    Updated,
    /// In the registry, not desired.
    Deleted,
    /// In both, with the same spec.
    Unchanged,
}

impl Transition {
    /// `Created`, `Updated`, `Deleted` or `Unchanged`, as Feast prints it.
    pub fn as_str(self) -> &'static str {
        match self {
            Transition::Created => "Created",
            Transition::Updated => "Updated",
            Transition::Deleted => "Deleted",
            Transition::Unchanged => "Unchanged",
        }
    }
}

/// One changed spec field of an updated object, with both values rendered on one line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Change {
    /// The spec field, e.g. `ttl`.
    pub field: &'static str,
    /// The value in the registry.
    pub old: String,
    /// The desired value.
    pub new: String,
}

impl fmt::Display for Change {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {} -> {}", self.field, self.old, self.new)
    }
}

/// What happens to one object, and for updates, which spec fields change.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObjectDiff {
    /// The object's kind.
    pub kind: ObjectKind,
    /// The object's name.
    pub name: String,
    /// What happens to it.
    pub transition: Transition,
    /// For [`Transition::Updated`], the changed fields in spec order; empty otherwise.
    pub changes: Vec<Change>,
}

impl ObjectDiff {
    /// Whether `plan` prints this diff: not unchanged, not a data source, not the `__dummy` entity.
    pub fn is_printed(&self) -> bool {
        self.transition != Transition::Unchanged
            && self.kind != ObjectKind::DataSource
            && self.name != DUMMY_ENTITY_NAME
    }
}

impl fmt::Display for ObjectDiff {
    /// `Updated feature view x` followed by one `\t<field>: <old> -> <new>` line per change.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} {} {}",
            self.transition.as_str(),
            self.kind,
            self.name
        )?;
        for change in &self.changes {
            write!(f, "\n\t{change}")?;
        }
        Ok(())
    }
}

/// The registry changes that make one project match its definitions.
///
/// Compute it with [`Plan::compute`], print it with `Display`, and apply it with [`Plan::apply_to`]
/// to the same registry contents it was computed from (inside [`crate::Registry::commit`]).
#[derive(Debug, Clone, PartialEq)]
pub struct Plan {
    project: String,
    diffs: Vec<ObjectDiff>,
    desired: Desired,
}

/// The desired spec protos, by name, exactly as [`Plan::apply_to`] writes them (minus `meta`).
#[derive(Debug, Clone, PartialEq, Default)]
struct Desired {
    project: pc::ProjectSpec,
    data_sources: BTreeMap<String, pc::DataSource>,
    entities: BTreeMap<String, pc::EntitySpecV2>,
    feature_views: BTreeMap<String, pc::FeatureViewSpec>,
    feature_services: BTreeMap<String, pc::FeatureServiceSpec>,
}

impl Desired {
    fn new(repo: &RepoContents) -> Self {
        let project = repo.project.name.as_str();
        let mut entities: BTreeMap<String, pc::EntitySpecV2> = repo
            .entities
            .iter()
            .map(|e| (e.name.clone(), e.to_spec(project)))
            .collect();
        let dummy = Entity::dummy();
        entities
            .entry(dummy.name.clone())
            .or_insert_with(|| dummy.to_spec(project));
        let view = |name: &str| repo.feature_views.iter().find(|v| v.name == name);
        Desired {
            project: repo.project.to_spec(),
            data_sources: repo
                .data_sources
                .iter()
                .filter(|s| !s.name.is_empty())
                .map(|s| (s.name.clone(), s.to_proto(Some(project), true)))
                .collect(),
            entities,
            feature_views: repo
                .feature_views
                .iter()
                .map(|v| (v.name.clone(), v.to_spec(project)))
                .collect(),
            feature_services: repo
                .feature_services
                .iter()
                .map(|s| (s.name.clone(), s.to_spec(project, view)))
                .collect(),
        }
    }
}

impl Plan {
    /// The diff between `current` (all projects) and the desired state of project
    /// `desired.project.name`. Feast's `__dummy` entity is always part of the desired state.
    pub fn compute(current: &pc::Registry, desired: &RepoContents) -> Plan {
        let project = desired.project.name.clone();
        let want = Desired::new(desired);
        let mut diffs = Vec::new();
        diffs.extend(diff_project(current, &project, &want.project));
        diffs.extend(diff_kind(
            ObjectKind::DataSource,
            current_specs(&current.data_sources, &project, |s| Some(s.clone())),
            &want.data_sources,
            fields::normalize_source,
            fields::DATA_SOURCE,
        ));
        diffs.extend(diff_kind(
            ObjectKind::Entity,
            current_specs(&current.entities, &project, |e| e.spec.clone()),
            &want.entities,
            Clone::clone,
            fields::ENTITY,
        ));
        diffs.extend(diff_kind(
            ObjectKind::FeatureView,
            current_specs(&current.feature_views, &project, |v| v.spec.clone()),
            &want.feature_views,
            fields::normalize_view,
            fields::FEATURE_VIEW,
        ));
        diffs.extend(diff_kind(
            ObjectKind::FeatureService,
            current_specs(&current.feature_services, &project, |s| s.spec.clone()),
            &want.feature_services,
            fields::normalize_service,
            fields::FEATURE_SERVICE,
        ));
        Plan {
            project,
            diffs,
            desired: want,
        }
    }

    /// The project the plan is for.
    pub fn project(&self) -> &str {
        &self.project
    }

    /// Every object's diff, unchanged ones included: kinds in Feast's order, names sorted within a kind.
    pub fn diffs(&self) -> &[ObjectDiff] {
        &self.diffs
    }

    /// Whether applying the plan changes the registry. This can be true while `Display` prints
    /// `No changes to registry`, when only data sources or the `__dummy` entity change.
    pub fn has_changes(&self) -> bool {
        self.diffs
            .iter()
            .any(|d| d.transition != Transition::Unchanged)
    }

    /// The names of the feature views with `transition`, sorted.
    pub fn feature_views(&self, transition: Transition) -> Vec<&str> {
        self.diffs
            .iter()
            .filter(|d| d.kind == ObjectKind::FeatureView && d.transition == transition)
            .map(|d| d.name.as_str())
            .collect()
    }

    /// The names of the feature views the plan creates, sorted.
    pub fn created_feature_views(&self) -> Vec<&str> {
        self.feature_views(Transition::Created)
    }

    /// The names of the feature views the plan updates, sorted.
    pub fn updated_feature_views(&self) -> Vec<&str> {
        self.feature_views(Transition::Updated)
    }

    /// The names of the feature views the plan deletes, sorted.
    pub fn deleted_feature_views(&self) -> Vec<&str> {
        self.feature_views(Transition::Deleted)
    }
}

impl fmt::Display for Plan {
    /// Feast's registry diff: one line per created, updated or deleted object (plus one per changed
    /// field of updates), or `No changes to registry`. No trailing newline.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let printed: Vec<String> = self
            .diffs
            .iter()
            .filter(|d| d.is_printed())
            .map(|d| d.to_string())
            .collect();
        if printed.is_empty() {
            return f.write_str("No changes to registry");
        }
        f.write_str(&printed.join("\n"))
    }
}

/// The specs of `project`'s objects in `items`, by name (the first of duplicate names wins).
fn current_specs<T: RegistryObject, S>(
    items: &[T],
    project: &str,
    spec: impl Fn(&T) -> Option<S>,
) -> BTreeMap<String, S> {
    let mut out = BTreeMap::new();
    for item in in_project(items, project) {
        if let Some(s) = spec(item).filter(|_| !item.name().is_empty()) {
            out.entry(item.name().to_string()).or_insert(s);
        }
    }
    out
}

fn diff_project(
    current: &pc::Registry,
    project: &str,
    want: &pc::ProjectSpec,
) -> Option<ObjectDiff> {
    let have = current_specs(&current.projects, project, |p| p.spec.clone());
    let want = BTreeMap::from([(project.to_string(), want.clone())]);
    diff_kind(
        ObjectKind::Project,
        have,
        &want,
        Clone::clone,
        fields::PROJECT,
    )
    .into_iter()
    .next()
}

/// Matches `have` and `want` by name and compares the normalized specs field by field.
fn diff_kind<S: PartialEq + fmt::Debug>(
    kind: ObjectKind,
    have: BTreeMap<String, S>,
    want: &BTreeMap<String, S>,
    normalize: fn(&S) -> S,
    fields: &[FieldDef<S>],
) -> Vec<ObjectDiff> {
    let names: BTreeSet<&String> = have.keys().chain(want.keys()).collect();
    let diff = |name: &String, transition, changes| ObjectDiff {
        kind,
        name: name.clone(),
        transition,
        changes,
    };
    names
        .into_iter()
        .map(|name| match (have.get(name), want.get(name)) {
            (None, _) => diff(name, Transition::Created, vec![]),
            (_, None) => diff(name, Transition::Deleted, vec![]),
            (Some(old), Some(new)) => {
                let (old, new) = (normalize(old), normalize(new));
                if old == new {
                    diff(name, Transition::Unchanged, vec![])
                } else {
                    diff(
                        name,
                        Transition::Updated,
                        fields::changes(fields, &old, &new),
                    )
                }
            }
        })
        .collect()
}

#[cfg(test)]
mod tests;
