//! The domain model: entities, data sources, feature views, feature services and projects, with
//! their conversions to and from Feast's registry protobufs.

mod entity;
mod feature_service;
mod feature_view;
mod source;

use std::collections::BTreeMap;

pub use entity::{DUMMY_ENTITY_ID, DUMMY_ENTITY_NAME, DUMMY_ENTITY_VALUE, Entity};
pub use feature_service::{FeatureService, Projection};
pub use feature_view::{FeatureView, MaterializationInterval};
pub use source::{DataSource, FileFormat, SourceKind};

use crate::proto::core as pc;
use crate::types::ValueType;

/// The column of a view's rows (from the offline store, for online writes) holding the event timestamp.
pub const EVENT_TS_COLUMN: &str = "__larder_event_ts";
/// The column of a view's rows holding the created timestamp, when the source has one.
pub const CREATED_TS_COLUMN: &str = "__larder_created_ts";

/// Free-form `key: value` tags, sorted by key.
pub type Tags = BTreeMap<String, String>;

/// A named, typed column: a feature or an entity column (Feast's `Field` / `FeatureSpecV2`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Field {
    /// The column name.
    pub name: String,
    /// The Feast value type.
    pub dtype: ValueType,
    /// A description.
    pub description: String,
    /// Tags.
    pub tags: Tags,
}

impl Field {
    /// A field with a name and a type.
    pub fn new(name: impl Into<String>, dtype: ValueType) -> Self {
        Field {
            name: name.into(),
            dtype,
            description: String::new(),
            tags: Tags::new(),
        }
    }

    /// The `FeatureSpecV2` message.
    pub fn to_proto(&self) -> pc::FeatureSpecV2 {
        pc::FeatureSpecV2 {
            name: self.name.clone(),
            value_type: self.dtype.as_i32(),
            tags: self.tags.clone(),
            description: self.description.clone(),
            ..Default::default()
        }
    }

    /// The field described by a `FeatureSpecV2` message.
    pub fn from_proto(p: &pc::FeatureSpecV2) -> Self {
        Field {
            name: p.name.clone(),
            dtype: ValueType::from_i32(p.value_type),
            description: p.description.clone(),
            tags: p.tags.clone(),
        }
    }
}

/// A project (Feast's `Project`): one namespace of objects in a registry.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Project {
    /// The name, as in `feature_store.yaml`'s `project`.
    pub name: String,
    /// A description.
    pub description: String,
    /// Tags.
    pub tags: Tags,
    /// The owner.
    pub owner: String,
}

impl Project {
    /// The `ProjectSpec` message.
    pub fn to_spec(&self) -> pc::ProjectSpec {
        pc::ProjectSpec {
            name: self.name.clone(),
            description: self.description.clone(),
            tags: self.tags.clone(),
            owner: self.owner.clone(),
        }
    }

    /// The project described by a `Project` message.
    pub fn from_proto(p: &pc::Project) -> Self {
        let spec = p.spec.clone().unwrap_or_default();
        Project {
            name: spec.name,
            description: spec.description,
            tags: spec.tags,
            owner: spec.owner,
        }
    }
}

/// Everything a repo defines for one project: the desired state that `apply` makes real.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct RepoContents {
    /// The project.
    pub project: Project,
    /// Entities, in definition order.
    pub entities: Vec<Entity>,
    /// Data sources, in definition order.
    pub data_sources: Vec<DataSource>,
    /// Feature views, in definition order.
    pub feature_views: Vec<FeatureView>,
    /// Feature services, in definition order.
    pub feature_services: Vec<FeatureService>,
}
