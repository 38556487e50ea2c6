package admin

import (
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"encoding/json"
	"mime"
	"path"
	"runtime/debug"
	"strconv"
	"strings"
	"sync"

	"github.com/gofiber/fiber/v2"

	"fluvius.dev/fluvius/abi"
	"fluvius.dev/fluvius/host"
	"fluvius.dev/fluvius/openapi"
)

// The API's description: GET /openapi.json, the OpenAPI 3.1 document made
// from the active plugins' manifests, and GET /docs, a page that renders
// it. Both are public: the document names what the host serves (domains,
// commands, schemas), never anything of a tenant's data.

//go:embed docs/index.html docs/docs.js docs/docs.css
var docsFiles embed.FS

// docsCSP lets the page run its own script and style and fetch the
// document, nothing else: no inline script, no other origin.
const docsCSP = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; " +
	"form-action 'none'; frame-ancestors 'none'; base-uri 'none'"

// routeOpenAPI mounts /openapi.json and /docs.
func (s *Server) routeOpenAPI() {
	d := &apiDoc{s: s}
	s.app.Get("/openapi.json", d.serve)
	s.app.Get("/docs", serveDocsFile("index.html"))
	s.app.Get("/docs/docs.js", serveDocsFile("docs.js"))
	s.app.Get("/docs/docs.css", serveDocsFile("docs.css"))
}

// apiDoc keeps the document of the plugin set last asked for: it changes
// only when a plugin is activated, and a module's SHA-256 names one
// registry version, so the set of SHA-256s is its key.
type apiDoc struct {
	s    *Server
	mu   sync.Mutex
	key  string
	body []byte
	etag string
}

func (d *apiDoc) serve(c *fiber.Ctx) error {
	body, etag, err := d.document(c)
	if err != nil {
		return err
	}
	c.Set(fiber.HeaderETag, etag)
	c.Set(fiber.HeaderCacheControl, "no-cache")
	c.Set(fiber.HeaderXContentTypeOptions, "nosniff")
	if inm := c.Get(fiber.HeaderIfNoneMatch); inm != "" && etagMatches(inm, etag) {
		return c.SendStatus(fiber.StatusNotModified)
	}
	c.Set(fiber.HeaderContentType, fiber.MIMEApplicationJSONCharsetUTF8)
	return c.Send(body)
}

// document returns the encoded document of the plugins active now, built
// again only when they changed.
func (d *apiDoc) document(c *fiber.Ctx) ([]byte, string, error) {
	plugins := d.s.host.Plugins() // sorted by domain
	var key strings.Builder
	for _, p := range plugins {
		key.WriteString(p.Domain() + "=" + p.SHA256() + ";")
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.body != nil && d.key == key.String() {
		return d.body, d.etag, nil
	}
	opts := openapi.Options{Version: hostVersion(), Versions: map[string]string{}, Media: d.s.media != nil,
		Batch: d.s.routed(fiber.MethodPost, "/_batch"), MaxBatch: host.MaxBatch}
	active := map[string]int64{}
	if d.s.registry != nil {
		// Only the numbers of the versions: a failure leaves them out.
		if domains, err := d.s.registry.List(c.UserContext()); err == nil {
			for _, pd := range domains {
				active[pd.Domain] = pd.ActiveVersion
			}
		}
	}
	manifests := make([]abi.Manifest, len(plugins))
	for i, p := range plugins {
		manifests[i] = p.Manifest()
		v := "module sha256 " + p.SHA256()[:12]
		if n := active[p.Domain()]; n > 0 {
			v = "v" + strconv.FormatInt(n, 10) + ", " + v
		}
		opts.Versions[p.Domain()] = v
	}
	doc, err := openapi.Build(manifests, opts)
	if err != nil {
		return nil, "", err
	}
	body, err := json.Marshal(doc)
	if err != nil {
		return nil, "", err
	}
	sum := sha256.Sum256(body)
	d.key, d.body, d.etag = key.String(), body, `"`+hex.EncodeToString(sum[:16])+`"`
	return d.body, d.etag, nil
}

// routed says whether the app routes method and path: the document
// describes an optional route only where it is served.
func (s *Server) routed(method, p string) bool {
	for _, r := range s.app.GetRoutes(true) {
		if r.Method == method && r.Path == p {
			return true
		}
	}
	return false
}

// hostVersion is the version the binary was built as: its module version
// (a tag, or the commit's pseudo-version when built from a checkout),
// "dev" when there is none.
func hostVersion() string {
	if info, ok := debug.ReadBuildInfo(); ok && info.Main.Version != "" && info.Main.Version != "(devel)" {
		return info.Main.Version
	}
	return "dev"
}

// serveDocsFile answers one of the docs page's embedded files.
func serveDocsFile(name string) fiber.Handler {
	b, err := docsFiles.ReadFile("docs/" + name)
	if err != nil {
		panic(err) // embedded at build time
	}
	sum := sha256.Sum256(b)
	etag := `"` + hex.EncodeToString(sum[:16]) + `"`
	ctype := mime.TypeByExtension(path.Ext(name))
	if strings.HasSuffix(name, ".js") {
		ctype = "text/javascript; charset=utf-8" // whatever the system's MIME table says
	}
	return func(c *fiber.Ctx) error {
		c.Set(fiber.HeaderContentSecurityPolicy, docsCSP)
		c.Set(fiber.HeaderXContentTypeOptions, "nosniff")
		c.Set(fiber.HeaderReferrerPolicy, "same-origin")
		c.Set(fiber.HeaderXFrameOptions, "DENY")
		c.Set(fiber.HeaderCacheControl, "no-cache")
		c.Set(fiber.HeaderETag, etag)
		if inm := c.Get(fiber.HeaderIfNoneMatch); inm != "" && etagMatches(inm, etag) {
			return c.SendStatus(fiber.StatusNotModified)
		}
		c.Set(fiber.HeaderContentType, ctype)
		return c.Send(b)
	}
}
