// Package sdnotify ties a daemon's liveness to systemd's watchdog.
//
// The units in deploy/systemd run central and the kiosk agent with Type=notify
// and WatchdogSec=. systemd then expects READY=1 once the daemon is serving and
// WATCHDOG=1 at least every WatchdogSec, and kills and restarts the service when
// the pings stop. A ping that is sent from a goroutine that merely loops proves
// nothing, so Watchdog pings only while a health check the daemon supplies
// passes (for the agent: the scheduler loop ticked recently; for central: the
// store and the broker answer). When the check fails the ping is withheld and
// the reason is published as STATUS= so `systemctl status` shows why systemd is
// about to restart the service.
//
// Outside systemd (no NOTIFY_SOCKET, no WATCHDOG_USEC) everything here is a
// no-op, so mains can call it unconditionally.
//
// What a main does:
//
//	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
//	defer stop()
//	... start serving ...
//	sdnotify.Ready()
//	go sdnotify.Watchdog(ctx, clock.Real{}, healthy, logger) // owned by main, ends with ctx
//	<-ctx.Done()
//	sdnotify.Stopping()
package sdnotify
