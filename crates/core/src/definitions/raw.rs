//! The YAML format of definition files: serde structs named after Feast's Python arguments, and
//! [`parse_file`], which reads one file into them object by object, recording every problem.

use std::fmt;
use std::path::{Path, PathBuf};

use serde::Deserialize;
use serde::de::{self, MapAccess, Visitor, value::MapAccessDeserializer};

use super::node::{self, DeError, Kind, Located, Node};
use crate::error::Problem;
use crate::model::Tags;

/// The top-level keys of a definition file.
pub(crate) const TOP_LEVEL_KEYS: &[&str] = &[
    "project",
    "entities",
    "sources",
    "feature_views",
    "feature_services",
];

/// `project:`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawProject {
    pub(crate) name: Located<String>,
    #[serde(default)]
    pub(crate) description: Option<String>,
    #[serde(default)]
    pub(crate) tags: Tags,
    #[serde(default)]
    pub(crate) owner: String,
}

/// One item of `entities:` (Feast's `Entity`).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawEntity {
    pub(crate) name: String,
    pub(crate) join_keys: Option<Located<Vec<String>>>,
    pub(crate) value_type: Option<Located<String>>,
    #[serde(default)]
    pub(crate) description: String,
    #[serde(default)]
    pub(crate) tags: Tags,
    #[serde(default)]
    pub(crate) owner: String,
}

/// One item of `sources:` (Feast's `FileSource`, `PushSource` or `RequestSource`).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawSource {
    pub(crate) name: String,
    pub(crate) kind: Option<Located<String>>,
    pub(crate) path: Option<Located<String>>,
    pub(crate) file_format: Option<Located<String>>,
    pub(crate) timestamp_field: Option<Located<String>>,
    pub(crate) created_timestamp_column: Option<Located<String>>,
    pub(crate) field_mapping: Option<Located<Tags>>,
    pub(crate) date_partition_column: Option<Located<String>>,
    pub(crate) batch_source: Option<Located<String>>,
    pub(crate) schema: Option<Located<Vec<Located<RawField>>>>,
    #[serde(default)]
    pub(crate) description: String,
    #[serde(default)]
    pub(crate) tags: Tags,
    #[serde(default)]
    pub(crate) owner: String,
}

/// One item of a `schema:` list (Feast's `Field`).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawField {
    pub(crate) name: String,
    pub(crate) dtype: String,
    #[serde(default)]
    pub(crate) description: String,
    #[serde(default)]
    pub(crate) tags: Tags,
}

/// One item of `feature_views:` (Feast's `FeatureView`).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawFeatureView {
    pub(crate) name: String,
    #[serde(default)]
    pub(crate) entities: Vec<Located<String>>,
    pub(crate) ttl: Option<Located<String>>,
    pub(crate) source: Located<String>,
    pub(crate) schema: Option<Vec<Located<RawField>>>,
    #[serde(default = "yes")]
    pub(crate) online: bool,
    #[serde(default)]
    pub(crate) offline: bool,
    #[serde(default)]
    pub(crate) description: String,
    #[serde(default)]
    pub(crate) tags: Tags,
    #[serde(default)]
    pub(crate) owner: String,
}

fn yes() -> bool {
    true
}

/// One item of `feature_services:` (Feast's `FeatureService`).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawFeatureService {
    pub(crate) name: String,
    pub(crate) features: Vec<Located<RawFeatureRef>>,
    #[serde(default)]
    pub(crate) description: String,
    #[serde(default)]
    pub(crate) tags: Tags,
    #[serde(default)]
    pub(crate) owner: String,
}

/// An item of a service's `features:`: `"view"`, `"view:feature"`, or a projection mapping.
#[derive(Debug)]
pub(crate) enum RawFeatureRef {
    /// `"view"` or `"view:feature"`.
    Text(String),
    /// `{view, features, alias, join_key_map}`.
    Projection(RawProjection),
}

