package cli

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"strconv"
	"strings"

	"github.com/atmguard/kiosk/firmware-config/config"
)

type listFlag []string

func (l *listFlag) String() string     { return strings.Join(*l, ",") }
func (l *listFlag) Set(v string) error { *l = append(*l, v); return nil }

func init() {
	register(&command{
		name:    "init",
		usage:   "[flags] [-i] [-out device.toml]",
		summary: "Write a new config from flags or interactive prompts, with defaults for the rest.\nWithout broker, central and keys it writes a draft for `kiosk-config enroll`.",
		example: `kiosk-config init -device atm-13-0001 -branch tokyo-shinjuku-001 -pref 13 -out draft.toml
kiosk-config init -i -out draft.toml          # asks for each value
kiosk-config init -device atm-13-0001 -branch b1 -pref 13 \
    -broker mqtts://broker.example.jp:8883 -username atm-13-0001 -password '...' \
    -central https://central.example.jp -signing-key 6uHIeTtV...= -out /etc/kiosk/device.toml`,
		setup: func(fs *flag.FlagSet, env *Env) func(context.Context, []string) int {
			c := config.Default()
			out := fs.String("out", "", "file to write (default "+env.ConfigPath+")")
			force := fs.Bool("force", false, "overwrite an existing file")
			interactive := fs.Bool("i", false, "prompt for each value (flags give the defaults)")
			fs.StringVar(&c.Device.ID, "device", "", "device id, e.g. atm-13-0001")
			fs.StringVar(&c.Device.Branch, "branch", "", "branch id")
			fs.StringVar(&c.Device.Prefecture, "pref", "", "JIS prefecture code 01..47 (13 = Tokyo)")
			fs.StringVar(&c.Broker.URL, "broker", "", "broker URL (enroll fills it in)")
			fs.StringVar(&c.Broker.Username, "username", "", "broker username (enroll fills it in)")
			fs.StringVar(&c.Broker.Password, "password", "", "broker password (enroll fills it in)")
			fs.StringVar(&c.Broker.CAFile, "ca-file", "", "broker CA PEM file")
			central := fs.String("central", "", "central base URL for content and API (enroll fills it in)")
			var keys listFlag
			fs.Var(&keys, "signing-key", "central's base64 ed25519 public key (repeat for rotation; enroll fills it in)")
			fs.IntVar(&c.Display.Width, "width", c.Display.Width, "display width in pixels")
			fs.IntVar(&c.Display.Height, "height", c.Display.Height, "display height in pixels")
			fs.IntVar(&c.Display.Rotation, "rotation", 0, "0, 90, 180 or 270")
			fs.StringVar(&c.Display.Font, "font", "", "font file (default: built-in)")
			fs.StringVar(&c.Schedule.Timezone, "timezone", c.Schedule.Timezone, "IANA time zone")
			return func(ctx context.Context, args []string) int {
				if len(args) > 0 {
					fs.Usage()
					return ExitUsage
				}
				if *out == "" {
					*out = env.ConfigPath
				}
				if *central != "" {
					c.Central.ContentURL, c.Central.APIURL = *central, *central
				}
				c.Signing.Keys = keys
				if *interactive {
					if code := prompt(env, c); code != ExitOK {
						return code
					}
				}
				if exists(*out) && !*force {
					return failf(env, ExitIO, "init", "%s exists; refusing to overwrite (use -force)", *out)
				}
				draft := c.Broker.URL == "" && c.Central.APIURL == "" && len(c.Signing.Keys) == 0
				var err error
				if draft {
					err = c.ValidateDraft()
				} else {
					err = c.Validate()
				}
				if err != nil {
					for _, e := range asErrors(err) {
						fmt.Fprintln(env.Stderr, flagHint(e))
					}
					return failf(env, ExitInvalid, "init", "not written: fix the values above")
				}
				if err := config.WriteFileAtomic(*out, c.Marshal(), 0o600); err != nil {
					return failf(env, ExitIO, "init", "%v", err)
				}
				if draft {
					fmt.Fprintf(env.Stdout, "wrote draft %s\nnext: kiosk-config enroll -central https://<central> -token <token> %s\n", *out, *out)
				} else {
					fmt.Fprintf(env.Stdout, "wrote %s\nnext: have it signed (kiosk-config sign -key <provisioning key> %s)\n", *out, *out)
				}
				return ExitOK
			}
		},
	})
}

