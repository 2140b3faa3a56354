"""Campus ID: an OpenID Connect provider over the member universities' own directories."""

__version__ = "0.1.0"
