//! End-to-end tests of the `larder` binary on temporary repos: one integration binary, a module per topic.

mod apply;
mod errors;
mod harness;
mod serving;
