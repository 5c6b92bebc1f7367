// Package keys keeps central's ed25519 keys in its data directory: the
// signing key (snapshots, commands) and the provisioning key (device
// configs). Both are generated at first start, stored as PKCS#8 PEM files
// with mode 0600, and listed with their public halves in keys.json.
//
// Rotation: RotateSigning makes a new active key and keeps the old public
// key listed, so devices can be given a config that pins both before the
// old one is retired (RetireSigning).
package keys
