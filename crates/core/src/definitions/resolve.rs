//! From raw definitions to the model: the [`Resolver`] and its shared helpers, names and duplicates,
//! the project and entities. Sources, views and services are resolved in `sources.rs`, `views.rs` and
//! `services.rs`.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use super::infer::SchemaCache;
use super::node::Located;
use super::raw::{Item, RawEntity, RawField, RawProject, RawRepo, Section};
use crate::config::{RepoConfig, validate_project_name};
use crate::error::Problem;
use crate::model::{DataSource, Entity, FeatureService, FeatureView, Field, Project, RepoContents};
use crate::types::ValueType;

/// Where an object is defined, for the problems found in it.
#[derive(Debug, Clone)]
pub(super) struct Origin {
    file: PathBuf,
    line: usize,
    object: String,
}

impl Origin {
    /// The origin of `item`, described as `<noun> <name>`.
    pub(super) fn of<T>(item: &Item<T>, noun: &str, name: &str) -> Self {
        Origin {
            file: item.file.clone(),
            line: item.line,
            object: format!("{noun} {name}"),
        }
    }

    /// A problem in field `field` (empty: the object itself) at `line` (0: the object's line).
    pub(super) fn problem(&self, line: usize, field: &str, message: impl Into<String>) -> Problem {
        Problem {
            file: self.file.clone(),
            line: Some(if line > 0 { line } else { self.line }),
            object: Some(self.object.clone()),
            field: Some(field.to_string()).filter(|f| !f.is_empty()),
            message: message.into(),
        }
    }
}

/// `a, b, c`, or `none are defined` for an empty list.
pub(super) fn list<'a>(names: impl IntoIterator<Item = &'a str>) -> String {
    let names: Vec<&str> = names.into_iter().collect();
    if names.is_empty() {
        "none are defined".into()
    } else {
        names.join(", ")
    }
}

/// The columns of a file source after `field_mapping`: `(name, source column, Arrow type)`.
#[derive(Debug, Clone)]
pub(super) struct Columns {
    /// The path as written, for messages.
    pub(super) path: String,
    /// `(name after field_mapping, name in the file, type)`, in file order.
    pub(super) columns: Vec<(String, String, arrow::datatypes::DataType)>,
}

impl Columns {
    /// The column called `name` after `field_mapping`.
    pub(super) fn get(&self, name: &str) -> Option<&(String, String, arrow::datatypes::DataType)> {
        self.columns.iter().find(|c| c.0 == name)
    }

    /// The names after `field_mapping`, for messages.
    pub(super) fn names(&self) -> String {
        list(self.columns.iter().map(|c| c.0.as_str()))
    }
}

/// Resolution state: the raw definitions, the objects resolved so far, and every problem found.
pub(super) struct Resolver<'a> {
    pub(super) config: &'a RepoConfig,
    pub(super) raw: &'a RawRepo,
    pub(super) problems: Vec<Problem>,
    pub(super) schemas: SchemaCache,
    pub(super) entities: Vec<Entity>,
    pub(super) sources: Vec<DataSource>,
    pub(super) views: Vec<FeatureView>,
}

impl<'a> Resolver<'a> {
    /// A resolver over `raw`.
    pub(super) fn new(config: &'a RepoConfig, raw: &'a RawRepo) -> Self {
        Resolver {
            config,
            raw,
            problems: Vec::new(),
            schemas: SchemaCache::default(),
            entities: Vec::new(),
            sources: Vec::new(),
            views: Vec::new(),
        }
    }

