package admin

import (
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"

	"github.com/gofiber/fiber/v2"

	"fluvius.dev/fluvius/host"
)

// Problem is an RFC 9457 problem details body, with Fluvius's stable code.
type Problem struct {
	Type    string `json:"type"`
	Title   string `json:"title"`
	Status  int    `json:"status"`
	Detail  string `json:"detail"`
	Code    string `json:"code"`
	Details any    `json:"details,omitempty"`
}

var kindStatus = map[host.Kind]int{
	host.KindInternal:           http.StatusInternalServerError,
	host.KindNotFound:           http.StatusNotFound,
	host.KindInvalid:            http.StatusBadRequest,
	host.KindDomain:             http.StatusUnprocessableEntity,
	host.KindConflict:           http.StatusConflict,
	host.KindPreconditionFailed: http.StatusPreconditionFailed,
	host.KindUnavailable:        http.StatusServiceUnavailable,
}

// problemError is an error the HTTP layer itself raises.
func problemError(status int, code, detail string) error {
	kind := host.KindInvalid
	for k, s := range kindStatus {
		if s == status {
			kind = k
		}
	}
	return &httpError{status: status, err: &host.Error{Kind: kind, Code: code, Message: detail}}
}

type httpError struct {
	status int
	err    *host.Error
}

func (e *httpError) Error() string { return e.err.Error() }

// errorHandler renders every error a handler returns as a problem body.
// Internal causes go to the log, never to the client.
func errorHandler(log *slog.Logger) fiber.ErrorHandler {
	return func(c *fiber.Ctx, err error) error {
		var p Problem
		var he *httpError
		var fe *fiber.Error
		switch {
		case errors.As(err, &he):
			p = Problem{Status: he.status, Code: he.err.Code, Detail: he.err.Message, Details: he.err.Details}
		case errors.As(err, &fe):
			p = Problem{Status: fe.Code, Code: fiberCode(fe.Code), Detail: fe.Message}
		default:
			e := host.AsError(err)
			p = Problem{Status: kindStatus[e.Kind], Code: e.Code, Detail: e.Message, Details: e.Details}
			if e.Kind == host.KindInternal {
				log.Error("request failed", "method", c.Method(), "path", c.Path(), "code", e.Code, "err", err)
			}
		}
		p.Title = http.StatusText(p.Status)
		p.Type = "urn:fluvius:problem:" + p.Code
		body, merr := json.Marshal(p)
		if merr != nil {
			body = []byte(`{"type":"urn:fluvius:problem:internal","title":"Internal Server Error","status":500,"code":"internal"}`)
			p.Status = http.StatusInternalServerError
		}
		c.Set(fiber.HeaderContentType, "application/problem+json")
		return c.Status(p.Status).Send(body)
	}
}

func fiberCode(status int) string {
	switch status {
	case http.StatusNotFound:
		return "no-route"
	case http.StatusMethodNotAllowed:
		return "method-not-allowed"
	case http.StatusRequestEntityTooLarge:
		return "body-too-large"
	case http.StatusBadRequest:
		return "bad-request"
	}
	return "http-error"
}
