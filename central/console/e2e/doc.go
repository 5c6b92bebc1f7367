// Package e2e holds the console's browser end-to-end tests: Debian's
// chromium, headless, driven with chromedp against a real central (store,
// broker, alert service, WebSocket API, console assets) and real headless
// agent cores. The package has no non-test code besides this comment; the
// tests live here rather than in package console so that the console's own
// unit tests do not depend on all of central compiling.
//
// Screenshots of each step are written to $TEST_ARTIFACTS/<test name>/ when
// TEST_ARTIFACTS is set, otherwise to a temporary directory that the test
// logs.
package e2e
