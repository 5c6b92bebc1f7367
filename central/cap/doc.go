// Package cap converts between central's alerts and the Common Alerting
// Protocol, CAP 1.2 (OASIS, urn:oasis:names:tc:emergency:cap:1.2), so
// warnings issued by police systems can be imported as drafts and any alert
// can be handed to other systems.
//
// # Mapping
//
//   - one info block per language; "ja-JP" becomes "ja", "en-US" "en" (the
//     primary subtag); the Japanese block becomes the first text, as the
//     displays require. headline, description (body) and instruction map
//     one to one; senderName is the issuer.
//   - expires, effective (or onset) come from the info blocks.
//   - severity maps to priority (Extreme 90, Severe 80, Moderate 60,
//     Minor 30, Unknown 50) and back.
//   - area geocodes give the target: valueName "JIS_PREF" (or "pref") with a
//     JIS prefecture code, "atmguard:branch", "atmguard:device"; no area
//     means all displays (which needs two-person approval anyway).
//   - web becomes the QR link (the content guard still has to allow it).
//   - msgType Alert, Update and Cancel are reported with their references;
//     what to do with them (new draft, replace, confirm a cancel) is the
//     caller's decision: importing never publishes or cancels.
//
// Identifiers central exports are "urn:atmguard:alert:<id>" (and
// "...:<id>:cancel"), so a later Update or Cancel that references them finds
// the alert (AlertRef). References to other senders' identifiers are
// resolved by the caller (the admin API looks up the audit record of the
// import).
//
// # Caveats
//
// Input is capped at MaxBytes; encoding/xml does not fetch external
// entities. Digital signatures (ds:Signature) and resources are ignored.
package cap
