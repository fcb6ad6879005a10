//! The spec fields the diff compares, in proto declaration order (Feast's print order), each with a
//! one-line renderer: scalars plainly (`""` for an empty string), repeated fields and messages
//! compactly (`[conv_rate: FLOAT, city: STRING]`, `2d`, `{team: drivers}`).

use std::collections::BTreeMap;
use std::fmt::Debug;

use larder_core::ValueType;
use larder_core::proto::core::{self as pc, data_source as pds};
use larder_core::time::{format_duration, from_proto_duration};

use super::Change;

/// One spec field of messages `T`: its name, how to tell it changed, how to print it.
pub(super) struct FieldDef<T> {
    name: &'static str,
    changed: fn(&T, &T) -> bool,
    show: fn(&T) -> String,
    /// A lossless rendering, used when `show` prints two different values the same way.
    detail: fn(&T) -> String,
}

/// A [`FieldDef`] for field `$field` printed with `$show` (named `$label`, default: the field name).
macro_rules! field {
    ($field:ident, $show:path) => {
        field!(stringify!($field), $field, $show)
    };
    ($label:expr, $field:ident, $show:path) => {
        FieldDef {
            name: $label,
            changed: |a, b| a.$field != b.$field,
            show: |s| $show(&s.$field),
            detail: |s| format!("{:?}", s.$field),
        }
    };
}

/// `ProjectSpec` fields.
pub(super) static PROJECT: &[FieldDef<pc::ProjectSpec>] = &[
    field!(name, text),
    field!(description, text),
    field!(tags, map),
    field!(owner, text),
];

/// `EntitySpecV2` fields (`project` is not compared, as in Feast).
pub(super) static ENTITY: &[FieldDef<pc::EntitySpecV2>] = &[
    field!(name, text),
    field!(value_type, value_type),
    field!(description, text),
    field!(join_key, text),
    field!(tags, map),
    field!(owner, text),
];

