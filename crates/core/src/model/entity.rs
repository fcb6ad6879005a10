//! Entities: the keys features are attached to.

use super::Tags;
use crate::proto::core as pc;
use crate::types::ValueType;

/// The entity Feast applies for views without entities.
pub const DUMMY_ENTITY_NAME: &str = "__dummy";
/// The join key of [`DUMMY_ENTITY_NAME`].
pub const DUMMY_ENTITY_ID: &str = "__dummy_id";
/// The (string) value of [`DUMMY_ENTITY_ID`] in every row of an entity-less view.
pub const DUMMY_ENTITY_VALUE: &str = "";

/// An entity (Feast's `Entity`): a name and the join key that identifies its rows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entity {
    /// The name.
    pub name: String,
    /// The join key (Feast allows exactly one).
    pub join_key: String,
    /// The declared type; [`ValueType::Unknown`] when not declared (then views carry the type).
    pub value_type: ValueType,
    /// A description.
    pub description: String,
    /// Tags.
    pub tags: Tags,
    /// The owner.
    pub owner: String,
}

impl Entity {
    /// The entity Feast uses for views without entities.
    pub fn dummy() -> Self {
        Entity {
            name: DUMMY_ENTITY_NAME.into(),
            join_key: DUMMY_ENTITY_ID.into(),
            value_type: ValueType::Unknown,
            description: String::new(),
            tags: Tags::new(),
            owner: String::new(),
        }
    }

    /// The `EntitySpecV2` message for `project`.
    pub fn to_spec(&self, project: &str) -> pc::EntitySpecV2 {
        pc::EntitySpecV2 {
            name: self.name.clone(),
            project: project.into(),
            value_type: self.value_type.as_i32(),
            description: self.description.clone(),
            join_key: self.join_key.clone(),
            tags: self.tags.clone(),
            owner: self.owner.clone(),
        }
    }

    /// The entity described by an `Entity` message.
    pub fn from_proto(p: &pc::Entity) -> Self {
        let s = p.spec.clone().unwrap_or_default();
        Entity {
            name: s.name,
            join_key: s.join_key,
            value_type: ValueType::from_i32(s.value_type),
            description: s.description,
            tags: s.tags,
            owner: s.owner,
        }
    }
}
