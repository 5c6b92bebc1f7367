package cli

import (
	"context"
	"flag"
	"fmt"
	"io"
	"net/http"
	"strings"

	"github.com/atmguard/kiosk/firmware-config/config"
)

func init() {
	register(&command{
		name:    "identify",
		usage:   "[-agent http://127.0.0.1:8765] [config.toml]",
		summary: "Ask the local agent to show the identify screen (device id, branch, QR).\nThe agent address comes from local_api.listen in the config, else the default.",
		example: `kiosk-config identify
kiosk-config identify -agent http://127.0.0.1:8765`,
		setup: func(fs *flag.FlagSet, env *Env) func(context.Context, []string) int {
			agent := fs.String("agent", "", "agent local API base URL")
			return func(ctx context.Context, args []string) int {
				path, ok := oneArg(env, "identify", args, env.ConfigPath)
				if !ok {
					return ExitUsage
				}
				base := *agent
				if base == "" {
					listen := config.DefaultListen
					if c, err := config.Load(path); err == nil {
						listen = c.LocalAPI.Listen
					}
					base = "http://" + listen
				}
				u := strings.TrimRight(base, "/") + "/v1/identify"
				req, err := http.NewRequestWithContext(ctx, http.MethodPost, u, nil)
				if err != nil {
					return failf(env, ExitUsage, "identify", "%v", err)
				}
				resp, err := env.HTTP.Do(req)
				if err != nil {
					return failf(env, ExitRemote, "identify", "%v\nis the agent running? `systemctl status kiosk-agent`", err)
				}
				defer resp.Body.Close()
				body, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
				if resp.StatusCode/100 != 2 {
					return failf(env, ExitInvalid, "identify", "agent answered HTTP %d: %s", resp.StatusCode, strings.TrimSpace(string(body)))
				}
				fmt.Fprintf(env.Stdout, "identify screen requested (%s)\n", u)
				return ExitOK
			}
		},
	})
}
