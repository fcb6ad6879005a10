//! `larder-core`: the model every other Larder crate shares.
//!
//! - [`config`]: `feature_store.yaml` with Feast's keys and defaults.
//! - [`definitions`]: loading and validating a repo's YAML definitions into [`model::RepoContents`].
//! - [`model`]: entities, data sources, feature views, feature services, and their registry protobufs.
//! - [`proto`]: Feast-wire-compatible protobuf messages.
//! - [`entity_key`] and [`value`]: Feast's byte encodings of entity keys and feature values.
//! - [`json`]: protobuf JSON as Feast prints registry objects.
//! - [`types`] and [`time`]: value types, timestamps and durations.
//!
//! ```
//! use larder_core::entity_key::{EntityKeyLayout, KeyValue};
//! let layout = EntityKeyLayout::new(&["driver_id".to_string()], 3).unwrap();
//! let key = layout.serialize(&[KeyValue::Int64(1001)]);
//! assert_eq!(key.len(), 4 + 4 + 4 + 9 + 4 + 4 + 8);
//! ```

pub mod config;
pub mod definitions;
pub mod entity_key;
pub mod error;
pub mod json;
pub mod model;
pub mod proto;
pub mod time;
pub mod types;
pub mod value;

pub use error::{Error, Problem, Result};
pub use types::ValueType;
