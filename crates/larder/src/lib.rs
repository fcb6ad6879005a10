//! `larder`: the feature store library. [`FeatureStore`] is the façade every entry point uses:
//!
//! - `plan` / `apply` / `teardown` ([`apply`]): definitions into the registry and online tables;
//! - `materialize` / `materialize_incremental` ([`materialize`]): offline → online, streaming;
//! - `get_online_features` ([`online`]): serving, in Feast's response shape;
//! - `get_historical_features` ([`historical`]): point-in-time correct training sets.
//!
//! ```no_run
//! # async fn demo() -> larder::Result<()> {
//! use larder::{FeatureSelection, FeatureStore};
//! let store = FeatureStore::open(std::path::Path::new("feature_store.yaml"))?;
//! let entities = serde_json::json!({"driver_id": [1001, 1002]});
//! let features = FeatureSelection::Refs(vec!["driver_hourly_stats:conv_rate".into()]);
//! let response = store
//!     .get_online_features(&features, entities.as_object().unwrap(), false)
//!     .await?;
//! println!("{}", serde_json::to_string(&response).unwrap());
//! # Ok(()) }
//! ```

pub mod apply;
pub mod error;
pub mod historical;
pub mod materialize;
pub mod online;
pub mod push;
pub mod store;

pub use apply::{ApplyPlan, InfraPlan};
pub use error::{Error, Result};
pub use materialize::{
    LocalEngine, MaterializationEngine, MaterializeProgress, NoProgress, ViewReport,
};
pub use online::{
    FeatureSelection, FieldStatus, OnlineAnswer, OnlineReadPlan, OnlineResponse, StatusCounts,
};
pub use store::FeatureStore;

pub use larder_core as core;
pub use larder_offline as offline;
pub use larder_online as online_store;
pub use larder_registry as registry;
