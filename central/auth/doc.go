// Package auth implements central.UserService: console users, password
// hashing, sessions and the login rate limit used by the admin API.
//
// # Basics
//
// Each user has one central.Role. Passwords are hashed with argon2id, a
// random 16-byte salt per user, and stored in PHC form
// ($argon2id$v=19$m=...,t=...,p=...$salt$hash), so the cost can be raised
// later without breaking old hashes. Comparison is constant-time, and a login
// for an unknown user hashes against a dummy so its timing does not reveal
// whether the user exists.
//
// There are no default passwords: Bootstrap creates the first admin with a
// generated password, and every user created or reset by an admin gets the
// first-run flag (MustChangePassword) that the admin API enforces.
//
// Sessions are random 256-bit tokens held in memory, keyed by their SHA-256
// (a restart of central logs everybody out). They end after an idle period
// (sliding), at an absolute age, on logout, and when the user's password,
// role or disabled flag changes; all judged on an injected clock. Ended
// returns a channel closed when a session ends so the admin API can tell the
// console at once.
//
// # Rate limit
//
// Failed logins are counted per username and per remote address. Past a
// threshold each further failure doubles the wait (1 s up to 15 min), during
// which logins are refused with *RateLimitError (wrapping
// central.ErrRateLimited) before any hashing. The count is forgotten after a
// whole window without failures. Argon2id runs at most MaxConcurrent at a
// time, so a login flood cannot exhaust memory (64 MiB per hash by default).
//
// # Caveats
//
//   - Persistence is behind UserStore; StoreUsers keeps users in central's
//     store (central/store users buckets).
//   - Close ends all sessions and stops the sweeper.
package auth
