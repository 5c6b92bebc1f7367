package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"

	"github.com/atmguard/kiosk/firmware-config/config"
	"github.com/atmguard/kiosk/firmware-config/enroll"
	"github.com/atmguard/kiosk/internal/wire"
)

func init() {
	register(&command{
		name:    "keygen",
		usage:   "-key provisioning.key [-pub provisioning.pub] [-force]",
		summary: "Create a provisioning key pair: PKCS#8 PEM private key (0600) and a base64 public key file.\nCentral's operators hold the private key; devices pin the public file.",
		example: `kiosk-config keygen -key /secure/provisioning.key -pub provisioning.pub`,
		setup: func(fs *flag.FlagSet, env *Env) func(context.Context, []string) int {
			key := fs.String("key", "", "private key file to create (required)")
			pub := fs.String("pub", "", "public key file to create (default <key>.pub)")
			force := fs.Bool("force", false, "overwrite existing files")
			return func(ctx context.Context, args []string) int {
				if *key == "" || len(args) > 0 {
					fs.Usage()
					return ExitUsage
				}
				if *pub == "" {
					*pub = *key + ".pub"
				}
				for _, p := range []string{*key, *pub} {
					if exists(p) && !*force {
						return failf(env, ExitIO, "keygen", "%s exists; refusing to overwrite a key (use -force)", p)
					}
				}
				priv, err := config.GenerateKey(nil)
				if err != nil {
					return failf(env, ExitIO, "keygen", "%v", err)
				}
				pemBytes, err := config.MarshalPrivateKey(priv)
				if err != nil {
					return failf(env, ExitIO, "keygen", "%v", err)
				}
				if err := config.WriteFileAtomic(*key, pemBytes, 0o600); err != nil {
					return failf(env, ExitIO, "keygen", "%v", err)
				}
				s, _ := wire.NewSigner(priv)
				if err := config.WriteFileAtomic(*pub, config.MarshalPublicKey(s.PublicKey()), 0o644); err != nil {
					return failf(env, ExitIO, "keygen", "%v", err)
				}
				fmt.Fprintf(env.Stdout, "wrote %s (private, 0600) and %s (public)\nkid %s\n", *key, *pub, s.KeyID())
				return ExitOK
			}
		},
	})
	register(&command{
		name:    "sign",
		usage:   "-key provisioning.key [-out config.toml.sig] [config.toml]",
		summary: "Validate a config and write its detached signature (<config>.sig).",
		example: `kiosk-config sign -key /secure/provisioning.key /etc/kiosk/device.toml`,
		setup: func(fs *flag.FlagSet, env *Env) func(context.Context, []string) int {
			key := fs.String("key", "", "provisioning private key (PKCS#8 PEM, mode 0600) (required)")
			out := fs.String("out", "", "signature file (default <config>.sig)")
			return func(ctx context.Context, args []string) int {
				path, ok := oneArg(env, "sign", args, env.ConfigPath)
				if !ok || *key == "" {
					fs.Usage()
					return ExitUsage
				}
				if *out == "" {
					*out = config.SigPath(path)
				}
				signer, err := config.ReadPrivateKeyFile(*key)
				if err != nil {
					return failf(env, ioCode(err), "sign", "%v", err)
				}
				data, err := config.ReadLimited(path, config.MaxConfigBytes)
				if err != nil {
					return failf(env, ExitIO, "sign", "%v", err)
				}
				if _, err := config.Parse(data, path); err != nil {
					fmt.Fprintln(env.Stderr, err)
					return failf(env, ExitInvalid, "sign", "refusing to sign an invalid config; fix it first")
				}
				sig, err := config.Sign(data, signer)
				if err != nil {
					return failf(env, ExitInvalid, "sign", "%v", err)
				}
				if err := config.WriteFileAtomic(*out, sig, 0o644); err != nil {
					return failf(env, ExitIO, "sign", "%v", err)
				}
				fmt.Fprintf(env.Stdout, "signed %s with kid %s -> %s\n", path, signer.KeyID(), *out)
				return ExitOK
			}
		},
	})
	register(&command{
		name:    "verify",
		usage:   "[-pub provisioning.pub] [-sig config.toml.sig] [config.toml]",
		summary: "Check a config's signature against pinned provisioning keys, then validate it:\nexactly what the agent does at start.",
		example: `kiosk-config verify -pub /etc/kiosk/provisioning.pub /etc/kiosk/device.toml`,
		setup: func(fs *flag.FlagSet, env *Env) func(context.Context, []string) int {
			pub := fs.String("pub", "", "pinned provisioning public keys (default provisioning.pub next to the config)")
			sig := fs.String("sig", "", "signature file (default <config>.sig)")
			return func(ctx context.Context, args []string) int {
				path, ok := oneArg(env, "verify", args, env.ConfigPath)
				if !ok {
					fs.Usage()
					return ExitUsage
				}
				if *pub == "" {
					*pub = enroll.DefaultPubPath(path)
				}
				if *sig == "" {
					*sig = config.SigPath(path)
				}
				keys, err := config.ReadPublicKeyFile(*pub)
				if err != nil {
					return failf(env, ioCode(err), "verify", "%v", err)
				}
				cfg, err := config.LoadSigned(path, *sig, keys)
				if err != nil {
					var es config.Errors
					if errors.As(err, &es) {
						for _, e := range es {
							fmt.Fprintln(env.Stderr, e.Error())
						}
						return failf(env, ExitInvalid, "verify", "signature OK but the config is invalid (%d problem(s))", len(es))
					}
					var pe *os.PathError
					if errors.As(err, &pe) && !errors.Is(err, config.ErrUnsigned) {
						return failf(env, ExitIO, "verify", "%v", err)
					}
					return failf(env, ExitInvalid, "verify", "%v", err)
				}
				fmt.Fprintf(env.Stdout, "%s: signature OK, config valid (device %s)\n", path, cfg.Device.ID)
				return ExitOK
			}
		},
	})
}
