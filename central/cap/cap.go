package cap

import (
	"bytes"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"sort"
	"strings"
	"time"

	"github.com/atmguard/kiosk/central"
	"github.com/atmguard/kiosk/internal/wire"
)

// Namespace is the CAP 1.2 XML namespace.
const Namespace = "urn:oasis:names:tc:emergency:cap:1.2"

// MaxBytes bounds an imported document.
const MaxBytes = 256 << 10

// Message types.
const (
	MsgAlert  = "Alert"
	MsgUpdate = "Update"
	MsgCancel = "Cancel"
)

// Geocode value names used for targets.
const (
	GeoPref      = "JIS_PREF"
	GeoBranch    = "atmguard:branch"
	GeoDevice    = "atmguard:device"
	idPrefix     = "urn:atmguard:alert:"
	defaultLabel = "詳しくはこちら"
)

type xmlAlert struct {
	XMLName    xml.Name  `xml:"urn:oasis:names:tc:emergency:cap:1.2 alert"`
	Identifier string    `xml:"identifier"`
	Sender     string    `xml:"sender"`
	Sent       string    `xml:"sent"`
	Status     string    `xml:"status"`
	MsgType    string    `xml:"msgType"`
	Scope      string    `xml:"scope"`
	Note       string    `xml:"note,omitempty"`
	References string    `xml:"references,omitempty"`
	Infos      []xmlInfo `xml:"info"`
}

type xmlInfo struct {
	Language    string     `xml:"language,omitempty"`
	Category    []string   `xml:"category"`
	Event       string     `xml:"event"`
	Urgency     string     `xml:"urgency"`
	Severity    string     `xml:"severity"`
	Certainty   string     `xml:"certainty"`
	Effective   string     `xml:"effective,omitempty"`
	Onset       string     `xml:"onset,omitempty"`
	Expires     string     `xml:"expires,omitempty"`
	SenderName  string     `xml:"senderName,omitempty"`
	Headline    string     `xml:"headline,omitempty"`
	Description string     `xml:"description,omitempty"`
	Instruction string     `xml:"instruction,omitempty"`
	Web         string     `xml:"web,omitempty"`
	Parameters  []xmlValue `xml:"parameter"`
	Areas       []xmlArea  `xml:"area"`
}

type xmlValue struct {
	ValueName string `xml:"valueName"`
	Value     string `xml:"value"`
}

type xmlArea struct {
	AreaDesc string     `xml:"areaDesc"`
	Geocodes []xmlValue `xml:"geocode"`
}

// Reference is one entry of CAP references: the message it refers to.
type Reference struct {
	Sender     string    `json:"sender"`
	Identifier string    `json:"identifier"`
	Sent       time.Time `json:"sent"`
}

// Message is an imported CAP alert.
type Message struct {
	Identifier string             `json:"identifier"`
	Sender     string             `json:"sender"`
	Sent       time.Time          `json:"sent"`
	MsgType    string             `json:"msg_type"`
	References []Reference        `json:"references,omitempty"`
	Input      central.AlertInput `json:"input"`
}

func invalid(format string, a ...any) error {
	return central.Invalid("xml", format, a...)
}

// parseTime accepts CAP's dateTime (RFC 3339 with a numeric offset; "Z" is
// tolerated although CAP asks for "-00:00").
func parseTime(what, s string) (time.Time, error) {
	s = strings.TrimSpace(s)
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		return time.Time{}, invalid("%s %q is not a CAP dateTime (2026-11-22T10:00:00+09:00)", what, trunc(s, 40))
	}
	return t.UTC(), nil
}

func trunc(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "..."
}

