"""Pipeline components, one file each."""
