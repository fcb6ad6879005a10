//! Typed, read-only access to one project of a registry snapshot.
//!
//! Objects belong to a project through `spec.project` (data sources: their `project` field). Every
//! list is **sorted by name**, whatever the order in the registry (which changes as objects are
//! re-applied), so output built from it is stable.

use larder_core::model::{DataSource, Entity, FeatureService, FeatureView, Project};
use larder_core::proto::core as pc;

use crate::error::{Error, Result};
use crate::objects::{RegistryObject, find, in_project, names_in_project};

/// One project of a registry snapshot, converted to the domain model on access.
#[derive(Debug, Clone, Copy)]
pub struct ProjectView<'a> {
    /// The registry snapshot (all projects).
    pub registry: &'a pc::Registry,
    /// The project looked at.
    pub project: &'a str,
}

impl<'a> ProjectView<'a> {
    /// A view of `project` in `registry`.
    pub fn new(registry: &'a pc::Registry, project: &'a str) -> Self {
        ProjectView { registry, project }
    }

    /// The project's `Project` entry, if the registry has one.
    pub fn project(&self) -> Option<Project> {
        find(&self.registry.projects, self.project, self.project).map(Project::from_proto)
    }

    /// The entities, sorted by name, including Feast's `__dummy` entity when present.
    pub fn entities(&self) -> Vec<Entity> {
        in_project(&self.registry.entities, self.project)
            .into_iter()
            .map(Entity::from_proto)
            .collect()
    }

    /// The top-level data sources, sorted by name.
    pub fn data_sources(&self) -> Vec<DataSource> {
        in_project(&self.registry.data_sources, self.project)
            .into_iter()
            .map(DataSource::from_proto)
            .collect()
    }

    /// The (batch) feature views, sorted by name.
    pub fn feature_views(&self) -> Vec<FeatureView> {
        in_project(&self.registry.feature_views, self.project)
            .into_iter()
            .map(FeatureView::from_proto)
            .collect()
    }

    /// The feature services, sorted by name.
    pub fn feature_services(&self) -> Vec<FeatureService> {
        in_project(&self.registry.feature_services, self.project)
            .into_iter()
            .map(FeatureService::from_proto)
            .collect()
    }

    /// The entity called `name`.
    pub fn entity(&self, name: &str) -> Result<Entity> {
        self.lookup("entity", &self.registry.entities, name)
            .map(Entity::from_proto)
    }

    /// The top-level data source called `name`.
    pub fn data_source(&self, name: &str) -> Result<DataSource> {
        self.lookup("data source", &self.registry.data_sources, name)
            .map(DataSource::from_proto)
    }

    /// The feature view called `name`. A stream or on demand feature view of that name is reported as
    /// [`Error::Unsupported`], since Larder cannot serve those.
    pub fn feature_view(&self, name: &str) -> Result<FeatureView> {
        if let Some(p) = find(&self.registry.feature_views, self.project, name) {
            return Ok(FeatureView::from_proto(p));
        }
        if let Some(kind) = self.other_view_kind(name) {
            return Err(Error::Unsupported {
                what: format!(
                    "using {kind} `{name}` (project `{}`) as a feature view",
                    self.project
                ),
                help: "Larder serves batch feature views only".into(),
            });
        }
        Err(self.not_found("feature view", &self.registry.feature_views, name))
    }

    /// The feature service called `name`.
    pub fn feature_service(&self, name: &str) -> Result<FeatureService> {
        self.lookup("feature service", &self.registry.feature_services, name)
            .map(FeatureService::from_proto)
    }

    /// The `FeatureView` message called `name`, as stored (with its registry metadata).
    pub fn feature_view_proto(&self, name: &str) -> Option<&'a pc::FeatureView> {
        find(&self.registry.feature_views, self.project, name)
    }

    /// The names of the on demand feature views (not convertible to the model), sorted.
    pub fn on_demand_feature_view_names(&self) -> Vec<String> {
        names_in_project(&self.registry.on_demand_feature_views, self.project)
    }

    /// The names of the stream feature views (not convertible to the model), sorted.
    pub fn stream_feature_view_names(&self) -> Vec<String> {
        names_in_project(&self.registry.stream_feature_views, self.project)
    }

    /// The names of the label views (not convertible to the model), sorted.
    pub fn label_view_names(&self) -> Vec<String> {
        names_in_project(&self.registry.label_views, self.project)
    }

    /// Whether the registry holds anything for this project (a `Project` entry or any object).
    pub fn exists(&self) -> bool {
        projects(self.registry).iter().any(|p| p == self.project)
    }

    fn lookup<T: RegistryObject>(
        &self,
        kind: &'static str,
        items: &'a [T],
        name: &str,
    ) -> Result<&'a T> {
        find(items, self.project, name).ok_or_else(|| self.not_found(kind, items, name))
    }

    fn not_found<T: RegistryObject>(&self, kind: &'static str, items: &[T], name: &str) -> Error {
        Error::NotFound {
            kind,
            name: name.to_string(),
            project: self.project.to_string(),
            available: names_in_project(items, self.project),
        }
    }

    fn other_view_kind(&self, name: &str) -> Option<&'static str> {
        let r = self.registry;
        if find(&r.stream_feature_views, self.project, name).is_some() {
            Some("stream feature view")
        } else if find(&r.on_demand_feature_views, self.project, name).is_some() {
            Some("on demand feature view")
        } else if find(&r.label_views, self.project, name).is_some() {
            Some("label view")
        } else {
            None
        }
    }
}

