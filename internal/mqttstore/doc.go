// Package mqttstore is a paho.mqtt.golang Store that never shares a packet
// with the client's network goroutines.
//
// paho's MemoryStore hands resume() the very packet that a publish made
// during the connect may still be writing; resume then sets its DUP flag
// while the writer packs its header (a data race, upstream issue
// eclipse-paho/paho.mqtt.golang#703, open in v1.5.1). It shows up whenever a
// client with a persistent session publishes from its on-connect handler,
// which is exactly what our agent (retained "online" status) and central do.
// This store keeps private copies: Put stores a copy taken before paho sends
// the packet, Get returns a fresh copy, so resume marks and sends its own.
package mqttstore
