//! Integration tests of `larder-offline`: one binary, one module per topic.

mod fixture;
mod historical;
mod latest;
mod support;
mod write;
