"""Access that follows the person: policies decide grants, grants are delivered to connectors
through an outbox, and the directory sync notices who left (docs/access.md)."""
