//! Reporters: render a [`crate::model::Report`] as table, timeline, JSON, JSONL, Mermaid or HTML.

pub mod json;
