package broker

import (
	"crypto/pbkdf2"
	"crypto/rand"
	"crypto/sha512"
	"encoding/base64"
	"fmt"
	"strings"

	"github.com/atmguard/kiosk/internal/wire"
)

// mosquittoPBKDF2Iterations is what mosquitto_passwd 2.0 uses by default.
const mosquittoPBKDF2Iterations = 101

// MosquittoPasswordLine returns one password-file line for user in the
// format mosquitto 2.0 writes by default:
// user:$7$<iterations>$<base64 salt>$<base64 sha512-pbkdf2>.
// The user must be "central" or a valid device id (it becomes %u in ACL
// patterns, so it must not contain MQTT wildcards or '/').
func MosquittoPasswordLine(user, password string) (string, error) {
	if user != "central" {
		if err := wire.ValidID(user); err != nil {
			return "", fmt.Errorf("mosquitto password for %q: %w", user, err)
		}
	}
	if password == "" || strings.ContainsAny(password, "\n\r") {
		return "", fmt.Errorf("mosquitto password for %q: empty or multi-line password", user)
	}
	salt := make([]byte, 12)
	if _, err := rand.Read(salt); err != nil {
		return "", fmt.Errorf("mosquitto password salt: %w", err)
	}
	key, err := pbkdf2.Key(sha512.New, password, salt, mosquittoPBKDF2Iterations, sha512.Size)
	if err != nil {
		return "", fmt.Errorf("mosquitto password hash: %w", err)
	}
	return fmt.Sprintf("%s:$7$%d$%s$%s", user, mosquittoPBKDF2Iterations,
		base64.StdEncoding.EncodeToString(salt), base64.StdEncoding.EncodeToString(key)), nil
}
