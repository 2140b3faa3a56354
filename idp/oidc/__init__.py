"""OpenID Connect wiring: Authlib's server with our models, signing keys, discovery. No views."""
