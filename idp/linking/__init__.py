"""Linking accounts of one person by rule: normalised values, keyed fingerprints, decisions
at login. Clear match values never leave the login that read them from the directory."""
