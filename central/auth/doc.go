// Package auth provides central's users, password hashing, sessions and the
// login rate limit used by the WebSocket admin API.
//
// # Basics
//
// Users have exactly one role (admin, publisher, approver, viewer,
// fieldtech). Passwords are hashed with argon2id, a random 16-byte salt per
// user, and stored in PHC form ($argon2id$v=19$m=...,t=...,p=...$salt$hash)
// so the cost parameters can be raised later without breaking old hashes.
// Comparison is constant-time, and a login for an unknown user hashes against
// a dummy so its timing does not reveal whether the user exists.
//
// There are no default passwords: Bootstrap creates the first admin with a
// generated password and the first-run flag set, and every password an admin
// hands out (create, reset) is generated and must be changed at first login.
//
// Sessions are random 256-bit tokens held in memory (a restart of central
// logs everybody out). They expire after an idle period (sliding) and at an
// absolute limit after login, judged on an injected clock. Ended(token)
// returns a channel closed when the session ends by logout, expiry, a
// password change, a role change or the user being disabled, so the admin API
// can tell the console at once.
//
// # Rate limit
//
// Failed logins are counted per username and per remote address. Past a
// threshold each further failure doubles the wait (1 s up to 15 min) during
// which logins are refused with *RateLimitError without hashing anything.
// Argon2id runs at most MaxConcurrentHashes at a time, so a login flood cannot
// exhaust memory (64 MiB per hash by default).
//
// # Caveats
//
//   - Persistence is behind the UserStore interface; BoltStore keeps users in
//     its own bucket of a bbolt database that may be shared with other stores.
//   - Close stops the session sweeper; call it when central shuts down.
package auth
