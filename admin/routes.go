package admin

import (
	"net/url"
	"strings"

	"github.com/gofiber/fiber/v2"
)

// route is a parsed Fluvius URL: /{domain}:{command}/{resource}/{id} for
// commands, /{domain}.{resource}/{id}[/events] for queries.
type route struct {
	domain, verb, resource, id, tail string
	list                             bool // GET /{domain}.{resource}/: the resource's list
}

// parseRoute splits path into its parts. sep separates domain from command
// (':') or resource ('.') in the first segment.
func parseRoute(path string, sep byte) (route, error) {
	segs := strings.Split(strings.TrimPrefix(path, "/"), "/")
	var r route
	head, err := url.PathUnescape(segs[0])
	if err != nil {
		return r, notFound(path)
	}
	i := strings.IndexByte(head, sep)
	if i <= 0 || i == len(head)-1 {
		return r, notFound(path)
	}
	r.domain, r.verb = head[:i], head[i+1:]
	rest := segs[1:]
	switch {
	case sep == ':' && len(rest) == 2:
		r.resource = rest[0]
		r.id = rest[1]
	case sep == '.' && (len(rest) == 0 || len(rest) == 1 && rest[0] == ""):
		r.resource, r.list = r.verb, true
		return r, nil
	case sep == '.' && (len(rest) == 1 || len(rest) == 2):
		r.resource = r.verb
		r.id = rest[0]
		if len(rest) == 2 {
			r.tail = rest[1]
		}
	default:
		return r, notFound(path)
	}
	if r.id, err = url.PathUnescape(r.id); err != nil || r.id == "" || r.resource == "" {
		return r, notFound(path)
	}
	return r, nil
}

func notFound(path string) error {
	return problemError(fiber.StatusNotFound, "no-route",
		"no route for "+path+": commands are POST /{domain}:{command}/{resource}/{id}, state is GET /{domain}.{resource}/{id}, lists GET /{domain}.{resource}/")
}