    /// Resolves everything; the contents are meaningful only when no problem was found.
    pub(super) fn run(mut self) -> (RepoContents, Vec<Problem>) {
        let project = self.resolve_project();
        let raw = self.raw;
        for item in self.first_definitions(&raw.entities, Section::Entities, |e| &e.name) {
            let entity = self.resolve_entity(item);
            self.entities.push(entity);
        }
        self.resolve_sources();
        for item in self.first_definitions(&raw.feature_views, Section::FeatureViews, |v| &v.name) {
            if let Some(view) = self.resolve_view(item) {
                self.views.push(view);
            }
        }
        let mut services: Vec<FeatureService> = Vec::new();
        for item in
            self.first_definitions(&raw.feature_services, Section::FeatureServices, |s| &s.name)
        {
            services.push(self.resolve_service(item));
        }
        let contents = RepoContents {
            project,
            entities: self.entities,
            data_sources: self.sources,
            feature_views: self.views,
            feature_services: services,
        };
        (contents, self.problems)
    }

    /// Whether an object of `section` called `name` is defined at all (even if it has problems).
    pub(super) fn is_defined(&self, section: Section, name: &str) -> bool {
        let raw = self.raw;
        raw.is_unreadable(section, name)
            || match section {
                Section::Entities => raw.entities.iter().any(|i| i.raw.name == name),
                Section::Sources => raw.sources.iter().any(|i| i.raw.name == name),
                Section::FeatureViews => raw.feature_views.iter().any(|i| i.raw.name == name),
                Section::FeatureServices => raw.feature_services.iter().any(|i| i.raw.name == name),
            }
    }

