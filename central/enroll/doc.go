// Package enroll implements central.EnrollService: one-time enrollment
// tokens for field techs and POST /api/v1/enroll (docs/PROTOCOL.md). A
// token's secret is shown once; only its SHA-256 is stored. Enrolling checks
// the token (one use, expiry, optional branch/prefecture binding), validates
// the draft device config with firmware-config/config, fills in the broker
// credentials it generates, the broker and central URLs and central's
// signing public keys, and signs the result with the provisioning key.
package enroll
