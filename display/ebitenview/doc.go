// Package ebitenview presents display's pixels with Ebiten. It is the only
// package of the module that imports ebiten (importing ebiten makes a
// process panic at start without an X display), and the kiosk binary is its
// only user besides its own tests, which run under xvfb-run.
//
// # Basics
//
//	p := ebitenview.New(ebitenview.Options{Windowed: false})
//	go agentCore.Run(ctx)        // calls p.Show(ctx, screen) from its goroutine
//	err := p.Run(ctx)            // on the main goroutine; blocks
//
// Show renders a display.Screen with the shared pure-Go renderer at the
// screen's size, cross-fades to it, and returns display.FrameHash of the
// rendered pixels once the frame watchdog has read the presented frame back
// and found it equal to them. A screen that cannot be rendered, or a frame
// that fails the check (all one colour, or not what was rendered), is
// replaced by the built-in standing warning and reported (Options.OnFault
// and Show's error): the display is never blank.
//
// # Drawing on demand
//
// The loop runs in Ebiten's minimum-FPS mode with the screen kept between
// frames (SetScreenClearedEveryFrame(false)): Update and Draw run only when
// Show, SetTicker, Screenshot or the animator schedules a frame, so a static
// screen costs (almost) no CPU. While a cross-fade or the ticker moves the
// animator schedules 30 frames a second. Screen changes are at least
// MinSwitchInterval apart (never more than 3 a second). Optional burn-in
// drift moves the picture one pixel per DriftStep within +-DriftMax.
//
// # Memory
//
// A static screen holds no texture of its own: a frame is written straight
// into Ebiten's screen image (kept between frames), and the CPU copy of its
// pixels is dropped once the watchdog has checked it. A GPU copy of the
// frame exists only while something redraws from it: a cross-fade (the
// outgoing picture is copied from the screen), burn-in drift and the
// ticker. A frame needed again after its pixels were dropped is rendered
// again (the renderer is deterministic). Frame textures are unmanaged (not
// on Ebiten's atlas) so freeing one gives its memory back at once.
//
// # Caveats
//
//   - Run must be called on the main goroutine, once per process.
//   - With Drift or a ticker the presented frame is not pixel-identical to
//     the renderer's; Show still returns the renderer's FrameHash (the
//     content shown), and the watchdog compares the parts left in place.
package ebitenview