    /// The items whose name no earlier item of the section took, reporting invalid and repeated names.
    /// Feature view and source names are unique regardless of case, as in Feast.
    pub(super) fn first_definitions<'r, T>(
        &mut self,
        items: &'r [Item<T>],
        section: Section,
        name_fn: fn(&T) -> &String,
    ) -> Vec<&'r Item<T>> {
        let case_insensitive = matches!(section, Section::Sources | Section::FeatureViews);
        let mut seen: HashMap<String, &Item<T>> = HashMap::new();
        let mut firsts = Vec::new();
        for item in items {
            let name = name_fn(&item.raw);
            let origin = Origin::of(item, section.noun(), name);
            if let Err(message) = validate_project_name(name, false) {
                self.problems
                    .push(origin.problem(0, "name", format!("invalid name: {message}")));
            }
            let key = if case_insensitive {
                name.to_lowercase()
            } else {
                name.clone()
            };
            match seen.get(&key) {
                Some(first) => {
                    let message = duplicate(section, name, name_fn(&first.raw), first);
                    self.problems.push(origin.problem(0, "name", message));
                }
                None => {
                    seen.insert(key, item);
                    firsts.push(item);
                }
            }
        }
        firsts
    }

    fn resolve_project(&mut self) -> Project {
        let config = self.config;
        let mut project = Project {
            name: config.project.clone(),
            description: config.project_description.clone().unwrap_or_default(),
            ..Project::default()
        };
        let raw = self.raw;
        let Some(first) = raw.projects.first() else {
            return project;
        };
        for extra in &raw.projects[1..] {
            let origin = Origin::of(extra, "project", &extra.raw.name.value);
            let message = format!(
                "a repo defines at most one project; the first is at {}:{}",
                first.file.display(),
                first.line
            );
            self.problems.push(origin.problem(0, "", message));
        }
        self.check_project_name(first);
        let RawProject {
            description,
            tags,
            owner,
            ..
        } = &first.raw;
        if let Some(description) = description {
            project.description = description.clone();
        }
        project.tags = tags.clone();
        project.owner = owner.clone();
        project
    }

    fn check_project_name(&mut self, item: &Item<RawProject>) {
        let name = &item.raw.name;
        if name.value != self.config.project {
            let origin = Origin::of(item, "project", &name.value);
            let message = format!(
                "the project is `{}` here but `{}` in {}: use the same name in both",
                name.value,
                self.config.project,
                self.config
                    .config_path
                    .file_name()
                    .map_or("feature_store.yaml".into(), |f| f.to_string_lossy()),
            );
            self.problems
                .push(origin.problem(name.line, "name", message));
        }
    }

    fn resolve_entity(&mut self, item: &Item<RawEntity>) -> Entity {
        let raw = &item.raw;
        let origin = Origin::of(item, "entity", &raw.name);
        let join_key = match &raw.join_keys {
            None => raw.name.clone(),
            Some(Located { value, .. }) if value.len() == 1 => value[0].clone(),
            Some(Located { line, value }) => {
                let message = match value.is_empty() {
                    true => {
                        "`join_keys` is empty: name the one column that identifies the entity, \
                             or leave `join_keys` out to use the entity's name"
                            .to_string()
                    }
                    false => format!(
                        "Feast allows exactly one join key per entity, found {} ({}): define one \
                         entity per key",
                        value.len(),
                        value.join(", ")
                    ),
                };
                self.problems
                    .push(origin.problem(*line, "join_keys", message));
                value.first().cloned().unwrap_or_else(|| raw.name.clone())
            }
        };
        let value_type = match &raw.value_type {
            None => ValueType::Unknown,
            Some(l) => self.entity_type(&origin, l),
        };
        Entity {
            name: raw.name.clone(),
            join_key,
            value_type,
            description: raw.description.clone(),
            tags: raw.tags.clone(),
            owner: raw.owner.clone(),
        }
    }

    fn entity_type(&mut self, origin: &Origin, text: &Located<String>) -> ValueType {
        let Some(t) = self.dtype(origin, text.line, "value_type", &text.value) else {
            return ValueType::Unknown;
        };
        if !t.is_valid_entity_key() {
            let message = format!(
                "{t} cannot be an entity key: use String, Bytes, Int32, Int64 or UnixTimestamp"
            );
            self.problems
                .push(origin.problem(text.line, "value_type", message));
        }
        t
    }

    /// Parses a dtype, reporting unknown ones.
    pub(super) fn dtype(
        &mut self,
        origin: &Origin,
        line: usize,
        field: &str,
        text: &str,
    ) -> Option<ValueType> {
        let parsed = ValueType::parse_dtype(text);
        if parsed.is_none() {
            let message = format!("unknown dtype `{text}`: use {}", ValueType::dtype_names());
            self.problems.push(origin.problem(line, field, message));
        }
        parsed
    }

    /// Parses a `schema:` list into fields with their lines, reporting bad dtypes and repeated names.
    /// A field with an unknown dtype is kept as [`ValueType::Unknown`] so that it causes no more problems.
    pub(super) fn fields(
        &mut self,
        origin: &Origin,
        fields: &[Located<RawField>],
    ) -> Vec<(usize, Field)> {
        let mut out: Vec<(usize, Field)> = Vec::new();
        for (i, Located { line, value }) in fields.iter().enumerate() {
            let dtype = self.dtype(origin, *line, &format!("schema[{i}].dtype"), &value.dtype);
            if let Some(j) = out.iter().position(|(_, f)| f.name == value.name) {
                let message = format!(
                    "`{}` is declared twice in the schema (also at schema[{j}])",
                    value.name
                );
                self.problems
                    .push(origin.problem(*line, &format!("schema[{i}].name"), message));
            }
            let field = Field {
                name: value.name.clone(),
                dtype: dtype.unwrap_or(ValueType::Unknown),
                description: value.description.clone(),
                tags: value.tags.clone(),
            };
            out.push((*line, field));
        }
        out
    }
}

/// The message for `name`, already used by `first` (as `first_name`).
fn duplicate<T>(section: Section, name: &str, first_name: &str, first: &Item<T>) -> String {
    let case = match first_name == name {
        true => String::new(),
        false => format!(" (as `{first_name}`; names are case-insensitive)"),
    };
    let (noun, file, line) = (section.noun(), first.file.display(), first.line);
    format!("{noun} `{name}` is defined more than once: here and at {file}:{line}{case}")
}

/// The repo-relative form of `path` for problems, or `path` itself.
pub(super) fn relative(path: &Path, root: &Path) -> PathBuf {
    path.strip_prefix(root)
        .map(Path::to_path_buf)
        .unwrap_or_else(|_| path.to_path_buf())
}
