package cli

import (
	"context"
	"flag"
	"fmt"
	"time"

	"github.com/atmguard/kiosk/firmware-config/doctor"
)

func init() {
	register(&command{
		name:    "doctor",
		usage:   "[-json] [-pub provisioning.pub] [-timeout 5s] [config.toml]",
		summary: "Check this device: config valid and signed, broker reachable and accepting the\ncredentials, central reachable, clock offset, display, fonts, cache file, disk space.\nEach item is OK, WARN or FAIL with a fix.",
		example: `sudo kiosk-config doctor
kiosk-config doctor -json /etc/kiosk/device.toml`,
		setup: func(fs *flag.FlagSet, env *Env) func(context.Context, []string) int {
			asJSON := fs.Bool("json", false, "print the results as JSON on stdout")
			pub := fs.String("pub", "", "pinned provisioning public keys (default provisioning.pub next to the config)")
			timeout := fs.Duration("timeout", 5*time.Second, "network timeout per check")
			maxOffset := fs.Duration("max-clock-offset", 30*time.Second, "largest acceptable clock offset from central")
			return func(ctx context.Context, args []string) int {
				path, ok := oneArg(env, "doctor", args, env.ConfigPath)
				if !ok {
					return ExitUsage
				}
				o := doctor.Options{
					ConfigPath: path, ProvisioningPub: *pub, Clock: env.Clock, Timeout: *timeout,
					MaxClockOffset: *maxOffset, Getenv: env.Getenv,
				}
				if env.doctor != nil {
					env.doctor(&o)
				}
				rs := doctor.Run(ctx, o)
				if *asJSON {
					writeJSON(env, rs)
				} else {
					for _, r := range rs {
						fmt.Fprintf(env.Stdout, "%-4s %-8s %s\n", r.Status, r.Name, r.Detail)
						if r.Fix != "" {
							fmt.Fprintf(env.Stdout, "     %-8s fix: %s\n", "", r.Fix)
						}
					}
				}
				if doctor.Failed(rs) {
					return ExitInvalid
				}
				return ExitOK
			}
		},
	})
}
