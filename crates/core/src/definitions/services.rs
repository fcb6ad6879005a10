//! Feature services: feature references resolved against the views, merged into one projection per
//! view (or alias), with alias collisions and unknown join keys reported.

use super::node::Located;
use super::raw::{Item, RawFeatureRef, RawFeatureService, Section};
use super::resolve::{Origin, Resolver, list};
use crate::model::{FeatureService, FeatureView, Field, Projection, Tags};

/// One item of a service's `features:`, normalized.
struct Reference {
    view: String,
    /// `None`: all of the view's features.
    features: Option<Vec<String>>,
    alias: Option<String>,
    join_key_map: Tags,
}

impl Resolver<'_> {
    /// Resolves one feature service.
    pub(super) fn resolve_service(&mut self, item: &Item<RawFeatureService>) -> FeatureService {
        let raw = &item.raw;
        let origin = Origin::of(item, "feature service", &raw.name);
        let mut projections: Vec<(usize, Projection)> = Vec::new();
        for (i, Located { line, value }) in raw.features.iter().enumerate() {
            let at = format!("features[{i}]");
            let Some(reference) = self.reference(&origin, *line, &at, value) else {
                continue;
            };
            let Some(view) = self.referenced_view(&origin, *line, &at, &reference.view) else {
                continue;
            };
            let fields =
                self.selected_features(&origin, *line, &at, &view, reference.features.as_deref());
            self.check_join_key_map(&origin, *line, &at, &view, &reference.join_key_map);
            let projection = Projection {
                view: reference.view,
                alias: reference.alias,
                features: fields,
                join_key_map: reference.join_key_map,
            };
            self.merge(&origin, *line, &at, &mut projections, (i, projection));
        }
        FeatureService {
            name: raw.name.clone(),
            projections: projections.into_iter().map(|(_, p)| p).collect(),
            description: raw.description.clone(),
            tags: raw.tags.clone(),
            owner: raw.owner.clone(),
        }
    }

    fn reference(
        &mut self,
        origin: &Origin,
        line: usize,
        at: &str,
        raw: &RawFeatureRef,
    ) -> Option<Reference> {
        match raw {
            RawFeatureRef::Text(text) => {
                let (view, feature) = match text.split_once(':') {
                    Some((v, f)) => (v.trim(), Some(f.trim())),
                    None => (text.trim(), None),
                };
                if view.is_empty() || feature.is_some_and(str::is_empty) {
                    let message = format!(
                        "`{text}` is not a feature reference: use \"view\" or \"view:feature\""
                    );
                    self.problems.push(origin.problem(line, at, message));
                    return None;
                }
                let features = feature.map(|f| vec![f.to_string()]);
                Some(Reference {
                    view: view.into(),
                    features,
                    alias: None,
                    join_key_map: Tags::new(),
                })
            }
            RawFeatureRef::Projection(p) => Some(Reference {
                view: p.view.clone(),
                features: p.features.clone(),
                alias: p.alias.clone().filter(|a| !a.is_empty()),
                join_key_map: p.join_key_map.clone().unwrap_or_default(),
            }),
        }
    }

    fn referenced_view(
        &mut self,
        origin: &Origin,
        line: usize,
        at: &str,
        name: &str,
    ) -> Option<FeatureView> {
        if let Some(view) = self.views.iter().find(|v| v.name == name) {
            return Some(view.clone());
        }
        if !self.is_defined(Section::FeatureViews, name) {
            let message = format!(
                "no feature view named `{name}`; feature views: {}",
                list(self.views.iter().map(|v| v.name.as_str()))
            );
            self.problems.push(origin.problem(line, at, message));
        }
        None
    }

    fn selected_features(
        &mut self,
        origin: &Origin,
        line: usize,
        at: &str,
        view: &FeatureView,
        names: Option<&[String]>,
    ) -> Vec<Field> {
        let Some(names) = names else {
            return view.features.clone();
        };
        let mut out = Vec::new();
        for name in names {
            match view.feature(name) {
                Some(f) => out.push(f.clone()),
                None => {
                    let message = format!(
                        "feature view `{}` has no feature `{name}`; its features are {}",
                        view.name,
                        view.feature_names()
                    );
                    self.problems.push(origin.problem(line, at, message));
                }
            }
        }
        out
    }

    fn check_join_key_map(
        &mut self,
        origin: &Origin,
        line: usize,
        at: &str,
        view: &FeatureView,
        map: &Tags,
    ) {
        let keys = view.join_keys();
        for key in map.keys().filter(|k| !keys.contains(k)) {
            let message = format!(
                "join_key_map maps `{key}`, which is not a join key of feature view `{}` (its join keys: {})",
                view.name,
                list(keys.iter().map(String::as_str))
            );
            self.problems
                .push(origin.problem(line, &format!("{at}.join_key_map"), message));
        }
    }

    /// Adds a projection, merging it into an earlier one of the same view and name, and reporting two
    /// different projections served under one name.
    fn merge(
        &mut self,
        origin: &Origin,
        line: usize,
        at: &str,
        projections: &mut Vec<(usize, Projection)>,
        (index, new): (usize, Projection),
    ) {
        let Some((first, existing)) = projections
            .iter_mut()
            .find(|(_, p)| p.name_to_use() == new.name_to_use())
        else {
            projections.push((index, new));
            return;
        };
        if existing.view == new.view && existing.join_key_map == new.join_key_map {
            for field in new.features {
                if !existing.features.iter().any(|f| f.name == field.name) {
                    existing.features.push(field);
                }
            }
            return;
        }
        let message = format!(
            "alias collision: features[{first}] is already served as `{}`; give one of them a different `alias`",
            new.name_to_use()
        );
        self.problems
            .push(origin.problem(line, &format!("{at}.alias"), message));
    }
}
