"""Campus identity: login against a directory, the identity behind accounts, and its claims."""