// Parse reads a CAP 1.2 document. Errors wrap central.ErrInvalid with field
// "xml" and name the element.
func Parse(data []byte) (*Message, error) {
	if len(data) > MaxBytes {
		return nil, invalid("document is %d bytes, max %d", len(data), MaxBytes)
	}
	var x xmlAlert
	dec := xml.NewDecoder(bytes.NewReader(data))
	dec.Strict = true
	if err := dec.Decode(&x); err != nil {
		var ue xml.UnmarshalError
		if errors.As(err, &ue) || strings.Contains(err.Error(), "expected element type") {
			return nil, invalid("not a CAP 1.2 alert (root must be <alert xmlns=%q>): %v", Namespace, err)
		}
		return nil, invalid("not well-formed XML: %v", err)
	}
	// Nothing but whitespace and comments may follow the root element.
	for {
		tok, err := dec.Token()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, invalid("after </alert>: %v", err)
		}
		switch t := tok.(type) {
		case xml.CharData:
			if len(bytes.TrimSpace(t)) > 0 {
				return nil, invalid("text after </alert>")
			}
		case xml.Comment, xml.ProcInst:
		default:
			return nil, invalid("content after </alert>")
		}
	}
	m := &Message{Identifier: strings.TrimSpace(x.Identifier), Sender: strings.TrimSpace(x.Sender), MsgType: strings.TrimSpace(x.MsgType)}
	if m.Identifier == "" || strings.ContainsAny(m.Identifier, " ,<&") {
		return nil, invalid("identifier %q is missing or has spaces, commas, < or &", trunc(m.Identifier, 64))
	}
	if m.Sender == "" {
		return nil, invalid("sender is missing")
	}
	var err error
	if m.Sent, err = parseTime("sent", x.Sent); err != nil {
		return nil, err
	}
	switch s := strings.TrimSpace(x.Status); s {
	case "Actual", "Exercise", "Test":
	default:
		return nil, invalid("status %q: only Actual, Exercise and Test can be imported", trunc(s, 32))
	}
	switch m.MsgType {
	case MsgAlert, MsgUpdate, MsgCancel:
	default:
		return nil, invalid("msgType %q: only Alert, Update and Cancel can be imported", trunc(m.MsgType, 32))
	}
	if m.References, err = parseReferences(x.References); err != nil {
		return nil, err
	}
	if m.MsgType != MsgAlert && len(m.References) == 0 {
		return nil, invalid("msgType %s needs references naming the earlier message", m.MsgType)
	}
	if m.MsgType == MsgCancel && len(x.Infos) == 0 {
		return m, nil // a Cancel needs no info
	}
	if err := m.fillInput(x.Infos); err != nil {
		return nil, err
	}
	return m, nil
}

func parseReferences(s string) ([]Reference, error) {
	var out []Reference
	for i, f := range strings.Fields(s) {
		parts := strings.Split(f, ",")
		if len(parts) != 3 || parts[0] == "" || parts[1] == "" {
			return nil, invalid("references[%d] %q is not sender,identifier,sent", i, trunc(f, 80))
		}
		t, err := parseTime(fmt.Sprintf("references[%d] sent", i), parts[2])
		if err != nil {
			return nil, err
		}
		out = append(out, Reference{Sender: parts[0], Identifier: parts[1], Sent: t})
	}
	return out, nil
}

// Lang maps a CAP language (RFC 3066, default en-US) to the primary subtag
// the displays use.
func Lang(capLang string) string {
	l := strings.TrimSpace(capLang)
	if l == "" {
		l = "en-US"
	}
	primary, _, _ := strings.Cut(l, "-")
	return strings.ToLower(primary)
}

