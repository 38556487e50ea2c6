package admin

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"sync"
	"time"
)

// Sessions of the admin UI. A session keeps the credential its user signed
// in with, server-side, and every request authenticates it again exactly
// as the API does: a revoked key or an expired token ends the session at
// once, and the UI can do nothing the credential could not.
type sessions struct {
	mu   sync.Mutex
	byID map[string]*session
	now  func() time.Time
}

type session struct {
	credential string // the bearer credential
	csrf       string // the token every form posts back
	expires    time.Time
}

const (
	sessionCookie = "fluvius_admin"
	sessionIdle   = time.Hour
	maxSessions   = 10_000
)

func newSessions() *sessions {
	return &sessions{byID: map[string]*session{}, now: time.Now}
}

func randomToken() string {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		panic(err) // crypto/rand never fails on supported systems
	}
	return base64.RawURLEncoding.EncodeToString(b)
}

// create opens a session for a credential and returns its id.
func (s *sessions) create(credential string) (string, *session) {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.now()
	if len(s.byID) >= maxSessions {
		for id, ss := range s.byID {
			if now.After(ss.expires) {
				delete(s.byID, id)
			}
		}
	}
	id := randomToken()
	ss := &session{credential: credential, csrf: randomToken(), expires: now.Add(sessionIdle)}
	s.byID[id] = ss
	return id, ss
}

// get returns a live session and extends it.
func (s *sessions) get(id string) *session {
	if id == "" {
		return nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	ss := s.byID[id]
	if ss == nil {
		return nil
	}
	now := s.now()
	if now.After(ss.expires) {
		delete(s.byID, id)
		return nil
	}
	ss.expires = now.Add(sessionIdle)
	return ss
}

func (s *sessions) end(id string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.byID, id)
}

// validCSRF compares a posted token with the session's in constant time.
func (ss *session) validCSRF(token string) bool {
	return token != "" && subtle.ConstantTimeCompare([]byte(token), []byte(ss.csrf)) == 1
}
