package admin

import (
	"encoding/json"
	"fmt"
	"net/http"

	"github.com/gofiber/fiber/v2"
	"github.com/google/uuid"

	"fluvius.dev/fluvius/abi/schema"
	"fluvius.dev/fluvius/host"
)

// POST /_batch runs several commands in one request (Fluvius's batch
// processing):
//
//	{"atomic": false, "commands": [{"domain", "command", "resource", "id" (or ":new"), "payload", "idempotency_key"}]}
//
// answered {"committed": bool, "results": [{"status", "body"}]}, one per
// command in order, each status and body what the command alone would get.
// Non-atomic commands are independent; atomic ones are committed together
// or not at all: then the failing command has its problem and the others
// 424 batch-aborted.

type batchCommand struct {
	Domain         string          `json:"domain"`
	Command        string          `json:"command"`
	Resource       string          `json:"resource"`
	ID             string          `json:"id"`
	Payload        json.RawMessage `json:"payload"`
	IdempotencyKey string          `json:"idempotency_key"`
}

type batchResult struct {
	Status int             `json:"status"`
	Body   json.RawMessage `json:"body"`
}

func (s *Server) batch(c *fiber.Ctx) error {
	caller, err := s.authenticate(c)
	if err != nil {
		return err
	}
	// The body is checked as a payload is: duplicate keys and malformed
	// JSON are refused before anything runs.
	if _, err := (*schema.Validator)(nil).Validate(c.Body()); err != nil {
		return problemError(fiber.StatusBadRequest, "malformed-json", "the batch is not valid JSON: "+err.Error())
	}
	var req struct {
		Atomic   bool           `json:"atomic"`
		Commands []batchCommand `json:"commands"`
	}
	if err := json.Unmarshal(c.Body(), &req); err != nil {
		return problemError(fiber.StatusBadRequest, "invalid-batch", "the batch is {\"atomic\": bool, \"commands\": [...]}: "+err.Error())
	}
	if len(req.Commands) == 0 || len(req.Commands) > host.MaxBatch {
		return problemError(fiber.StatusBadRequest, "invalid-batch", fmt.Sprintf("a batch holds 1 to %d commands", host.MaxBatch))
	}
	correlation := c.Get("X-Correlation-ID")
	if correlation == "" {
		correlation = uuid.Must(uuid.NewV7()).String()
	}
	c.Set("X-Correlation-ID", correlation)
	cmds := make([]*host.Command, len(req.Commands))
	for i, bc := range req.Commands {
		cmd := &host.Command{Domain: bc.Domain, Name: bc.Command, Resource: bc.Resource, AggregateID: bc.ID,
			Payload: bc.Payload, Caller: caller, IdempotencyKey: bc.IdempotencyKey, CorrelationID: correlation}
		if bc.ID == ":new" {
			cmd.New, cmd.AggregateID = true, ""
		}
		cmds[i] = cmd
	}
	results := make([]batchResult, len(cmds))
	committed := true
	if req.Atomic {
		done, at, err := s.host.DispatchAtomic(c.UserContext(), cmds)
		if err != nil {
			committed = false
			status, body := problemOf(err).render()
			aborted := Problem{Status: http.StatusFailedDependency, Code: "batch-aborted",
				Detail: "the batch is atomic and was not committed: see the command that failed"}
			if at < 0 {
				aborted.Detail = "the batch is atomic and its write failed: nothing was committed"
			}
			astatus, abody := aborted.render()
			for i := range results {
				results[i] = batchResult{Status: astatus, Body: abody}
				if i == at || at < 0 {
					results[i] = batchResult{Status: status, Body: body}
				}
			}
		} else {
			for i, r := range done {
				results[i] = commandResult(r)
			}
		}
	} else {
		for i, cmd := range cmds {
			r, err := s.host.Dispatch(c.UserContext(), cmd)
			if err != nil {
				status, body := problemOf(err).render()
				results[i] = batchResult{Status: status, Body: body}
				committed = false
				continue
			}
			results[i] = commandResult(r)
		}
	}
	return c.JSON(fiber.Map{"committed": committed, "results": results})
}

func commandResult(r *host.CommandResult) batchResult {
	status := http.StatusOK
	if r.Created {
		status = http.StatusCreated
	}
	return batchResult{Status: status, Body: json.RawMessage(r.Body)}
}