/// A projection of a view in a feature service (Feast's `fv[[...]].with_name(..).with_join_key_map(..)`).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawProjection {
    pub(crate) view: String,
    pub(crate) features: Option<Vec<String>>,
    pub(crate) alias: Option<String>,
    pub(crate) join_key_map: Option<Tags>,
}

impl<'de> Deserialize<'de> for RawFeatureRef {
    fn deserialize<D: de::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(FeatureRefVisitor)
    }
}

struct FeatureRefVisitor;

impl<'de> Visitor<'de> for FeatureRefVisitor {
    type Value = RawFeatureRef;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("\"view\", \"view:feature\" or a mapping {view, features, alias, join_key_map}")
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<RawFeatureRef, E> {
        Ok(RawFeatureRef::Text(v.to_string()))
    }

    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<RawFeatureRef, A::Error> {
        RawProjection::deserialize(MapAccessDeserializer::new(map)).map(RawFeatureRef::Projection)
    }
}

/// An object read from a file: where it is and what it says.
#[derive(Debug)]
pub(crate) struct Item<T> {
    /// The file, relative to the repo when possible.
    pub(crate) file: PathBuf,
    /// The line the object starts on.
    pub(crate) line: usize,
    /// The object.
    pub(crate) raw: T,
}

/// Everything read from the repo's files, in file order, before resolution.
#[derive(Debug, Default)]
pub(crate) struct RawRepo {
    pub(crate) projects: Vec<Item<RawProject>>,
    pub(crate) entities: Vec<Item<RawEntity>>,
    pub(crate) sources: Vec<Item<RawSource>>,
    pub(crate) feature_views: Vec<Item<RawFeatureView>>,
    pub(crate) feature_services: Vec<Item<RawFeatureService>>,
    /// Names of objects that could not be read, so references to them are not reported again.
    pub(crate) unreadable: Vec<(Section, String)>,
}

/// The sections of a definition file that hold lists of objects.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Section {
    /// `entities`.
    Entities,
    /// `sources`.
    Sources,
    /// `feature_views`.
    FeatureViews,
    /// `feature_services`.
    FeatureServices,
}

impl Section {
    fn from_key(key: &str) -> Option<Self> {
        Some(match key {
            "entities" => Section::Entities,
            "sources" => Section::Sources,
            "feature_views" => Section::FeatureViews,
            "feature_services" => Section::FeatureServices,
            _ => return None,
        })
    }

    /// The kind of object, as in messages: `entity`, `source`, `feature view`, `feature service`.
    pub(crate) fn noun(self) -> &'static str {
        match self {
            Section::Entities => "entity",
            Section::Sources => "source",
            Section::FeatureViews => "feature view",
            Section::FeatureServices => "feature service",
        }
    }
}

impl RawRepo {
    /// Whether an object of `section` named `name` was defined but could not be read.
    pub(crate) fn is_unreadable(&self, section: Section, name: &str) -> bool {
        self.unreadable
            .iter()
            .any(|(s, n)| *s == section && n == name)
    }
}

/// Reads one definition file's text into `repo`, adding a problem for each mistake.
pub(crate) fn parse_file(file: &Path, text: &str, repo: &mut RawRepo, problems: &mut Vec<Problem>) {
    let documents = match node::parse_documents(text) {
        Ok(documents) => documents,
        Err(e) => {
            let line = e.location().map(|l| l.line() as usize).filter(|l| *l > 0);
            problems.push(problem(
                file,
                line,
                None,
                None,
                format!("not valid YAML: {}", e.without_snippet()),
            ));
            return;
        }
    };
    for document in &documents {
        parse_document(file, document, repo, problems);
    }
}

