// Package central holds the domain of the central server: the types campaign
// staff work with (alerts, campaign items, devices, delivery statistics, audit
// entries, users, enrollment tokens), the typed errors every layer returns,
// and the service interfaces the WebSocket admin API, the HTTP API and the
// CLI consume.
//
// It follows the layout of benbjohnson/wtf: this root package imports no
// adapter; each dependency lives in its own subpackage (store for bbolt,
// broker for MQTT, keys for signing keys, alerts for the lifecycle,
// registry for the device fleet, httpapi for HTTP, app to wire them) and
// cmd/central is a thin main.
//
// # Authorization and audit
//
// Every mutating method takes the acting user (Actor). Services check the
// actor's role themselves (Actor.Can) and write the audit entry, so the rules
// hold no matter which front end calls them; the WebSocket layer only has to
// authenticate the session and pass the Actor through.
//
// # Errors
//
// Services return errors that wrap one of the sentinel errors below
// (ErrNotFound, ErrForbidden, ...). Validation errors are *FieldError values
// naming the field, so a console can show them next to the input. ErrorCode
// maps any error to a stable code for the wire.
package central
