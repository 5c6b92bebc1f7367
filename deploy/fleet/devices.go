package fleet

import (
	"bufio"
	"crypto/ed25519"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"os"
	"strings"

	"github.com/atmguard/kiosk/internal/wire"
)

// Device is one simulated display's identity and broker credentials.
type Device struct {
	ID, Branch, Pref, Password string
}

// MakeDevices returns n identities spread over the 47 prefectures and
// ~20 displays per branch, e.g. atm-13-000123 in branch br-13-0006.
func MakeDevices(n int) []Device {
	d := make([]Device, n)
	for i := range d {
		pref := i%47 + 1
		k := i / 47
		d[i] = Device{
			ID:     fmt.Sprintf("atm-%02d-%06d", pref, k),
			Branch: fmt.Sprintf("br-%02d-%04d", pref, k/20),
			Pref:   fmt.Sprintf("%02d", pref),
		}
	}
	return d
}

// WriteDevices writes devices as tab-separated lines (id, branch, pref,
// password) with mode 0600: the file holds broker passwords.
func WriteDevices(path string, devs []Device) error {
	var b strings.Builder
	for _, d := range devs {
		fmt.Fprintf(&b, "%s\t%s\t%s\t%s\n", d.ID, d.Branch, d.Pref, d.Password)
	}
	if err := os.WriteFile(path, []byte(b.String()), 0o600); err != nil {
		return fmt.Errorf("write devices %s: %w", path, err)
	}
	return nil
}

// ReadDevices reads a WriteDevices file.
func ReadDevices(path string) ([]Device, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("read devices: %w", err)
	}
	defer f.Close()
	var devs []Device
	sc := bufio.NewScanner(f)
	for n := 1; sc.Scan(); n++ {
		p := strings.Split(sc.Text(), "\t")
		if len(p) != 4 {
			return nil, fmt.Errorf("%s:%d: want 4 tab-separated fields, got %d", path, n, len(p))
		}
		d := Device{ID: p[0], Branch: p[1], Pref: p[2], Password: p[3]}
		if _, err := wire.DeviceScopes(d.ID, d.Branch, d.Pref); err != nil {
			return nil, fmt.Errorf("%s:%d: %w", path, n, err)
		}
		devs = append(devs, d)
	}
	return devs, sc.Err()
}

// WriteKeys and ReadKeys move central's public signing keys to a child
// process as JSON {kid: base64 key}.
func WriteKeys(path string, kr wire.KeyRing) error {
	m := map[string]string{}
	for kid, k := range kr {
		m[kid] = base64.StdEncoding.EncodeToString(k)
	}
	b, _ := json.Marshal(m)
	return os.WriteFile(path, b, 0o600)
}

func ReadKeys(path string) (wire.KeyRing, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read keys: %w", err)
	}
	var m map[string]string
	if err := json.Unmarshal(b, &m); err != nil {
		return nil, fmt.Errorf("keys %s: %w", path, err)
	}
	var pubs []ed25519.PublicKey
	for kid, s := range m {
		k, err := base64.StdEncoding.DecodeString(s)
		if err != nil {
			return nil, fmt.Errorf("keys %s: key %s: %w", path, kid, err)
		}
		pubs = append(pubs, k)
	}
	return wire.NewKeyRing(pubs...)
}
