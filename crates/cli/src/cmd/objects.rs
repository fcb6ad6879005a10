//! `entities|data-sources|feature-views|feature-services|projects list|describe` and `registry-dump`.

use std::process::ExitCode;

use anyhow::{Result, bail};
use larder::FeatureStore;
use larder_core::json::to_json;
use larder_core::model::{
    DUMMY_ENTITY_NAME, DataSource, Entity, FeatureService, FeatureView, Project, SourceKind,
};
use larder_core::proto::core as pc;
use larder_core::time::format_duration;
use serde_json::Value as J;

use crate::args::ObjectCommand;
use crate::output::{print_table, sorted};

/// The kinds of registry object the CLI lists.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    Entity,
    DataSource,
    FeatureView,
    FeatureService,
    Project,
}

impl Kind {
    fn label(self) -> &'static str {
        match self {
            Kind::Entity => "entity",
            Kind::DataSource => "data source",
            Kind::FeatureView => "feature view",
            Kind::FeatureService => "feature service",
            Kind::Project => "project",
        }
    }
}

/// A registry object of the project: its name, proto JSON and table row.
struct Object {
    name: String,
    json: J,
    row: Vec<String>,
}

fn header(kind: Kind) -> &'static [&'static str] {
    match kind {
        Kind::Entity => &["NAME", "JOIN KEY", "TYPE", "DESCRIPTION"],
        Kind::DataSource => &["NAME", "KIND", "LOCATION", "TIMESTAMP FIELD"],
        Kind::FeatureView => &["NAME", "ENTITIES", "FEATURES", "TTL", "ONLINE", "SOURCE"],
        Kind::FeatureService => &["NAME", "FEATURES"],
        Kind::Project => &["NAME", "DESCRIPTION"],
    }
}

fn objects(registry: &pc::Registry, project: &str, kind: Kind) -> Result<Vec<Object>> {
    let mut out = Vec::new();
    match kind {
        Kind::Entity => {
            for p in registry
                .entities
                .iter()
                .filter(|e| spec_project(&e.spec.as_ref().map(|s| &s.project)) == project)
            {
                let e = Entity::from_proto(p);
                if e.name == DUMMY_ENTITY_NAME {
                    continue;
                }
                let row = vec![
                    e.name.clone(),
                    e.join_key.clone(),
                    e.value_type.to_string(),
                    e.description.clone(),
                ];
                out.push(Object {
                    name: e.name,
                    json: to_json("feast.core.Entity", p)?,
                    row,
                });
            }
        }
        Kind::DataSource => {
            for p in registry
                .data_sources
                .iter()
                .filter(|d| d.project == project)
            {
                let d = DataSource::from_proto(p);
                let row = vec![
                    d.name.clone(),
                    d.kind_name(),
                    location(&d),
                    d.timestamp_field.clone(),
                ];
                out.push(Object {
                    name: d.name,
                    json: to_json("feast.core.DataSource", p)?,
                    row,
                });
            }
        }
        Kind::FeatureView => {
            for p in registry
                .feature_views
                .iter()
                .filter(|v| spec_project(&v.spec.as_ref().map(|s| &s.project)) == project)
            {
                let v = FeatureView::from_proto(p);
                let row = vec![
                    v.name.clone(),
                    v.entities.join(", "),
                    v.features.len().to_string(),
                    if v.ttl.is_zero() {
                        "forever".into()
                    } else {
                        format_duration(v.ttl)
                    },
                    v.online.to_string(),
                    v.stream_source
                        .as_ref()
                        .unwrap_or(&v.batch_source)
                        .name
                        .clone(),
                ];
                out.push(Object {
                    name: v.name,
                    json: to_json("feast.core.FeatureView", p)?,
                    row,
                });
            }
        }
        Kind::FeatureService => {
            for p in registry
                .feature_services
                .iter()
                .filter(|s| spec_project(&s.spec.as_ref().map(|s| &s.project)) == project)
            {
                let s = FeatureService::from_proto(p);
                let features: Vec<String> = s
                    .projections
                    .iter()
                    .flat_map(|pr| {
                        pr.features
                            .iter()
                            .map(move |f| format!("{}:{}", pr.name_to_use(), f.name))
                    })
                    .collect();
                let row = vec![s.name.clone(), features.join(", ")];
                out.push(Object {
                    name: s.name,
                    json: to_json("feast.core.FeatureService", p)?,
                    row,
                });
            }
        }
        Kind::Project => {
            for p in &registry.projects {
                let pr = Project::from_proto(p);
                let row = vec![pr.name.clone(), pr.description.clone()];
                out.push(Object {
                    name: pr.name,
                    json: to_json("feast.core.Project", p)?,
                    row,
                });
            }
        }
    }
    out.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(out)
}