func (m *Message) fillInput(infos []xmlInfo) error {
	if len(infos) == 0 {
		return invalid("no info block")
	}
	if len(infos) > wire.MaxLanguages {
		return invalid("%d info blocks, max %d languages", len(infos), wire.MaxLanguages)
	}
	type text struct {
		wire.Text
		idx int
	}
	var texts []text
	seen := map[string]int{}
	var in central.AlertInput
	var target central.Target
	for i, inf := range infos {
		at := fmt.Sprintf("info[%d]", i)
		lang := Lang(inf.Language)
		if j, dup := seen[lang]; dup {
			return invalid("%s: language %s already given in info[%d]", at, lang, j)
		}
		seen[lang] = i
		if strings.TrimSpace(inf.Headline) == "" {
			return invalid("%s.headline is missing (language %s)", at, lang)
		}
		texts = append(texts, text{Text: wire.Text{Lang: lang, Headline: strings.TrimSpace(inf.Headline),
			Body: strings.TrimSpace(inf.Description), Instruction: strings.TrimSpace(inf.Instruction)}, idx: i})
		if inf.Expires != "" {
			t, err := parseTime(at+".expires", inf.Expires)
			if err != nil {
				return err
			}
			if in.Expires.IsZero() || t.Before(in.Expires) {
				in.Expires = t // the earliest: never show longer than any language says
			}
		}
		eff := inf.Effective
		if eff == "" {
			eff = inf.Onset
		}
		if eff != "" {
			t, err := parseTime(at+".effective", eff)
			if err != nil {
				return err
			}
			if t.After(in.Effective) {
				in.Effective = t
			}
		}
		p := priority(inf.Severity)
		if p > in.Priority {
			in.Priority = p
		}
		for ai, a := range inf.Areas {
			for gi, g := range a.Geocodes {
				v := strings.TrimSpace(g.Value)
				switch strings.TrimSpace(g.ValueName) {
				case GeoPref, "pref":
					target.Prefs = appendUniq(target.Prefs, v)
				case GeoBranch:
					target.Branches = appendUniq(target.Branches, v)
				case GeoDevice:
					target.Devices = appendUniq(target.Devices, v)
				default:
					return invalid("%s.area[%d].geocode[%d]: unknown valueName %q (use %s, %s or %s)", at, ai, gi, trunc(g.ValueName, 40), GeoPref, GeoBranch, GeoDevice)
				}
			}
		}
	}
	if in.Expires.IsZero() {
		return invalid("no info block has expires: an alert on the displays must end")
	}
	ja, ok := seen["ja"]
	if !ok {
		return invalid("no Japanese info block (language ja-JP): the displays' primary language is Japanese")
	}
	sort.SliceStable(texts, func(i, j int) bool { return texts[i].Lang == "ja" && texts[j].Lang != "ja" })
	for _, t := range texts {
		in.Texts = append(in.Texts, t.Text)
	}
	first := infos[ja]
	in.Issuer = strings.TrimSpace(first.SenderName)
	if in.Issuer == "" {
		in.Issuer = m.Sender
	}
	if web := strings.TrimSpace(first.Web); web != "" {
		label := defaultLabel
		for _, p := range first.Parameters {
			if p.ValueName == "atmguard:qr_label" && strings.TrimSpace(p.Value) != "" {
				label = strings.TrimSpace(p.Value)
			}
		}
		in.QR = &wire.Link{URL: web, Label: label}
	}
	if target.Prefs == nil && target.Branches == nil && target.Devices == nil {
		target.All = true
	}
	in.Target = target
	m.Input = in
	return nil
}

func appendUniq(l []string, v string) []string {
	for _, x := range l {
		if x == v {
			return l
		}
	}
	return append(l, v)
}

func priority(severity string) int {
	switch strings.TrimSpace(severity) {
	case "Extreme":
		return 90
	case "Severe":
		return 80
	case "Moderate":
		return 60
	case "Minor":
		return 30
	}
	return 50
}

func severity(priority int) string {
	switch {
	case priority >= 90:
		return "Extreme"
	case priority >= 70:
		return "Severe"
	case priority >= 50:
		return "Moderate"
	default:
		return "Minor"
	}
}

// Identifier is the CAP identifier of the message that announces alert id.
// Edits create new alerts in central, so one identifier per alert is unique.
func Identifier(id string) string { return idPrefix + id }

// CancelIdentifier is the identifier of the message that cancels alert id.
func CancelIdentifier(id string) string { return idPrefix + id + ":cancel" }

// AlertRef returns the alert id an identifier central exported names, or
// ok false for someone else's identifier.
func AlertRef(identifier string) (id string, ok bool) {
	rest, found := strings.CutPrefix(identifier, idPrefix)
	if !found {
		return "", false
	}
	rest = strings.TrimSuffix(rest, ":cancel")
	if wire.ValidID(rest) != nil {
		return "", false
	}
	return rest, true
}

