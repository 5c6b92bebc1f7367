// Package e2e holds the field tool's tests against the real central
// (central/app.NewTest: HTTP API, enrollment service, embedded broker):
// enroll with a one-time token, verify what was installed, and run doctor
// against that central and its broker. It has no non-test code.
package e2e
