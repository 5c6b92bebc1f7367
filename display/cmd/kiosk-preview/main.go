// Command kiosk-preview renders a screen to a PNG exactly as a kiosk would
// show it. Input is a wire.Alert, a display.Screen, or a built-in screen name.
//
//	kiosk-preview -in alert.json -o alert.png -size 1920x1080 -lang en
//	kiosk-preview -builtin standing -o standing.png -size 1080x1920
package main

import (
	"bytes"
	"errors"
	"flag"
	"fmt"
	"image/png"
	"io"
	"log/slog"
	"os"

	"github.com/atmguard/kiosk/display"
	"github.com/atmguard/kiosk/internal/wire"
)

func main() {
	if err := run(os.Args[1:], os.Stdin, os.Stdout); err != nil {
		slog.Error("kiosk-preview", "err", err)
		os.Exit(1)
	}
}

func run(args []string, stdin io.Reader, stdout io.Writer) error {
	fl := flag.NewFlagSet("kiosk-preview", flag.ContinueOnError)
	in := fl.String("in", "", "JSON file: a wire.Alert or a display.Screen (- for stdin)")
	builtin := fl.String("builtin", "", "built-in screen instead of -in: standing, phone, maintenance")
	out := fl.String("o", "preview.png", "output PNG (- for stdout)")
	size := fl.String("size", "1920x1080", "screen size WxH")
	lang := fl.String("lang", "", "language to show (default: the first text)")
	fontPath := fl.String("font", "", "optional preferred font file (e.g. NotoSansCJK-Bold.ttc)")
	check := fl.Bool("check", false, "also run the publish-time fit check at the standard sizes")
	if err := fl.Parse(args); err != nil {
		return err
	}
	var w, h int
	if _, err := fmt.Sscanf(*size, "%dx%d", &w, &h); err != nil {
		return fmt.Errorf("-size %q: want WxH", *size)
	}
	var s display.Screen
	switch {
	case *builtin != "":
		s = display.Screen{Kind: display.Kind(*builtin)}
	case *in != "":
		var data []byte
		var err error
		if *in == "-" {
			data, err = io.ReadAll(io.LimitReader(stdin, wire.MaxPayloadBytes+1))
		} else {
			data, err = os.ReadFile(*in)
		}
		if err != nil {
			return fmt.Errorf("read %s: %w", *in, err)
		}
		if s, err = display.DecodeScreenJSON(data); err != nil {
			return fmt.Errorf("%s: %w", *in, err)
		}
	default:
		return errors.New("give -in FILE or -builtin NAME")
	}
	if *lang != "" {
		s.Lang = *lang
	}
	var opts []display.Option
	if *fontPath != "" {
		fs, err := display.LoadFonts(display.FontConfig{Path: *fontPath})
		if err != nil {
			return err
		}
		defer fs.Close()
		opts = append(opts, display.WithFonts(fs))
	}
	if *check {
		if err := display.CheckFit(s, nil, opts...); err != nil {
			return fmt.Errorf("fit check: %w", err)
		}
	}
	img, err := display.Render(s, w, h, opts...)
	if err != nil {
		return err
	}
	var buf bytes.Buffer
	if err := png.Encode(&buf, img); err != nil {
		return fmt.Errorf("encode png: %w", err)
	}
	if *out == "-" {
		_, err = stdout.Write(buf.Bytes())
		return err
	}
	if err := os.WriteFile(*out, buf.Bytes(), 0o644); err != nil {
		return fmt.Errorf("write %s: %w", *out, err)
	}
	slog.Info("wrote preview", "file", *out, "screen", s.ID(), "size", *size, "frame_hash", display.FrameHash(img))
	return nil
}