/// The projects in `registry`, sorted: those with a `Project` entry, plus any project that objects
/// (or the deprecated `project_metadata`) refer to, as registries written before Feast 0.40 have no
/// `Project` entries.
pub fn projects(registry: &pc::Registry) -> Vec<String> {
    let mut names: Vec<String> = Vec::new();
    names.extend(registry.projects.iter().map(|p| p.name().to_string()));
    names.extend(registry.entities.iter().map(|o| o.project().to_string()));
    names.extend(
        registry
            .data_sources
            .iter()
            .map(|o| o.project().to_string()),
    );
    names.extend(
        registry
            .feature_views
            .iter()
            .map(|o| o.project().to_string()),
    );
    names.extend(
        registry
            .on_demand_feature_views
            .iter()
            .map(|o| o.project().to_string()),
    );
    names.extend(
        registry
            .stream_feature_views
            .iter()
            .map(|o| o.project().to_string()),
    );
    names.extend(
        registry
            .feature_services
            .iter()
            .map(|o| o.project().to_string()),
    );
    #[allow(deprecated)]
    names.extend(registry.project_metadata.iter().map(|m| m.project.clone()));
    names.retain(|n| !n.is_empty());
    names.sort();
    names.dedup();
    names
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entity(name: &str, project: &str) -> pc::Entity {
        pc::Entity {
            spec: Some(pc::EntitySpecV2 {
                name: name.into(),
                project: project.into(),
                join_key: format!("{name}_id"),
                ..Default::default()
            }),
            meta: None,
        }
    }

    fn registry() -> pc::Registry {
        pc::Registry {
            entities: vec![
                entity("zeta", "a"),
                entity("alpha", "a"),
                entity("other", "b"),
            ],
            on_demand_feature_views: vec![pc::OnDemandFeatureView {
                spec: Some(pc::OnDemandFeatureViewSpec {
                    name: "odfv".into(),
                    project: "a".into(),
                    ..Default::default()
                }),
                meta: None,
            }],
            ..Default::default()
        }
    }

    #[test]
    fn lists_are_scoped_and_sorted_by_name() {
        let r = registry();
        let names: Vec<String> = ProjectView::new(&r, "a")
            .entities()
            .into_iter()
            .map(|e| e.name)
            .collect();
        assert_eq!(names, ["alpha", "zeta"]);
        assert_eq!(ProjectView::new(&r, "b").entities().len(), 1);
        assert!(ProjectView::new(&r, "c").entities().is_empty());
        assert_eq!(projects(&r), ["a", "b"]);
        assert!(ProjectView::new(&r, "b").exists());
        assert!(!ProjectView::new(&r, "c").exists());
    }

    #[test]
    fn missing_objects_list_the_available_ones() {
        let r = registry();
        let view = ProjectView::new(&r, "a");
        assert_eq!(view.entity("zeta").unwrap().join_key, "zeta_id");
        let err = view.entity("other").unwrap_err().to_string();
        assert_eq!(
            err,
            "entity `other` does not exist in project `a`; available: alpha, zeta"
        );
        let err = view.feature_service("fs").unwrap_err().to_string();
        assert!(err.ends_with("available: none"), "{err}");
    }

    #[test]
    fn other_view_kinds_are_named_not_missing() {
        let r = registry();
        let view = ProjectView::new(&r, "a");
        assert_eq!(view.on_demand_feature_view_names(), ["odfv"]);
        let err = view.feature_view("odfv").unwrap_err();
        assert!(matches!(err, Error::Unsupported { .. }), "{err}");
        assert!(err.to_string().contains("on demand feature view"), "{err}");
    }
}
