// Package kiosk holds no Go code for the device: it is the X kiosk session
// (kiosk-x.service + kiosk-session.sh) that the display agent draws on, and
// the tests that check the session script against a real X server (Xvfb).
// See docs/OPERATIONS.md, "Display device".
package kiosk