/// `DataSource` fields (the whole message is the spec, as in Feast; `meta` is cleared before).
pub(super) static DATA_SOURCE: &[FieldDef<pc::DataSource>] = &[
    field!(name, text),
    field!(description, text),
    field!(tags, map),
    field!(owner, text),
    field!("type", r#type, source_type),
    field!(field_mapping, map),
    field!(timestamp_field, text),
    field!(date_partition_column, text),
    field!(created_timestamp_column, text),
    field!(timestamp_field_type, text),
    field!(data_source_class_type, text),
    field!(batch_source, boxed_source),
    field!(options, options),
];

/// `FeatureViewSpec` fields.
pub(super) static FEATURE_VIEW: &[FieldDef<pc::FeatureViewSpec>] = &[
    field!(name, text),
    field!(entities, list),
    field!(features, features),
    field!(tags, map),
    field!(ttl, ttl),
    field!(batch_source, source),
    field!(online, flag),
    field!(stream_source, source),
    field!(description, text),
    field!(owner, text),
    field!(entity_columns, features),
    field!(offline, flag),
    field!(source_views, view_names),
    field!(feature_transformation, debug_opt),
    field!(mode, text),
    field!(enable_validation, flag),
    field!(version, text),
    field!(org, text),
    field!(disabled, flag),
];

/// `FeatureServiceSpec` fields.
pub(super) static FEATURE_SERVICE: &[FieldDef<pc::FeatureServiceSpec>] = &[
    field!(name, text),
    field!(features, projections),
    field!(tags, map),
    field!(description, text),
    field!(owner, text),
    field!(logging_config, debug_opt),
    field!(precompute_online, flag),
];

/// The changed fields between `old` and `new`. If the specs differ in a field the table does not
/// list, one `spec` change shows both whole messages, so a difference is never silent.
pub(super) fn changes<T: PartialEq + Debug>(
    fields: &[FieldDef<T>],
    old: &T,
    new: &T,
) -> Vec<Change> {
    let mut out: Vec<Change> = fields
        .iter()
        .filter(|f| (f.changed)(old, new))
        .map(|f| {
            let (o, n) = ((f.show)(old), (f.show)(new));
            if o == n {
                Change {
                    field: f.name,
                    old: (f.detail)(old),
                    new: (f.detail)(new),
                }
            } else {
                Change {
                    field: f.name,
                    old: o,
                    new: n,
                }
            }
        })
        .collect();
    if out.is_empty() && old != new {
        out.push(Change {
            field: "spec",
            old: format!("{old:?}"),
            new: format!("{new:?}"),
        });
    }
    out
}

/// A top-level data source as compared: registry `meta` cleared; a nested batch source is
/// normalized as an embedded copy.
pub(super) fn normalize_source(source: &pc::DataSource) -> pc::DataSource {
    let mut s = source.clone();
    s.meta = None;
    if let Some(batch) = s.batch_source.as_deref_mut() {
        normalize_embedded(batch);
    }
    s
}

/// A feature view spec as compared: embedded sources normalized; a missing ttl reads as 0.
pub(super) fn normalize_view(spec: &pc::FeatureViewSpec) -> pc::FeatureViewSpec {
    let mut s = spec.clone();
    s.batch_source
        .iter_mut()
        .chain(s.stream_source.iter_mut())
        .for_each(normalize_embedded);
    s.ttl.get_or_insert_with(Default::default);
    s.source_views = s.source_views.iter().map(normalize_view).collect();
    s
}

/// A feature service spec as compared: the projections' embedded sources normalized.
pub(super) fn normalize_service(spec: &pc::FeatureServiceSpec) -> pc::FeatureServiceSpec {
    let mut s = spec.clone();
    for p in &mut s.features {
        p.batch_source
            .iter_mut()
            .chain(p.stream_source.iter_mut())
            .for_each(normalize_embedded);
    }
    s
}

/// An embedded copy of a data source as compared: without registry `meta` (Feast regenerates it)
/// and without `data_source_class_type`, which Feast derives from the type and writes
/// inconsistently into copies (set when it creates a view, dropped when it later rewrites one).
fn normalize_embedded(source: &mut pc::DataSource) {
    source.meta = None;
    source.data_source_class_type.clear();
    if let Some(batch) = source.batch_source.as_deref_mut() {
        normalize_embedded(batch);
    }
}

fn text(s: &str) -> String {
    if s.is_empty() {
        "\"\"".to_string()
    } else {
        s.to_string()
    }
}

fn flag(b: &bool) -> String {
    b.to_string()
}

fn value_type(n: &i32) -> String {
    ValueType::from_i32(*n).proto_name()
}

fn map(m: &BTreeMap<String, String>) -> String {
    let items: Vec<String> = m.iter().map(|(k, v)| format!("{k}: {v}")).collect();
    format!("{{{}}}", items.join(", "))
}

fn list(items: &[String]) -> String {
    format!("[{}]", items.join(", "))
}

fn ttl(d: &Option<prost_types::Duration>) -> String {
    format_duration(d.as_ref().map(from_proto_duration).unwrap_or_default())
}

fn features(fields: &[pc::FeatureSpecV2]) -> String {
    let items: Vec<String> = fields.iter().map(feature).collect();
    format!("[{}]", items.join(", "))
}

fn feature(f: &pc::FeatureSpecV2) -> String {
    let extras = attrs(&[
        ("description", f.description.clone()),
        (
            "tags",
            if f.tags.is_empty() {
                String::new()
            } else {
                map(&f.tags)
            },
        ),
        (
            "vector_index",
            if f.vector_index {
                "true".into()
            } else {
                String::new()
            },
        ),
        (
            "vector_length",
            if f.vector_length != 0 {
                f.vector_length.to_string()
            } else {
                String::new()
            },
        ),
        ("vector_search_metric", f.vector_search_metric.clone()),
    ]);
    let head = format!("{}: {}", f.name, value_type(&f.value_type));
    if extras.is_empty() {
        head
    } else {
        format!("{head} {extras}")
    }
}

/// `{k: v, ...}` of the non-empty values, or the empty string when all are empty.
fn attrs(pairs: &[(&str, String)]) -> String {
    let items: Vec<String> = pairs
        .iter()
        .filter(|(_, v)| !v.is_empty())
        .map(|(k, v)| format!("{k}: {v}"))
        .collect();
    if items.is_empty() {
        String::new()
    } else {
        format!("{{{}}}", items.join(", "))
    }
}

fn source(s: &Option<pc::DataSource>) -> String {
    s.as_ref()
        .map_or_else(|| "none".to_string(), source_summary)
}

fn boxed_source(s: &Option<Box<pc::DataSource>>) -> String {
    s.as_deref()
        .map_or_else(|| "none".to_string(), source_summary)
}

fn source_summary(s: &pc::DataSource) -> String {
    let summary = attrs(&[
        ("name", s.name.clone()),
        ("type", source_type(&s.r#type)),
        (
            "options",
            if s.options.is_some() {
                options(&s.options)
            } else {
                String::new()
            },
        ),
        ("timestamp_field", s.timestamp_field.clone()),
        (
            "created_timestamp_column",
            s.created_timestamp_column.clone(),
        ),
        ("date_partition_column", s.date_partition_column.clone()),
        (
            "field_mapping",
            if s.field_mapping.is_empty() {
                String::new()
            } else {
                map(&s.field_mapping)
            },
        ),
        (
            "batch_source",
            s.batch_source
                .as_deref()
                .map(source_summary)
                .unwrap_or_default(),
        ),
    ]);
    if summary.is_empty() {
        "{}".to_string()
    } else {
        summary
    }
}

fn source_type(t: &i32) -> String {
    pds::SourceType::try_from(*t).map_or_else(|_| t.to_string(), |t| t.as_str_name().to_string())
}

fn options(o: &Option<pds::Options>) -> String {
    match o {
        None => "none".to_string(),
        Some(pds::Options::FileOptions(f)) => attrs(&[
            ("uri", f.uri.clone()),
            ("s3_endpoint_override", f.s3_endpoint_override.clone()),
            (
                "file_format",
                f.file_format
                    .as_ref()
                    .map(|x| format!("{x:?}"))
                    .unwrap_or_default(),
            ),
        ]),
        Some(pds::Options::RequestDataOptions(r)) => format!("{{schema: {}}}", features(&r.schema)),
        Some(other) => format!("{other:?}"),
    }
}

fn projections(ps: &[pc::FeatureViewProjection]) -> String {
    let items: Vec<String> = ps.iter().map(projection).collect();
    format!("[{}]", items.join(", "))
}

fn projection(p: &pc::FeatureViewProjection) -> String {
    let names: Vec<String> = p.feature_columns.iter().map(feature).collect();
    let mut out = p.feature_view_name.clone();
    if !p.feature_view_name_alias.is_empty() {
        out.push_str(&format!(" as {}", p.feature_view_name_alias));
    }
    out.push_str(&format!("({})", names.join(", ")));
    if !p.join_key_map.is_empty() {
        out.push_str(&format!(" join_key_map {}", map(&p.join_key_map)));
    }
    out
}

fn view_names(views: &[pc::FeatureViewSpec]) -> String {
    let names: Vec<String> = views.iter().map(|v| v.name.clone()).collect();
    list(&names)
}

fn debug_opt<T: Debug>(o: &Option<T>) -> String {
    o.as_ref()
        .map_or_else(|| "none".to_string(), |v| format!("{v:?}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn feature_spec(name: &str, t: ValueType) -> pc::FeatureSpecV2 {
        pc::FeatureSpecV2 {
            name: name.into(),
            value_type: t.as_i32(),
            ..Default::default()
        }
    }

    #[test]
    fn renders_compactly() {
        let fs = [
            feature_spec("conv_rate", ValueType::Float),
            feature_spec("city", ValueType::String),
        ];
        assert_eq!(features(&fs), "[conv_rate: FLOAT, city: STRING]");
        assert_eq!(
            ttl(&Some(prost_types::Duration {
                seconds: 172_800,
                nanos: 0
            })),
            "2d"
        );
        assert_eq!(ttl(&None), "0");
        let tags = BTreeMap::from([("team".to_string(), "drivers".to_string())]);
        assert_eq!(map(&tags), "{team: drivers}");
        assert_eq!(map(&BTreeMap::new()), "{}");
        assert_eq!(text(""), "\"\"");
        assert_eq!(list(&["driver".to_string()]), "[driver]");
    }

    #[test]
    fn renders_sources_and_projections() {
        let s = pc::DataSource {
            name: "src".into(),
            r#type: pds::SourceType::BatchFile as i32,
            timestamp_field: "ts".into(),
            options: Some(pds::Options::FileOptions(pds::FileOptions {
                uri: "a.parquet".into(),
                ..Default::default()
            })),
            ..Default::default()
        };
        assert_eq!(
            source(&Some(s)),
            "{name: src, type: BATCH_FILE, options: {uri: a.parquet}, timestamp_field: ts}"
        );
        assert_eq!(source(&None), "none");
        let p = pc::FeatureViewProjection {
            feature_view_name: "fv".into(),
            feature_view_name_alias: "alias".into(),
            feature_columns: vec![feature_spec("a", ValueType::Int64)],
            join_key_map: BTreeMap::from([("id".to_string(), "driver".to_string())]),
            ..Default::default()
        };
        assert_eq!(
            projections(&[p]),
            "[fv as alias(a: INT64) join_key_map {id: driver}]"
        );
    }

    #[test]
    fn equal_renderings_fall_back_to_the_lossless_form() {
        let old = pc::FeatureServiceSpec {
            features: vec![pc::FeatureViewProjection {
                feature_view_name: "fv".into(),
                ..Default::default()
            }],
            ..Default::default()
        };
        let mut new = old.clone();
        new.features[0].timestamp_field = "created".into();
        let c = changes(FEATURE_SERVICE, &old, &new);
        assert_eq!(c.len(), 1);
        assert_eq!(c[0].field, "features");
        assert_ne!(c[0].old, c[0].new);
        assert!(c[0].new.contains("created"), "{}", c[0].new);
    }

    #[test]
    fn normalizing_clears_registry_derived_fields_only() {
        let meta = Some(pds::SourceMeta {
            created_timestamp: Some(Default::default()),
            ..Default::default()
        });
        let class = "feast.infra.offline_stores.file_source.FileSource".to_string();
        let src = pc::DataSource {
            name: "s".into(),
            meta,
            data_source_class_type: class.clone(),
            ..Default::default()
        };
        let spec = pc::FeatureViewSpec {
            batch_source: Some(src.clone()),
            ..Default::default()
        };
        let embedded = normalize_view(&spec).batch_source.unwrap();
        assert_eq!(
            (embedded.meta, embedded.data_source_class_type.as_str()),
            (None, "")
        );
        assert_eq!(embedded.name, "s");
        assert_eq!(normalize_view(&spec).ttl, Some(Default::default()));
        let top = normalize_source(&src);
        assert_eq!(
            (top.meta, top.data_source_class_type),
            (None, class),
            "top-level sources keep their class"
        );
    }
}
