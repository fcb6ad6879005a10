//! `plan`, `apply`, `teardown`.

use std::process::ExitCode;

use anyhow::{Context, Result};
use larder::FeatureStore;
use larder_core::definitions::load_repo;

use crate::output::colour_plan;

pub(crate) async fn plan(store: &FeatureStore) -> Result<ExitCode> {
    let desired = load_repo(store.config())?;
    let plan = store.plan(&desired).await?;
    crate::output::line(&colour_plan(&plan.to_string()))?;
    Ok(ExitCode::SUCCESS)
}

pub(crate) async fn apply(store: &FeatureStore) -> Result<ExitCode> {
    let desired = load_repo(store.config())?;
    println!("Applying changes for project {}", store.project());
    let plan = store.apply(&desired).await.with_context(|| {
        format!(
            "apply of project `{}` failed; nothing was committed to the registry",
            store.project()
        )
    })?;
    crate::output::line(&colour_plan(&plan.to_string()))?;
    Ok(ExitCode::SUCCESS)
}

pub(crate) async fn teardown(store: &FeatureStore) -> Result<ExitCode> {
    store.teardown().await?;
    println!("Tore down project {}", store.project());
    Ok(ExitCode::SUCCESS)
}
