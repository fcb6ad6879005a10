//! Uniform access to the name and project of every registry object kind, so that lookups, lists,
//! upserts and deletions are written once.

use larder_core::proto::core as pc;

/// A registry object that belongs to one project and has a name.
pub(crate) trait RegistryObject {
    /// The object's name.
    fn name(&self) -> &str;
    /// The project the object belongs to.
    fn project(&self) -> &str;
}

/// Implements [`RegistryObject`] for `{spec, meta}` messages whose spec has `name` and `project`.
macro_rules! spec_object {
    ($($ty:ty),* $(,)?) => {$(
        impl RegistryObject for $ty {
            fn name(&self) -> &str {
                self.spec.as_ref().map_or("", |s| s.name.as_str())
            }
            fn project(&self) -> &str {
                self.spec.as_ref().map_or("", |s| s.project.as_str())
            }
        }
    )*};
}

spec_object!(
    pc::Entity,
    pc::FeatureView,
    pc::FeatureService,
    pc::OnDemandFeatureView,
    pc::StreamFeatureView,
    pc::LabelView,
    pc::SavedDataset,
    pc::Permission,
);

impl RegistryObject for pc::DataSource {
    fn name(&self) -> &str {
        &self.name
    }
    fn project(&self) -> &str {
        &self.project
    }
}

impl RegistryObject for pc::ValidationReference {
    fn name(&self) -> &str {
        &self.name
    }
    fn project(&self) -> &str {
        &self.project
    }
}

impl RegistryObject for pc::Project {
    fn name(&self) -> &str {
        self.spec.as_ref().map_or("", |s| s.name.as_str())
    }
    /// A project belongs to itself.
    fn project(&self) -> &str {
        self.name()
    }
}

/// The objects of `project`, sorted by name (ties keep registry order).
pub(crate) fn in_project<'a, T: RegistryObject>(items: &'a [T], project: &str) -> Vec<&'a T> {
    let mut out: Vec<&T> = items.iter().filter(|o| o.project() == project).collect();
    out.sort_by(|a, b| a.name().cmp(b.name()));
    out
}

/// The sorted names of the objects of `project`.
pub(crate) fn names_in_project<T: RegistryObject>(items: &[T], project: &str) -> Vec<String> {
    in_project(items, project)
        .into_iter()
        .map(|o| o.name().to_string())
        .collect()
}

/// The object of `project` called `name`.
pub(crate) fn find<'a, T: RegistryObject>(
    items: &'a [T],
    project: &str,
    name: &str,
) -> Option<&'a T> {
    items
        .iter()
        .find(|o| o.project() == project && o.name() == name)
}

/// The index of the object of `project` called `name`.
pub(crate) fn position<T: RegistryObject>(items: &[T], project: &str, name: &str) -> Option<usize> {
    items
        .iter()
        .position(|o| o.project() == project && o.name() == name)
}

/// Replaces the object of `project` with the same name as `item`, or appends `item`.
pub(crate) fn upsert<T: RegistryObject>(items: &mut Vec<T>, project: &str, item: T) {
    match position(items, project, item.name()) {
        Some(i) => items[i] = item,
        None => items.push(item),
    }
}

/// Removes the object of `project` called `name`; whether there was one.
pub(crate) fn remove<T: RegistryObject>(items: &mut Vec<T>, project: &str, name: &str) -> bool {
    let before = items.len();
    items.retain(|o| !(o.project() == project && o.name() == name));
    items.len() != before
}

/// Removes every object of `project`.
pub(crate) fn remove_project<T: RegistryObject>(items: &mut Vec<T>, project: &str) {
    items.retain(|o| o.project() != project);
}
