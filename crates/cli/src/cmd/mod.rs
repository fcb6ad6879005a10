//! One module per group of subcommands.

pub(crate) mod apply;
pub(crate) mod historical;
pub(crate) mod init;
pub(crate) mod materialize;
pub(crate) mod objects;
pub(crate) mod online;
pub(crate) mod serve;

use std::process::ExitCode;

use anyhow::Result;
use larder::FeatureStore;

use crate::args::Command;

/// Runs a command that needs an open store.
pub(crate) async fn dispatch(store: &FeatureStore, command: Command) -> Result<ExitCode> {
    match command {
        Command::Plan => apply::plan(store).await,
        Command::Apply => apply::apply(store).await,
        Command::Teardown => apply::teardown(store).await,
        Command::RegistryDump => objects::registry_dump(store).await,
        Command::Entities(c) => objects::run(store, objects::Kind::Entity, c).await,
        Command::DataSources(c) => objects::run(store, objects::Kind::DataSource, c).await,
        Command::FeatureViews(c) => objects::run(store, objects::Kind::FeatureView, c).await,
        Command::FeatureServices(c) => objects::run(store, objects::Kind::FeatureService, c).await,
        Command::Projects(c) => objects::run(store, objects::Kind::Project, c).await,
        Command::Materialize(a) => materialize::materialize(store, a).await,
        Command::MaterializeIncremental(a) => materialize::incremental(store, a).await,
        Command::GetOnlineFeatures(a) => online::run(store, a).await,
        Command::GetHistoricalFeatures(a) => historical::run(store, a).await,
        Command::Serve(a) => serve::run(store, a).await,
        Command::Init { .. } | Command::Version => unreachable!("handled before opening a store"),
    }
}
