// Package broker holds the production broker configurations (mosquitto/ and
// nats/ next to this file) and the code that runs them locally: the tests,
// the fleet simulator and the lab script start a real /usr/sbin/mosquitto
// with the production config rewritten only for loopback ports, temporary
// paths and the run-as user, so what is tested is what is deployed.
//
// MosquittoPasswordLine writes mosquitto's sha512-pbkdf2 password format,
// for provisioning many device credentials without one mosquitto_passwd
// process per device.
package broker
