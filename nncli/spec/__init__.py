"""The YAML spec: its schema (pydantic models) and its loader."""
