// Package units holds the systemd units for central and the kiosk agent
// (the files next to this one) and the tests that run `systemd-analyze
// verify` and `systemd-analyze security` on them. The daemons' side of the
// contract (sd_notify READY=1 and a health-gated watchdog) is
// deploy/sdnotify. Installation: docs/OPERATIONS.md.
package units
