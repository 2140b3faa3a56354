"""Staff work on relying parties: roles (who may manage which organization's clients) and the
changes the admin UI, the CLI and the API make to clients and registration tokens."""
