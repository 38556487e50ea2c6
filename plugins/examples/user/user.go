package main

import (
	"strings"

	"fluvius.dev/fluvius/sdk"
	"fluvius.dev/fluvius/sdk/jsonlite"
)

// Domain is the user domain.
var Domain = sdk.NewDomain("user", sdk.Meta{
	Revision:    1,
	Title:       "Users",
	Description: "User accounts: registration, profile changes and deactivation.",
	Tags:        []string{"identity", "example"},
})

// User is the state of one user, the read model served at GET /user.user/{id}.
type User struct {
	Email         string
	Name          string
	Status        string // "active" or "deactivated"
	CreatedAt     int64  // Unix nanoseconds
	DeactivatedAt int64
	Reason        string
	Tags          []string
}

const (
	statusActive      = "active"
	statusDeactivated = "deactivated"
)

// EncodeJSON writes the user as stored and served.
func (u *User) EncodeJSON(w *jsonlite.Writer) {
	w.BeginObject().
		Key("email").String(u.Email).
		Key("name").String(u.Name).
		Key("status").String(u.Status).
		Key("tags").Strings(u.Tags).
		Key("created_at").Int(u.CreatedAt)
	if u.DeactivatedAt != 0 {
		w.Key("deactivated_at").Int(u.DeactivatedAt).
			Key("reason").String(u.Reason)
	}
	w.EndObject()
}

// DecodeJSON reads the user back.
func (u *User) DecodeJSON(v jsonlite.Value) error {
	u.Email = v.Get("email").Str()
	u.Name = v.Get("name").Str()
	u.Status = v.Get("status").Str()
	u.CreatedAt = v.Get("created_at").Int()
	u.DeactivatedAt = v.Get("deactivated_at").Int()
	u.Reason = v.Get("reason").Str()
	u.Tags = readTags(u.Tags[:0], v.Get("tags"))
	return nil
}

// readTags appends the strings of a JSON array to tags.
func readTags(tags []string, v jsonlite.Value) []string {
	v.Array(func(_ int, e jsonlite.Value) bool {
		tags = append(tags, e.Str())
		return true
	})
	return tags
}

// userCreated is the data of user-created and user-updated events.
type userFields struct {
	Email, Name string
	Tags        []string
	SetTags     bool // tags are given (perhaps none)
}

func (f userFields) EncodeJSON(w *jsonlite.Writer) {
	w.BeginObject()
	if f.Email != "" {
		w.Key("email").String(f.Email)
	}
	if f.Name != "" {
		w.Key("name").String(f.Name)
	}
	if f.SetTags {
		w.Key("tags").Strings(f.Tags)
	}
	w.EndObject()
}

// tagsSchema bounds a user's tags: short labels, a handful of them.
func tagsSchema() *sdk.Schema {
	return sdk.Array(sdk.String().MinLength(1).MaxLength(40)).MaxItems(20).Describe("labels, replacing the user's")
}

type deactivation struct{ Reason string }

func (d deactivation) EncodeJSON(w *jsonlite.Writer) {
	w.BeginObject().Key("reason").String(d.Reason).EndObject()
}

func init() {
	users := sdk.NewAggregate[User](Domain, "user")
	users.StateSchema(sdk.Object(
		sdk.Required("email", sdk.String()),
		sdk.Required("name", sdk.String()),
		sdk.Required("status", sdk.String().Enum(statusActive, statusDeactivated)),
		sdk.Required("created_at", sdk.Integer()),
		sdk.Optional("deactivated_at", sdk.Integer()),
		sdk.Optional("reason", sdk.String()),
		sdk.Required("tags", sdk.Array(sdk.String())),
	)).Query(sdk.QueryResource{
		Fields: []string{"name", "email", "status", "tags", "created_at"},
		Sort:   []string{"name.asc"},
		Text:   []string{"name", "email"},
		Named: []sdk.NamedQuery{{Name: "active", Filter: `{"status": "active"}`, Sort: "name.asc",
			Description: "users who are not deactivated"}},
	})
	users.Action(sdk.Action[User]{
		Name: "create-user", Title: "Create a user", EvtKey: "user-created", New: true,
		Payload: sdk.Object(
			sdk.Required("email", sdk.String().MaxLength(254).Describe("the user's e-mail address")),
			sdk.Required("name", sdk.String().MinLength(1).MaxLength(200)),
			sdk.Optional("tags", tagsSchema()),
		),
		Handle: createUser,
	})
	users.Action(sdk.Action[User]{
		Name: "update-user", Title: "Change a user's e-mail or name", EvtKey: "user-updated",
		Payload: sdk.Object(
			sdk.Optional("email", sdk.String().MaxLength(254)),
			sdk.Optional("name", sdk.String().MinLength(1).MaxLength(200)),
			sdk.Optional("tags", tagsSchema()),
		),
		Handle: updateUser,
	})
	users.Action(sdk.Action[User]{
		Name: "deactivate-user", Title: "Deactivate a user", EvtKey: "user-deactivated",
		Payload: sdk.Object(sdk.Optional("reason", sdk.String().MaxLength(500))),
		Handle:  deactivateUser,
	})
	users.Action(sdk.Action[User]{
		Name: "delete-user", Title: "Delete a user", EvtKey: "user-deleted", Deletes: true,
		Description: "Soft-deletes the user: reads and lists no longer show it; its events stay.",
		Payload:     sdk.Object(sdk.Optional("reason", sdk.String().MaxLength(500))),
		Handle: func(c *sdk.Call, u *User, p jsonlite.Value) error {
			c.Delete()
			return c.Emit(deactivation{Reason: p.Get("reason").Str()})
		},
	})
	users.Apply("user-deleted", func(u *User, e sdk.Event) error { return nil })
	users.Apply("user-created", func(u *User, e sdk.Event) error {
		u.Email = e.Data.Get("email").Str()
		u.Name = e.Data.Get("name").Str()
		u.Status = statusActive
		u.CreatedAt = e.Time
		u.Tags = readTags(u.Tags[:0], e.Data.Get("tags"))
		return nil
	})
	users.Apply("user-updated", func(u *User, e sdk.Event) error {
		if v := e.Data.Get("email"); v.Exists() {
			u.Email = v.Str()
		}
		if v := e.Data.Get("name"); v.Exists() {
			u.Name = v.Str()
		}
		if v := e.Data.Get("tags"); v.Exists() {
			u.Tags = readTags(u.Tags[:0], v)
		}
		return nil
	})
	users.Apply("user-deactivated", func(u *User, e sdk.Event) error {
		u.Status = statusDeactivated
		u.DeactivatedAt = e.Time
		u.Reason = e.Data.Get("reason").Str()
		return nil
	})
}

