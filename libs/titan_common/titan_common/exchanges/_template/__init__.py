"""A new venue, copied from here: fill in each file (see ../README.md) and add one line to
`registry.VENUES`. Nothing imports this folder."""
