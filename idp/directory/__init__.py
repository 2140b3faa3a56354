"""Organization directories: LDAP v3 and Active Directory, one implementation with presets."""