// capLang maps a display language to the CAP language written on export.
func capLang(l string) string {
	switch l {
	case "ja":
		return "ja-JP"
	case "en":
		return "en-US"
	case "zh":
		return "zh-CN"
	case "ko":
		return "ko-KR"
	case "vi":
		return "vi-VN"
	case "pt":
		return "pt-BR"
	}
	return l
}

var jst = time.FixedZone("JST", 9*3600)

func capTime(t time.Time) string { return t.In(jst).Format("2006-01-02T15:04:05-07:00") }

// Export writes alert a as a CAP 1.2 document from sender. A cancelled alert
// becomes a Cancel referencing the message that announced it.
func Export(a *central.Alert, sender string) ([]byte, error) {
	if sender == "" || strings.ContainsAny(sender, " ,<&") {
		return nil, fmt.Errorf("cap export: sender %q is empty or has spaces, commas, < or &", sender)
	}
	sent := a.PublishedAt
	if sent.IsZero() {
		sent = a.UpdatedAt
	}
	if sent.IsZero() {
		sent = a.CreatedAt
	}
	x := xmlAlert{
		Identifier: Identifier(a.ID),
		Sender:     sender,
		Sent:       capTime(sent),
		Status:     "Actual",
		MsgType:    MsgAlert,
		Scope:      "Public",
	}
	if a.State == central.StateCancelled {
		x.MsgType = MsgCancel
		x.References = fmt.Sprintf("%s,%s,%s", sender, Identifier(a.ID), capTime(sent))
		if !a.CancelledAt.IsZero() {
			x.Sent = capTime(a.CancelledAt)
		}
		x.Identifier = CancelIdentifier(a.ID)
		x.Note = "cancelled"
	}
	areas := exportAreas(a.Target)
	for _, t := range a.Texts {
		inf := xmlInfo{
			Language:    capLang(t.Lang),
			Category:    []string{"Security"},
			Event:       "特殊詐欺注意 / Fraud warning",
			Urgency:     "Immediate",
			Severity:    severity(a.Priority),
			Certainty:   "Observed",
			Expires:     capTime(a.Expires),
			SenderName:  a.Issuer,
			Headline:    t.Headline,
			Description: t.Body,
			Instruction: t.Instruction,
			Areas:       areas,
		}
		if !a.Effective.IsZero() {
			inf.Effective = capTime(a.Effective)
		}
		if a.QR != nil {
			inf.Web = a.QR.URL
			inf.Parameters = []xmlValue{{ValueName: "atmguard:qr_label", Value: a.QR.Label}}
		}
		x.Infos = append(x.Infos, inf)
	}
	out, err := xml.MarshalIndent(x, "", "  ")
	if err != nil {
		return nil, fmt.Errorf("cap export %s: %w", a.ID, err)
	}
	return append([]byte(xml.Header), append(out, '\n')...), nil
}

func exportAreas(t central.Target) []xmlArea {
	switch {
	case t.All:
		return []xmlArea{{AreaDesc: "全国 / All of Japan"}}
	case len(t.Prefs) > 0:
		a := xmlArea{AreaDesc: "都道府県 " + strings.Join(t.Prefs, " ")}
		for _, p := range t.Prefs {
			a.Geocodes = append(a.Geocodes, xmlValue{ValueName: GeoPref, Value: p})
		}
		return []xmlArea{a}
	case len(t.Branches) > 0:
		a := xmlArea{AreaDesc: "支店 / branches"}
		for _, b := range t.Branches {
			a.Geocodes = append(a.Geocodes, xmlValue{ValueName: GeoBranch, Value: b})
		}
		return []xmlArea{a}
	case len(t.Devices) > 0:
		a := xmlArea{AreaDesc: "端末 / displays"}
		for _, d := range t.Devices {
			a.Geocodes = append(a.Geocodes, xmlValue{ValueName: GeoDevice, Value: d})
		}
		return []xmlArea{a}
	}
	return nil
}
