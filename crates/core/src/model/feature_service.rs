//! Feature services: named sets of features from one or more views, served together.

use super::{FeatureView, Field, Tags};
use crate::proto::core as pc;

/// A feature service (Feast's `FeatureService`).
#[derive(Debug, Clone, PartialEq)]
pub struct FeatureService {
    /// The name.
    pub name: String,
    /// The selected features, one projection per view.
    pub projections: Vec<Projection>,
    /// A description.
    pub description: String,
    /// Tags.
    pub tags: Tags,
    /// The owner.
    pub owner: String,
}

/// Some features of one view, optionally renamed and with remapped join keys
/// (Feast's `FeatureViewProjection`).
#[derive(Debug, Clone, PartialEq)]
pub struct Projection {
    /// The view's name.
    pub view: String,
    /// The name the features are served under instead of the view's, if any.
    pub alias: Option<String>,
    /// The selected features.
    pub features: Vec<Field>,
    /// View join key → column name in the request / entity rows.
    pub join_key_map: Tags,
}

impl Projection {
    /// The name features are reported under (`alias` or the view name).
    pub fn name_to_use(&self) -> &str {
        self.alias.as_deref().unwrap_or(&self.view)
    }

    /// The `FeatureViewProjection` message, with the view's batch source embedded as Feast does.
    pub fn to_proto(&self, view: Option<&FeatureView>) -> pc::FeatureViewProjection {
        let source = view.map(|v| &v.batch_source);
        pc::FeatureViewProjection {
            feature_view_name: self.view.clone(),
            feature_view_name_alias: self.alias.clone().unwrap_or_default(),
            feature_columns: self.features.iter().map(Field::to_proto).collect(),
            join_key_map: self.join_key_map.clone(),
            // Feast writes the source's created column here (sic); mirrored for identical registries.
            timestamp_field: source
                .map(|s| s.created_timestamp_column.clone())
                .unwrap_or_default(),
            created_timestamp_column: source
                .map(|s| s.created_timestamp_column.clone())
                .unwrap_or_default(),
            date_partition_column: source
                .map(|s| s.date_partition_column.clone())
                .unwrap_or_default(),
            batch_source: source.map(|s| s.to_proto(None, false)),
            // Feast's Python projection has no stream source; it never writes one.
            stream_source: None,
            view_type: "featureView".into(),
            ..Default::default()
        }
    }

    /// The projection described by a `FeatureViewProjection` message.
    pub fn from_proto(p: &pc::FeatureViewProjection) -> Self {
        Projection {
            view: p.feature_view_name.clone(),
            alias: Some(p.feature_view_name_alias.clone()).filter(|a| !a.is_empty()),
            features: p.feature_columns.iter().map(Field::from_proto).collect(),
            join_key_map: p.join_key_map.clone(),
        }
    }
}

impl FeatureService {
    /// The `FeatureServiceSpec` message for `project`; `view` looks up views to embed their sources.
    pub fn to_spec<'a>(
        &self,
        project: &str,
        view: impl Fn(&str) -> Option<&'a FeatureView>,
    ) -> pc::FeatureServiceSpec {
        pc::FeatureServiceSpec {
            name: self.name.clone(),
            project: project.into(),
            features: self
                .projections
                .iter()
                .map(|p| p.to_proto(view(&p.view)))
                .collect(),
            tags: self.tags.clone(),
            description: self.description.clone(),
            owner: self.owner.clone(),
            ..Default::default()
        }
    }

    /// The service described by a `FeatureService` message.
    pub fn from_proto(p: &pc::FeatureService) -> Self {
        let spec = p.spec.clone().unwrap_or_default();
        FeatureService {
            name: spec.name,
            projections: spec.features.iter().map(Projection::from_proto).collect(),
            description: spec.description,
            tags: spec.tags,
            owner: spec.owner,
        }
    }
}