fn spec_project<'a>(p: &Option<&'a String>) -> &'a str {
    p.map(|s| s.as_str()).unwrap_or("")
}

fn location(d: &DataSource) -> String {
    match &d.kind {
        SourceKind::File { path, .. } => path.clone(),
        SourceKind::Push { batch_source } => format!("push, batch source {}", batch_source.name),
        SourceKind::Request { schema } => format!("{} request columns", schema.len()),
        SourceKind::Other(_) => String::new(),
    }
}

pub(crate) async fn run(
    store: &FeatureStore,
    kind: Kind,
    command: ObjectCommand,
) -> Result<ExitCode> {
    let snapshot = store.snapshot().await?;
    let all = objects(&snapshot, store.project(), kind)?;
    match command {
        ObjectCommand::List { json: true } => {
            let list: Vec<J> = all.into_iter().map(|o| sorted(o.json)).collect();
            crate::output::line(&serde_json::to_string_pretty(&list)?)?;
        }
        ObjectCommand::List { json: false } => {
            let rows: Vec<Vec<String>> = all.into_iter().map(|o| o.row).collect();
            print_table(header(kind), &rows)?;
        }
        ObjectCommand::Describe { name, json } => {
            let Some(object) = all.iter().find(|o| o.name == name) else {
                let names: Vec<&str> = all.iter().map(|o| o.name.as_str()).collect();
                bail!(
                    "{} `{name}` does not exist in project `{}`; available: {}",
                    kind.label(),
                    store.project(),
                    if names.is_empty() {
                        "none".to_string()
                    } else {
                        names.join(", ")
                    }
                );
            };
            let value = sorted(object.json.clone());
            if json {
                crate::output::line(&serde_json::to_string_pretty(&value)?)?;
            } else {
                crate::output::line(serde_saphyr::to_string(&value)?.trim_end())?;
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// `registry-dump`: Feast's `registry.to_dict(project)` as JSON (sorted keys, lists sorted by name).
pub(crate) async fn registry_dump(store: &FeatureStore) -> Result<ExitCode> {
    let snapshot = store.snapshot().await?;
    let project = store.project();
    let mut dump = serde_json::Map::new();
    dump.insert("project".into(), J::String(project.into()));
    let mut add = |key: &str, items: Vec<J>| {
        if !items.is_empty() {
            dump.insert(key.into(), J::Array(items));
        }
    };
    add(
        "dataSources",
        dump_kind(&snapshot, project, Kind::DataSource)?,
    );
    let mut entities: Vec<(String, J)> = snapshot
        .entities
        .iter()
        .filter(|e| e.spec.as_ref().is_some_and(|s| s.project == project))
        .map(|e| {
            Ok((
                e.spec.as_ref().map(|s| s.name.clone()).unwrap_or_default(),
                to_json("feast.core.Entity", e)?,
            ))
        })
        .collect::<Result<_>>()?;
    entities.sort_by(|a, b| a.0.cmp(&b.0));
    add("entities", entities.into_iter().map(|(_, j)| j).collect());
    add(
        "featureServices",
        dump_kind(&snapshot, project, Kind::FeatureService)?,
    );
    add(
        "featureViews",
        dump_kind(&snapshot, project, Kind::FeatureView)?,
    );
    let infra: Vec<J> = snapshot
        .infra
        .iter()
        .flat_map(|i| i.infra_objects.iter())
        .filter_map(|o| match &o.infra_object {
            Some(pc::infra_object::InfraObject::SqliteTable(t))
                if t.name.starts_with(&format!("{project}_")) =>
            {
                Some(serde_json::json!({"name": t.name, "path": t.path}))
            }
            _ => None,
        })
        .collect();
    add("infra", infra);
    println!(
        "{}",
        serde_json::to_string_pretty(&sorted(J::Object(dump)))?
    );
    Ok(ExitCode::SUCCESS)
}

fn dump_kind(registry: &pc::Registry, project: &str, kind: Kind) -> Result<Vec<J>> {
    Ok(objects(registry, project, kind)?
        .into_iter()
        .map(|o| o.json)
        .collect())
}
