//! Storage: see the submodules.
