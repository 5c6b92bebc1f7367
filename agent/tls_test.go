package agent

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/atmguard/kiosk/agent/testbroker"
	"github.com/atmguard/kiosk/firmware-config/config"
	"github.com/atmguard/kiosk/internal/wire"
)

type testCA struct {
	cert *x509.Certificate
	key  *ecdsa.PrivateKey
	pem  []byte
}

func newTestCA(t *testing.T) *testCA {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "test CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, _ := x509.ParseCertificate(der)
	return &testCA{cert: cert, key: key, pem: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})}
}

// issue returns PEM cert and key for a server (ip SAN) or client.
func (ca *testCA) issue(t *testing.T, cn string, serial int64, server bool) (certPEM, keyPEM []byte) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(serial), Subject: pkix.Name{CommonName: cn},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour), KeyUsage: x509.KeyUsageDigitalSignature}
	if server {
		tmpl.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}
		tmpl.IPAddresses = []net.IP{net.ParseIP("127.0.0.1")}
	} else {
		tmpl.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.cert, &key.PublicKey, ca.key)
	if err != nil {
		t.Fatal(err)
	}
	kder, _ := x509.MarshalECPrivateKey(key)
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kder})
}

// A config with mqtts://, a pinned CA file and a client certificate
// connects to a broker that requires client certificates, and gets state.
func TestTLSClientCertFromConfig(t *testing.T) {
	ca := newTestCA(t)
	srvCert, srvKey := ca.issue(t, "broker", 2, true)
	cliCert, cliKey := ca.issue(t, testDevice, 3, false)
	pair, err := tls.X509KeyPair(srvCert, srvKey)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(ca.cert)
	b := testbroker.MochiTLS(t, &tls.Config{Certificates: []tls.Certificate{pair}, ClientAuth: tls.RequireAndVerifyClientCert, ClientCAs: pool, MinVersion: tls.VersionTLS12})

	dir := t.TempDir()
	write := func(name string, data []byte) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, data, 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	sg := testSigner(t, 1)
	cfg := config.Example()
	cfg.Device = config.Device{ID: testDevice, Branch: testBranch, Prefecture: testPref}
	cfg.Broker = config.Broker{URL: "mqtts://" + b.Addr, CAFile: write("ca.pem", ca.pem),
		CertFile: write("client.pem", cliCert), KeyFile: write("client.key", cliKey)}
	cfg.Signing.Keys = []string{config.EncodePublicKey(sg.PublicKey())}
	cfg.Cache.Path = filepath.Join(dir, "cache.db")
	o, err := OptionsFromConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	o.LocalAPIAddr = "127.0.0.1:0" // the config's fixed port may be taken on a shared machine
	o.Logger, o.ReconnectJitter = testLogger(t), 50*time.Millisecond
	a, err := New(o)
	if err != nil {
		t.Fatal(err)
	}
	startAgent(t, a)
	waitFor(t, a, "TLS connection with client certificate", func() bool { return a.Stats().Connects > 0 })
	now := time.Now().UTC()
	if err := b.Server.Publish(stateAll, sealSnap(t, sg, wire.All, 1, now, withAlerts(alert("a-tls", 90, time.Time{}, now.Add(time.Hour)))), true, 1); err != nil {
		t.Fatal(err)
	}
	waitFor(t, a, "alert over TLS", screenIs(a, "alert:a-tls"))
}