func asErrors(err error) config.Errors {
	if err == nil {
		return nil
	}
	var es config.Errors
	if errors.As(err, &es) {
		return es
	}
	return config.Errors{{Msg: err.Error()}}
}

// flagHint names the init flag for a config field.
func flagHint(e *config.FieldError) string {
	flags := map[string]string{
		"device.id": "-device", "device.branch": "-branch", "device.prefecture": "-pref",
		"broker.url": "-broker", "broker.username": "-username", "broker.password": "-password",
		"central.api_url": "-central", "central.content_url": "-central", "signing.keys": "-signing-key",
		"display.width": "-width", "display.height": "-height", "display.rotation": "-rotation",
		"display.font": "-font", "schedule.timezone": "-timezone", "broker.ca_file": "-ca-file",
	}
	field := e.Field
	if i := strings.IndexByte(field, '['); i >= 0 {
		field = field[:i]
	}
	if f, ok := flags[field]; ok {
		return fmt.Sprintf("%s (%s): %s", e.Field, f, e.Msg)
	}
	return e.Error()
}

type question struct {
	field, label string
	get          func(*config.Config) string
	set          func(*config.Config, string) error
}

func strQ(field, label string, p func(*config.Config) *string) question {
	return question{field, label, func(c *config.Config) string { return *p(c) }, func(c *config.Config, v string) error { *p(c) = v; return nil }}
}

func intQ(field, label string, p func(*config.Config) *int) question {
	return question{field, label,
		func(c *config.Config) string { return strconv.Itoa(*p(c)) },
		func(c *config.Config, v string) error {
			n, err := strconv.Atoi(v)
			if err != nil {
				return fmt.Errorf("expected a whole number, got %q", v)
			}
			*p(c) = n
			return nil
		}}
}

var questions = []question{
	strQ("device.id", "Device id (e.g. atm-13-0001)", func(c *config.Config) *string { return &c.Device.ID }),
	strQ("device.branch", "Branch id", func(c *config.Config) *string { return &c.Device.Branch }),
	strQ("device.prefecture", "Prefecture JIS code 01..47 (13 = Tokyo)", func(c *config.Config) *string { return &c.Device.Prefecture }),
	intQ("display.width", "Display width (pixels)", func(c *config.Config) *int { return &c.Display.Width }),
	intQ("display.height", "Display height (pixels)", func(c *config.Config) *int { return &c.Display.Height }),
	intQ("display.rotation", "Rotation (0, 90, 180, 270)", func(c *config.Config) *int { return &c.Display.Rotation }),
	strQ("schedule.timezone", "Time zone", func(c *config.Config) *string { return &c.Schedule.Timezone }),
}

// prompt asks for each value, re-asking until the field is valid.
func prompt(env *Env, c *config.Config) int {
	in := bufio.NewReader(env.Stdin)
	for _, q := range questions {
		for tries := 0; ; tries++ {
			if tries == 5 {
				return failf(env, ExitUsage, "init", "giving up on %s after 5 tries", q.field)
			}
			fmt.Fprintf(env.Stdout, "%s [%s]: ", q.label, q.get(c))
			line, err := in.ReadString('\n')
			if err != nil && (line == "" || !errors.Is(err, io.EOF)) {
				fmt.Fprintln(env.Stdout)
				return failf(env, ExitUsage, "init", "input ended before %s was answered", q.field)
			}
			line = strings.TrimSpace(line)
			if line != "" {
				if err := q.set(c, line); err != nil {
					fmt.Fprintf(env.Stderr, "  %v\n", err)
					continue
				}
			}
			if msg := fieldProblem(c, q.field); msg != "" {
				fmt.Fprintf(env.Stderr, "  %s\n", msg)
				continue
			}
			break
		}
	}
	return ExitOK
}

func fieldProblem(c *config.Config, field string) string {
	for _, e := range asErrors(c.ValidateDraft()) {
		if e.Field == field {
			return e.Msg
		}
	}
	return ""
}
