"""Pure simulator logic: matching, accounts, funding."""
