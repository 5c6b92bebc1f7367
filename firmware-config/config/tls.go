package config

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"os"
	"strings"
)

// TLSConfig builds the broker TLS settings from broker.ca_file, cert_file
// and key_file; nil for tcp://. The agent and doctor use the same code, so
// doctor's broker check tests exactly what the agent will do.
func (c *Config) TLSConfig() (*tls.Config, error) {
	// Validate makes every broker.urls entry share the first one's TLS-ness
	urls := c.BrokerURLs()
	if len(urls) == 0 || (!strings.HasPrefix(urls[0], "ssl://") && !strings.HasPrefix(urls[0], "mqtts://")) {
		return nil, nil
	}
	tc := &tls.Config{MinVersion: tls.VersionTLS12}
	if c.Broker.CAFile != "" {
		pem, err := os.ReadFile(c.Broker.CAFile)
		if err != nil {
			return nil, fmt.Errorf("broker.ca_file: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("broker.ca_file %s: no PEM certificate in it", c.Broker.CAFile)
		}
		tc.RootCAs = pool
	}
	if c.Broker.CertFile != "" {
		cert, err := tls.LoadX509KeyPair(c.Broker.CertFile, c.Broker.KeyFile)
		if err != nil {
			return nil, fmt.Errorf("broker client certificate (cert_file %s, key_file %s): %w", c.Broker.CertFile, c.Broker.KeyFile, err)
		}
		tc.Certificates = []tls.Certificate{cert}
	}
	return tc, nil
}
