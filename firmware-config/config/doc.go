// Package config is the device configuration of a kiosk display: the schema
// (Go types), its TOML file form, validation that reports every problem at
// once with file, line and field path, and the detached signature that makes
// the agent refuse a config nobody with a provisioning key approved.
//
// # Basics
//
// A config file is TOML (see docs/CONFIG.md for a full commented example).
// Parse decodes and validates; Load reads a file and parses it; LoadSigned
// also checks the detached "<config>.sig" file against pinned provisioning
// keys and is what the agent uses:
//
//	keys, _ := config.ReadPublicKeyFile("/etc/kiosk/provisioning.pub")
//	cfg, err := config.LoadSigned("/etc/kiosk/device.toml", "/etc/kiosk/device.toml.sig", keys)
//
// Errors from Parse and Validate are an Errors value (a list of *FieldError),
// so a field tech sees every mistake in one run.
//
// # Caveats
//
// The signature covers the exact bytes of the file, so a config must be
// signed after its last edit (comments included). The provisioning key that
// verifies the config is pinned outside the config: a config cannot vouch for
// itself. ParseDraft accepts a config that still lacks what enrollment fills
// in (broker credentials, central URLs, signing keys).
package config
