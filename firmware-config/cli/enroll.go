package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"strings"

	"github.com/atmguard/kiosk/firmware-config/config"
	"github.com/atmguard/kiosk/firmware-config/enroll"
	"github.com/atmguard/kiosk/internal/wire"
)

func init() {
	register(&command{
		name:    "enroll",
		usage:   "-central URL [-token T | -token-file F] [-out device.toml] [-pin provisioning.pub] draft.toml",
		summary: "Register the device with central using a one-time token from the console.\nCentral answers with the final signed config (broker credentials, URLs, signing keys);\nit is checked, then written with its .sig and provisioning.pub (atomically, config 0600).",
		example: `kiosk-config init -device atm-13-0001 -branch tokyo-shinjuku-001 -pref 13 -out draft.toml
KIOSK_ENROLL_TOKEN=... kiosk-config enroll -central https://central.example.jp draft.toml
kiosk-config enroll -central https://central.example.jp -token-file /tmp/token -out /etc/kiosk/device.toml draft.toml`,
		setup: func(fs *flag.FlagSet, env *Env) func(context.Context, []string) int {
			central := fs.String("central", "", "central base URL (required)")
			token := fs.String("token", "", "one-time enrollment token (or -token-file, or $KIOSK_ENROLL_TOKEN; avoids shell history)")
			tokenFile := fs.String("token-file", "", "file holding the token")
			out := fs.String("out", "", "config to write (default "+env.ConfigPath+"); .sig and provisioning.pub go next to it")
			pub := fs.String("pub", "", "where to write the provisioning public key (default provisioning.pub next to -out)")
			pin := fs.String("pin", "", "provisioning.pub the answer must be signed by (default: trust the key central sends)")
			insecure := fs.Bool("insecure-http", false, "allow http:// to a non-loopback central (lab only)")
			force := fs.Bool("force", false, "replace an existing config (re-enrollment)")
			return func(ctx context.Context, args []string) int {
				if *central == "" || len(args) != 1 {
					fs.Usage()
					return ExitUsage
				}
				if *out == "" {
					*out = env.ConfigPath
				}
				if *pub == "" {
					*pub = enroll.DefaultPubPath(*out)
				}
				tok := *token
				if tok == "" && *tokenFile != "" {
					b, err := config.ReadLimited(*tokenFile, 4096)
					if err != nil {
						return failf(env, ExitIO, "enroll", "%v", err)
					}
					tok = strings.TrimSpace(string(b))
				}
				if tok == "" {
					tok = env.Getenv("KIOSK_ENROLL_TOKEN")
				}
				if tok == "" {
					return failf(env, ExitUsage, "enroll", "no token: pass -token, -token-file or set KIOSK_ENROLL_TOKEN")
				}
				if exists(*out) && !*force {
					return failf(env, ExitIO, "enroll", "%s exists; use -force to re-enroll and replace it", *out)
				}
				draft, err := config.ReadLimited(args[0], config.MaxConfigBytes)
				if err != nil {
					return failf(env, ExitIO, "enroll", "%v", err)
				}
				opt := enroll.Options{AllowInsecureHTTP: *insecure}
				if *pin != "" {
					kr, err := config.ReadPublicKeyFile(*pin)
					if err != nil {
						return failf(env, ioCode(err), "enroll", "%v", err)
					}
					opt.PinnedKeys = kr
				}
				res, err := enroll.Enroll(ctx, env.HTTP, *central, tok, draft, opt)
				if err != nil {
					var re *enroll.RefusedError
					var es config.Errors
					switch {
					case errors.As(err, &es):
						for _, e := range es {
							fmt.Fprintln(env.Stderr, strings.Replace(e.Error(), "draft:", args[0]+":", 1))
						}
						return failf(env, ExitInvalid, "enroll", "draft %s is invalid; nothing sent", args[0])
					case errors.As(err, &re):
						return failf(env, ExitInvalid, "enroll", "%v", err)
					case errors.Is(err, enroll.ErrRemote):
						return failf(env, ExitRemote, "enroll", "%v (nothing written; try again)", err)
					}
					return failf(env, ExitInvalid, "enroll", "%v (nothing written)", err)
				}
				if err := enroll.Install(res, *out, *pub); err != nil {
					return failf(env, ExitIO, "enroll", "%v", err)
				}
				fmt.Fprintf(env.Stdout, "enrolled %s (branch %s, prefecture %s)\nbroker %s as %s\nwrote %s, %s, %s (provisioning kid %s)\nnext: kiosk-config doctor %s\n",
					res.Config.Device.ID, res.Config.Device.Branch, res.Config.Device.Prefecture,
					strings.Join(res.Config.BrokerURLs(), ", "), res.Config.Broker.Username,
					*out, config.SigPath(*out), *pub, wire.KeyID(res.ProvisioningKey), *out)
				return ExitOK
			}
		},
	})
}
