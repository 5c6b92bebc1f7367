// Command kiosk-config is the field-tech tool: init, validate, sign, verify,
// keygen, enroll, doctor, identify. See docs/CONFIG.md.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"github.com/atmguard/kiosk/firmware-config/cli"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := cli.Run(ctx, os.Args[1:], cli.Env{})
	stop()
	os.Exit(code)
}
