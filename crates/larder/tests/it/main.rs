//! End-to-end tests of the `FeatureStore` façade on temporary repos.

mod materialize;