func createUser(c *sdk.Call, _ *User, p jsonlite.Value) error {
	email := normalizeEmail(p.Get("email").Str())
	if !validEmail(email) {
		return sdk.Fail("invalid-email", "\""+email+"\" is not a valid e-mail address")
	}
	name := strings.TrimSpace(p.Get("name").Str())
	if name == "" {
		return sdk.Fail("invalid-name", "the name must not be blank")
	}
	tags, err := cleanTags(p.Get("tags"))
	if err != nil {
		return err
	}
	return c.Emit(userFields{Email: email, Name: name, Tags: tags, SetTags: len(tags) > 0})
}

// cleanTags reads tags from a payload: trimmed, lower-cased, no duplicates.
func cleanTags(v jsonlite.Value) ([]string, error) {
	var tags []string
	var err error
	v.Array(func(_ int, e jsonlite.Value) bool {
		t := strings.ToLower(strings.TrimSpace(e.Str()))
		if t == "" {
			err = sdk.Fail("invalid-tag", "a tag must not be blank")
			return false
		}
		for _, have := range tags {
			if have == t {
				return true
			}
		}
		tags = append(tags, t)
		return true
	})
	return tags, err
}

func sameTags(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func updateUser(c *sdk.Call, u *User, p jsonlite.Value) error {
	if u.Status == statusDeactivated {
		return sdk.Fail("user-deactivated", "a deactivated user cannot be updated")
	}
	var change userFields
	if v := p.Get("email"); v.Exists() {
		change.Email = normalizeEmail(v.Str())
		if !validEmail(change.Email) {
			return sdk.Fail("invalid-email", "\""+change.Email+"\" is not a valid e-mail address")
		}
		if change.Email == u.Email {
			change.Email = ""
		}
	}
	if v := p.Get("name"); v.Exists() {
		change.Name = strings.TrimSpace(v.Str())
		if change.Name == "" {
			return sdk.Fail("invalid-name", "the name must not be blank")
		}
		if change.Name == u.Name {
			change.Name = ""
		}
	}
	if v := p.Get("tags"); v.Exists() {
		tags, err := cleanTags(v)
		if err != nil {
			return err
		}
		change.Tags, change.SetTags = tags, !sameTags(tags, u.Tags)
	}
	if change.Email == "" && change.Name == "" && !change.SetTags {
		return sdk.Fail("nothing-to-update", "the payload changes nothing")
	}
	return c.Emit(change)
}

func deactivateUser(c *sdk.Call, u *User, p jsonlite.Value) error {
	if u.Status == statusDeactivated {
		return sdk.Fail("user-deactivated", "the user is already deactivated")
	}
	return c.Emit(deactivation{Reason: p.Get("reason").Str()})
}

func normalizeEmail(s string) string { return strings.ToLower(strings.TrimSpace(s)) }

// validEmail accepts local@domain.tld with no spaces and sane lengths. It is
// deliberately strict about shape and lenient about characters.
func validEmail(s string) bool {
	at := strings.LastIndexByte(s, '@')
	if at < 1 || at > 64 || len(s) > 254 || strings.ContainsAny(s, " \t\r\n\"<>(),;:\\[]") {
		return false
	}
	local, host := s[:at], s[at+1:]
	if strings.Contains(local, "@") || strings.HasPrefix(local, ".") || strings.HasSuffix(local, ".") || strings.Contains(local, "..") {
		return false
	}
	dot := strings.LastIndexByte(host, '.')
	if dot < 1 || dot == len(host)-1 || strings.Contains(host, "..") || strings.HasPrefix(host, "-") {
		return false
	}
	return true
}
