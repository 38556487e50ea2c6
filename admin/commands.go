package admin

import (
	"mime"
	"strings"

	"github.com/gofiber/fiber/v2"
	"github.com/google/uuid"

	"fluvius.dev/fluvius/host"
)

// command handles POST /{domain}:{command}/{resource}/{id}.
func (s *Server) command(c *fiber.Ctx) error {
	r, err := parseRoute(c.Path(), ':')
	if err != nil {
		return err
	}
	if ct := c.Get(fiber.HeaderContentType); ct != "" && len(c.Body()) > 0 {
		mt, _, err := mime.ParseMediaType(ct)
		if err != nil || (mt != fiber.MIMEApplicationJSON && !strings.HasSuffix(mt, "+json")) {
			return problemError(fiber.StatusUnsupportedMediaType, "unsupported-media-type",
				"send the payload as application/json, not "+ct)
		}
	}
	caller, err := s.authenticate(c)
	if err != nil {
		return err
	}
	correlation := c.Get("X-Correlation-ID")
	if correlation == "" {
		correlation = uuid.Must(uuid.NewV7()).String()
	}
	c.Set("X-Correlation-ID", correlation)
	cmd := &host.Command{
		Domain: r.domain, Name: r.verb, Resource: r.resource, AggregateID: r.id,
		Payload: c.Body(), Caller: caller,
		IdempotencyKey: c.Get("Idempotency-Key"), IfMatch: etagValue(c.Get(fiber.HeaderIfMatch)),
		CorrelationID: correlation, CausationID: c.Get("X-Causation-ID"),
	}
	if r.id == ":new" {
		cmd.New, cmd.AggregateID = true, ""
	}
	res, err := s.host.Dispatch(c.UserContext(), cmd)
	if err != nil {
		return err
	}
	if res.ETag != "" {
		c.Set(fiber.HeaderETag, `"`+res.ETag+`"`)
	}
	if res.Replayed {
		c.Set("Idempotent-Replayed", "true")
	}
	status := fiber.StatusOK
	if res.Created {
		status = fiber.StatusCreated
		c.Set(fiber.HeaderLocation, "/"+r.domain+"."+r.resource+"/"+res.AggregateID)
	}
	c.Set(fiber.HeaderContentType, fiber.MIMEApplicationJSON)
	return c.Status(status).Send(res.Body)
}

// etagValue strips the quotes (and a weak marker) from an If-Match value.
func etagValue(h string) string {
	h = strings.TrimSpace(h)
	h = strings.TrimPrefix(h, "W/")
	return strings.Trim(h, `"`)
}
