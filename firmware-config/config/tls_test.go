package config

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestTLSConfig(t *testing.T) {
	dir := t.TempDir()
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "test CA"},
		NotBefore: time.Unix(0, 0), NotAfter: time.Date(2100, 1, 1, 0, 0, 0, 0, time.UTC), IsCA: true, BasicConstraintsValid: true}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	ca := filepath.Join(dir, "ca.pem")
	os.WriteFile(ca, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o644)
	kder, _ := x509.MarshalECPrivateKey(key)
	keyFile := filepath.Join(dir, "client.key")
	os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kder}), 0o600)

	c := Example()
	c.Broker.CAFile = ca
	tc, err := c.TLSConfig()
	if err != nil || tc == nil || tc.RootCAs == nil {
		t.Fatalf("TLSConfig: %v %v", tc, err)
	}
	c.Broker.CertFile, c.Broker.KeyFile = ca, keyFile // the CA doubles as a client cert
	if tc, err := c.TLSConfig(); err != nil || len(tc.Certificates) != 1 {
		t.Errorf("client cert: %v", err)
	}
	c.Broker.CertFile, c.Broker.KeyFile = "", ""
	os.WriteFile(ca, []byte("not a certificate"), 0o644)
	if _, err := c.TLSConfig(); err == nil || !strings.Contains(err.Error(), "no PEM certificate") {
		t.Errorf("bad CA: %v", err)
	}
	c.Broker.URL = "tcp://127.0.0.1:1883"
	if tc, err := c.TLSConfig(); tc != nil || err != nil {
		t.Errorf("tcp:// got TLS %v %v", tc, err)
	}
}
