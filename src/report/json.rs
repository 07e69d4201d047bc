//! JSON and JSONL output of the model (SPEC.md `ftptrace/1`).