fn parse_document(file: &Path, document: &Node, repo: &mut RawRepo, problems: &mut Vec<Problem>) {
    let Kind::Map(entries) = &document.kind else {
        let message = format!(
            "expected a mapping with keys {}, found {}",
            TOP_LEVEL_KEYS.join(", "),
            document.describe()
        );
        problems.push(problem(file, Some(document.line), None, None, message));
        return;
    };
    for (key, value) in entries {
        match key.as_str() {
            Some("project") => parse_project(file, value, repo, problems),
            Some(k) if Section::from_key(k).is_some() => {
                let section = Section::from_key(k).expect("checked");
                parse_section(file, section, value, repo, problems);
            }
            _ => {
                let name = key
                    .as_str()
                    .map_or_else(|| key.describe(), |k| format!("`{k}`"));
                let message = format!(
                    "unknown top-level key {name}: valid keys are {}",
                    TOP_LEVEL_KEYS.join(", ")
                );
                problems.push(problem(
                    file,
                    Some(key.line),
                    None,
                    key.as_str().map(String::from),
                    message,
                ));
            }
        }
    }
}

fn parse_project(file: &Path, value: &Node, repo: &mut RawRepo, problems: &mut Vec<Problem>) {
    match node::from_node::<RawProject>(value) {
        Ok(raw) => repo.projects.push(Item {
            file: file.to_path_buf(),
            line: value.line,
            raw,
        }),
        Err(e) => problems.push(de_problem(file, value, "project".into(), e)),
    }
}

fn parse_section(
    file: &Path,
    section: Section,
    value: &Node,
    repo: &mut RawRepo,
    problems: &mut Vec<Problem>,
) {
    let items = match &value.kind {
        Kind::Seq(items) => items.as_slice(),
        Kind::Null => &[],
        _ => {
            let message = format!(
                "`{}` must be a list (one `- ` item per object), found {}",
                section_key(section),
                value.describe()
            );
            problems.push(problem(
                file,
                Some(value.line),
                None,
                Some(section_key(section).into()),
                message,
            ));
            return;
        }
    };
    for (index, item) in items.iter().enumerate() {
        let name = item.get("name").and_then(Node::scalar_text);
        if let Err(e) = add_item(file, section, item, repo) {
            let object = match &name {
                Some(n) => format!("{} {n}", section.noun()),
                None => format!(
                    "{} #{} of `{}`",
                    section.noun(),
                    index + 1,
                    section_key(section)
                ),
            };
            problems.push(de_problem(file, item, object, e));
            if let Some(name) = name {
                repo.unreadable.push((section, name));
            }
        }
    }
}

fn section_key(section: Section) -> &'static str {
    match section {
        Section::Entities => "entities",
        Section::Sources => "sources",
        Section::FeatureViews => "feature_views",
        Section::FeatureServices => "feature_services",
    }
}

fn add_item(file: &Path, section: Section, item: &Node, repo: &mut RawRepo) -> Result<(), DeError> {
    let file = file.to_path_buf();
    let line = item.line;
    match section {
        Section::Entities => repo.entities.push(Item {
            file,
            line,
            raw: node::from_node(item)?,
        }),
        Section::Sources => repo.sources.push(Item {
            file,
            line,
            raw: node::from_node(item)?,
        }),
        Section::FeatureViews => repo.feature_views.push(Item {
            file,
            line,
            raw: node::from_node(item)?,
        }),
        Section::FeatureServices => repo.feature_services.push(Item {
            file,
            line,
            raw: node::from_node(item)?,
        }),
    }
    Ok(())
}

fn de_problem(file: &Path, node: &Node, object: String, e: DeError) -> Problem {
    let field = Some(node::format_path(&e.path)).filter(|f| !f.is_empty());
    problem(
        file,
        e.line.or(Some(node.line)),
        Some(object),
        field,
        e.message,
    )
}

/// A problem at `file:line`.
pub(crate) fn problem(
    file: &Path,
    line: Option<usize>,
    object: Option<String>,
    field: Option<String>,
    message: String,
) -> Problem {
    Problem {
        file: file.to_path_buf(),
        line: line.filter(|l| *l > 0),
        object,
        field,
        message,
    }
}
