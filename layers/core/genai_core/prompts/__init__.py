"""Prompt management: immutable versions, movable labels, `{{variable}}` templates and rendering."""
