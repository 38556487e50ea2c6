package admin

import (
	"strconv"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/riverqueue/river/rivertype"

	"fluvius.dev/fluvius/host"
	"fluvius.dev/fluvius/jobs"
	"fluvius.dev/fluvius/store"
)

// The subscriptions part of the management API: the durable subscriptions
// that run plugins' event handlers, their lag and dead letters, and the
// operator's retry or skip of a dead letter.
//
//	GET  /_admin/subscriptions
//	GET  /_admin/subscriptions/{name}/dead-letters[?resolved=true]
//	POST /_admin/subscriptions/{name}/dead-letters/{id}/retry
//	POST /_admin/subscriptions/{name}/dead-letters/{id}/skip
//	GET  /_admin/jobs[?state=available|scheduled|running|retryable|completed|cancelled|discarded]

type subscriptionView struct {
	Name        string    `json:"name"`
	Handler     string    `json:"handler,omitempty"`
	Domain      string    `json:"domain,omitempty"` // whose events it receives
	Events      []string  `json:"events,omitempty"`
	Active      bool      `json:"active"` // an active plugin declares it
	Cursor      string    `json:"cursor"`
	Owner       string    `json:"owner,omitempty"`
	LeaseUntil  time.Time `json:"lease_until,omitzero"`
	RunsHere    bool      `json:"runs_here"`
	Delivered   int64     `json:"delivered"`
	Lag         int64     `json:"lag"`
	DeadLetters int64     `json:"dead_letters"`
	UpdatedAt   time.Time `json:"updated_at"`
}

type deadLetterView struct {
	ID         int64     `json:"id"`
	EventID    string    `json:"event_id"`
	Tenant     string    `json:"tenant,omitempty"`
	Stream     string    `json:"stream"`
	Version    int64     `json:"version"`
	Type       string    `json:"type"`
	Code       string    `json:"code"`
	Message    string    `json:"message"`
	Attempts   int       `json:"attempts"`
	FailedAt   time.Time `json:"failed_at"`
	Resolution string    `json:"resolution,omitempty"`
	ResolvedBy string    `json:"resolved_by,omitempty"`
	ResolvedAt time.Time `json:"resolved_at,omitzero"`
}

func (s *Server) listSubscriptions(c *fiber.Ctx) error {
	if _, err := s.administrator(c); err != nil {
		return err
	}
	subs, err := s.subs.Subscriptions(c.UserContext())
	if err != nil {
		return err
	}
	handlers := map[string]host.Handler{}
	for _, h := range s.host.Handlers() {
		handlers[h.Subscription()] = h
	}
	here := s.subs.Running()
	out := make([]subscriptionView, 0, len(subs)+len(handlers))
	seen := map[string]bool{}
	for _, sub := range subs {
		v := subscriptionView{Name: sub.Name, Cursor: cursorString(sub.Cursor), Owner: sub.Owner, LeaseUntil: sub.LeaseUntil,
			RunsHere: here[sub.Name], Delivered: sub.Delivered, Lag: sub.Lag, DeadLetters: sub.DeadLetters, UpdatedAt: sub.UpdatedAt}
		if h, ok := handlers[sub.Name]; ok {
			v.Handler, v.Domain, v.Events, v.Active = h.Name, h.Source, h.Events, true
		}
		seen[sub.Name] = true
		out = append(out, v)
	}
	// A handler whose subscription no host has claimed yet.
	for name, h := range handlers {
		if !seen[name] {
			out = append(out, subscriptionView{Name: name, Handler: h.Name, Domain: h.Source, Events: h.Events, Active: true})
		}
	}
	return c.JSON(fiber.Map{"subscriptions": out})
}

func viewDeadLetter(l *store.DeadLetter) deadLetterView {
	return deadLetterView{ID: l.ID, EventID: l.EventID, Tenant: l.Tenant, Stream: l.Stream, Version: l.Version, Type: l.Type,
		Code: l.Code, Message: l.Message, Attempts: l.Attempts, FailedAt: l.FailedAt, Resolution: l.Resolution,
		ResolvedBy: l.ResolvedBy, ResolvedAt: l.ResolvedAt}
}

func (s *Server) listDeadLetters(c *fiber.Ctx) error {
	if _, err := s.administrator(c); err != nil {
		return err
	}
	resolved := c.Query("resolved")
	if resolved != "" && resolved != "true" && resolved != "false" {
		return problemError(fiber.StatusBadRequest, "invalid-parameter", "resolved is true or false")
	}
	letters, err := s.subs.DeadLetters(c.UserContext(), c.Params("name"), resolved == "true", 500)
	if err != nil {
		return err
	}
	out := make([]deadLetterView, len(letters))
	for i, l := range letters {
		out[i] = viewDeadLetter(l)
	}
	return c.JSON(fiber.Map{"dead_letters": out})
}

func letterID(c *fiber.Ctx) (int64, error) {
	id, err := strconv.ParseInt(c.Params("id"), 10, 64)
	if err != nil || id <= 0 {
		return 0, problemError(fiber.StatusNotFound, "dead-letter-not-found", "dead letter ids are positive integers")
	}
	return id, nil
}

func (s *Server) retryDeadLetter(c *fiber.Ctx) error {
	admin, err := s.administrator(c)
	if err != nil {
		return err
	}
	id, err := letterID(c)
	if err != nil {
		return err
	}
	done, err := s.subs.Retry(c.UserContext(), c.Params("name"), id, admin.UserID)
	if err != nil {
		return err
	}
	issued := make([]fiber.Map, len(done.Commands))
	for i, cmd := range done.Commands {
		issued[i] = fiber.Map{"domain": cmd.Domain, "command": cmd.Name, "resource": cmd.Resource, "id": cmd.AggregateID, "replayed": cmd.Replayed}
	}
	return c.JSON(fiber.Map{"id": id, "resolution": store.DeadLetterRetried, "commands": issued})
}

func (s *Server) skipDeadLetter(c *fiber.Ctx) error {
	admin, err := s.administrator(c)
	if err != nil {
		return err
	}
	id, err := letterID(c)
	if err != nil {
		return err
	}
	if err := s.subs.Skip(c.UserContext(), c.Params("name"), id, admin.UserID); err != nil {
		return err
	}
	return c.JSON(fiber.Map{"id": id, "resolution": store.DeadLetterSkipped})
}

// River's job states a client may filter by.
var jobStates = map[string]rivertype.JobState{
	"available": rivertype.JobStateAvailable, "scheduled": rivertype.JobStateScheduled,
	"running": rivertype.JobStateRunning, "retryable": rivertype.JobStateRetryable,
	"completed": rivertype.JobStateCompleted, "cancelled": rivertype.JobStateCancelled,
	"discarded": rivertype.JobStateDiscarded, "pending": rivertype.JobStatePending,
}

func (s *Server) listJobs(c *fiber.Ctx) error {
	if _, err := s.administrator(c); err != nil {
		return err
	}
	var states []rivertype.JobState
	if st := c.Query("state"); st != "" {
		js, ok := jobStates[st]
		if !ok {
			return problemError(fiber.StatusBadRequest, "invalid-parameter",
				"state is one of available, scheduled, running, retryable, completed, cancelled, discarded, pending")
		}
		states = append(states, js)
	}
	list, err := s.jobs.List(c.UserContext(), 200, states...)
	if err != nil {
		return err
	}
	if list == nil {
		list = []jobs.Job{}
	}
	return c.JSON(fiber.Map{"jobs": list})
}
