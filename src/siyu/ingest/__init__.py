"""Event and contact ingest: Segment-spec calls over HTTP and from JSONL/CSV files."""
