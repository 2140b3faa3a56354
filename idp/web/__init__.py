"""Web layer: one blueprint per audience, thin views over the services below."""
