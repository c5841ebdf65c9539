"""Who the caller is and what they may do, one concern per module:

- `roles`: the three roles and the LIVE rule (what raises risk needs an admin);
- `passwords`: argon2 hashes, the password policy and the documented PAPER default;
- `accounts`: operator accounts in the `users` table (adding, looking up, the bootstrap admin);
- `tokens`: the internal service token and the console's session tokens;
- `http`: reading a request's credentials, and the FastAPI dependency every service's
  mutating routes use (`require_role`).
"""
