package admin

import (
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"slices"
	"strings"

	"github.com/gofiber/fiber/v2"
	"github.com/valyala/fasthttp"

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
	host.KindTooLarge:           http.StatusRequestEntityTooLarge,
	host.KindForbidden:          http.StatusForbidden,
	host.KindUnauthenticated:    http.StatusUnauthorized,
	host.KindUnsupportedMedia:   http.StatusUnsupportedMediaType,
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
		p := problemOf(err)
		if e := host.AsError(err); p.Status == http.StatusInternalServerError && e.Kind == host.KindInternal {
			caller := callerOf(c)
			log.Error("request failed", "request_id", requestIDOf(c), "method", c.Method(), "path", c.Path(), "code", e.Code,
				"user", caller.UserID, "tenant", caller.Tenant, "err", err)
		}
		status, body := p.render()
		if status == http.StatusUnauthorized && c.GetRespHeader(fiber.HeaderWWWAuthenticate) == "" {
			c.Set(fiber.HeaderWWWAuthenticate, `Bearer realm="fluvius"`)
		}
		if status == http.StatusServiceUnavailable {
			c.Set(fiber.HeaderRetryAfter, "1") // overload and shutdown pass quickly, or move to another host
		}
		c.Set(fiber.HeaderContentType, problemContentType)
		return c.Status(status).Send(body)
	}
}

const problemContentType = "application/problem+json"

// render fills in the derived fields and encodes the problem.
func (p Problem) render() (int, []byte) {
	p.Title = http.StatusText(p.Status)
	p.Type = "urn:fluvius:problem:" + p.Code
	body, err := json.Marshal(p)
	if err != nil {
		return http.StatusInternalServerError,
			[]byte(`{"type":"urn:fluvius:problem:internal","title":"Internal Server Error","status":500,"code":"internal"}`)
	}
	return p.Status, body
}

// rejectUnknownMethods answers requests whose method Fiber does not route
// with a problem body, where Fiber would answer plain text.
func rejectUnknownMethods(next fasthttp.RequestHandler) fasthttp.RequestHandler {
	return func(ctx *fasthttp.RequestCtx) {
		m := string(ctx.Method())
		if slices.Contains(fiber.DefaultMethods, m) {
			next(ctx)
			return
		}
		p := Problem{Status: http.StatusNotImplemented, Code: "method-not-implemented",
			Detail: "this server does not implement that method: commands are POST, reads are GET"}
		if !isToken(m) {
			p = Problem{Status: http.StatusBadRequest, Code: "bad-request", Detail: "the request method is not a valid token"}
		}
		status, body := p.render()
		ctx.SetStatusCode(status)
		ctx.SetContentType(problemContentType)
		ctx.SetBody(body)
	}
}

// isToken reports whether s is an RFC 9110 token.
func isToken(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c <= ' ' || c >= 0x7f || strings.IndexByte(`"(),/:;<=>?@[\]{}`, c) >= 0 {
			return false
		}
	}
	return true
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

// problemOf is the problem an error answers: the API's error handler and
// the admin UI's pages say the same. Internal causes stay out of it.
func problemOf(err error) Problem {
	var he *httpError
	var fe *fiber.Error
	switch {
	case errors.As(err, &he):
		return Problem{Status: he.status, Code: he.err.Code, Detail: he.err.Message, Details: he.err.Details}
	case errors.As(err, &fe):
		p := Problem{Status: fe.Code, Code: fiberCode(fe.Code), Detail: fe.Message}
		if fe.Code == http.StatusBadRequest {
			// fasthttp's parse errors quote the raw request back.
			p.Detail = "the request is not valid HTTP/1.1"
		}
		return p
	}
	e := host.AsError(err)
	return Problem{Status: kindStatus[e.Kind], Code: e.Code, Detail: e.Message, Details: e.Details}
}
