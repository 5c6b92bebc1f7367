// Package display turns a Screen (what the agent wants shown) into pixels.
// It is pure Go and never imports ebiten, so central's preview PNGs, the
// golden-image tests and the kiosk all use this one renderer: a preview is
// exactly what the ATM customer sees. Package display/ebitenview presents
// the pixels on the kiosk.
//
// # Basics
//
//	img, err := display.Render(s, 1920, 1080)            // *image.RGBA
//	err = display.CheckFit(s, nil)                        // central, at publish time
//	hash := display.FrameHash(img)                        // reported in "displayed" events
//	img, _ = display.Render(display.StandingScreen(), w, h) // the fallback
//
// Templates (Screen.Kind): urgent alert (red band, headline, body, the
// instruction in a yellow box, optional QR code with its label, issuer),
// campaign slide (text and images from Screen.Images, verified by sha256;
// a missing image leaves the text alone), the built-in standing warning
// (Japanese on yellow, English on black), the phone-detected interrupt, the
// field-tech identify screen and a maintenance screen. Every layout is
// computed from the screen size: portrait and landscape, any resolution.
//
// # Fitting
//
// Each text field has a box and a font size range. A field first shrinks (to
// 75% of its maximum) to keep the author's lines, then wraps, from the
// maximum size down to its minimum; the first size that fits wins. A
// headline's minimum gives a cap height of 5% of the screen height. Words
// are never cut; Japanese breaks between characters following kinsoku rules
// (no line starts with 。、」）ー or small kana, none ends with 「（).
// Nothing fits: a *FitError naming the screen, field, language and size.
//
// # Fonts
//
// The embedded M+ 1p Regular (from ebiten's examples/resources/fonts, a
// plain []byte: importing it does not import ebiten) draws Japanese, Latin,
// Vietnamese and Portuguese. It has no Hangul and lacks many simplified
// Chinese characters: such text is a *GlyphError, never tofu. LoadFonts adds
// system faces, e.g. Debian's fonts-noto-cjk NotoSansCJK-Bold.ttc, read
// lazily from the file. Central checks with DefaultFonts, which every kiosk
// has, so what it publishes every kiosk can draw.
//
// # Caveats
//
// Render and CheckFit return every failing field joined (errors.Join); use
// errors.As for *FitError / *GlyphError. Render is safe for concurrent use.
// Campaign images larger than 4096x4096 pixels are left out.
package display
