//! Loading a repo's YAML definitions.
