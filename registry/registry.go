// Package registry is the plugin lifecycle: modules uploaded once into a
// registry shared by every host (versions in the store, bytes in a blob
// store), activated after checks and a shadow verification against the
// domain's existing streams, rolled back, disabled. Each host converges on
// the registry's active versions within a second. It knows nothing of HTTP:
// refusals are *host.Error values with a kind and a code.
package registry

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"fluvius.dev/fluvius/blob"
	"fluvius.dev/fluvius/host"
	"fluvius.dev/fluvius/store"
)

// Options tune a registry; zero values take the defaults.
type Options struct {
	// PollInterval is how often the registry is checked for activations
	// made on other hosts; 0 means 250 ms.
	PollInterval time.Duration
	// VerifySample bounds the streams a shadow verification replays; 0
	// means 1,000. An activation may ask for all of them.
	VerifySample int
	// MaxModuleBytes bounds an uploaded module; 0 means 64 MiB.
	MaxModuleBytes int64
	// Now is the clock; nil uses time.Now.
	Now func() time.Time
}

func (o Options) withDefaults() Options {
	if o.PollInterval <= 0 {
		o.PollInterval = 250 * time.Millisecond
	}
	if o.VerifySample <= 0 {
		o.VerifySample = 1000
	}
	if o.MaxModuleBytes <= 0 {
		o.MaxModuleBytes = 64 << 20
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	return o
}

// Registry drives one host's plugins from the shared registry.
type Registry struct {
	// synced: a convergence succeeded (Loaded).
	synced atomic.Bool
	host   *host.Host
	store  store.PluginStore
	blobs  blob.Store
	log    *slog.Logger
	opts   Options

	mu   sync.Mutex // serialises this host's changes of what it serves
	seen int64      // the registry version this host has converged on
	// warmed is, per domain, the highest version this host has compiled
	// or chosen not to; newer uploads are compiled in the background so
	// that their activation, wherever it is made, does not wait for it.
	warmed map[string]int64
	warm   chan *store.PluginVersion

	stop chan struct{}
	wg   sync.WaitGroup
}

// New returns a registry for h over the plugin store and blob store. Call
// Start to follow changes made elsewhere.
func New(h *host.Host, ps store.PluginStore, blobs blob.Store, log *slog.Logger, opts Options) *Registry {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Registry{host: h, store: ps, blobs: blobs, log: log, opts: opts.withDefaults(), seen: -1,
		warmed: map[string]int64{}, warm: make(chan *store.PluginVersion, 64), stop: make(chan struct{})}
}

// Start converges now, then polls for changes until Close. The error is
// the first convergence's; polling goes on regardless.
func (r *Registry) Start(ctx context.Context) error {
	err := r.Sync(ctx)
	if err == nil {
		r.synced.Store(true)
	}
	r.wg.Add(2)
	go r.poll()
	go r.warmer()
	return err
}

// Loaded says whether the host serves the registry's active plugins: nil
// once a convergence succeeded (readiness).
func (r *Registry) Loaded() error {
	if r.synced.Load() {
		return nil
	}
	return errors.New("the registry's active plugins are not loaded yet")
}

// Close stops polling.
func (r *Registry) Close() {
	select {
	case <-r.stop:
	default:
		close(r.stop)
	}
	r.wg.Wait()
}

func (r *Registry) poll() {
	defer r.wg.Done()
	t := time.NewTicker(r.opts.PollInterval)
	defer t.Stop()
	for {
		select {
		case <-r.stop:
			return
		case <-t.C:
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			if err := r.Sync(ctx); err != nil && !errors.Is(err, store.ErrClosed) {
				r.log.Warn("registry: converging failed; retrying", "err", err)
			} else if err == nil {
				r.synced.Store(true)
			}
			cancel()
		}
	}
}

// Sync makes the host serve what the registry says: each domain's active
// version, and nothing for a disabled domain. Domains the registry does not
// know are left alone.
func (r *Registry) Sync(ctx context.Context) error {
	v, err := r.store.PluginRegistryVersion(ctx)
	if err != nil {
		return err
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if v == r.seen {
		return nil
	}
	domains, err := r.store.PluginDomains(ctx)
	if err != nil {
		return err
	}
	var errs []error
	for _, d := range domains {
		if err := r.converge(ctx, d); err != nil {
			errs = append(errs, fmt.Errorf("domain %s: %w", d.Domain, err))
		}
	}
	for _, d := range domains {
		if err := r.queueNew(ctx, d, r.seen == -1); err != nil {
			errs = append(errs, fmt.Errorf("domain %s: %w", d.Domain, err))
		}
	}
	if len(errs) == 0 {
		r.seen = v
	}
	return errors.Join(errs...)
}

// queueNew hands the warmer the versions of a domain uploaded since the
// last look; on the first look (first) they are only noted: a starting
// host compiles what is active, not the history. Under r.mu.
func (r *Registry) queueNew(ctx context.Context, d *store.PluginDomain, first bool) error {
	vs, err := r.store.PluginVersions(ctx, d.Domain)
	if err != nil {
		return err
	}
	for _, v := range vs {
		if v.Version <= r.warmed[d.Domain] {
			continue
		}
		r.warmed[d.Domain] = v.Version
		if first || v.Version == d.ActiveVersion || v.Status == store.PluginFailed {
			continue
		}
		select {
		case r.warm <- v:
		default: // a burst of uploads: the rest compile when activated
		}
	}
	return nil
}

// warmer compiles queued versions into the host's compilation cache.
func (r *Registry) warmer() {
	defer r.wg.Done()
	for {
		select {
		case <-r.stop:
			return
		case v := <-r.warm:
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
			wasm, err := blob.GetContent(ctx, r.blobs, v.SHA256, r.opts.MaxModuleBytes)
			if err == nil {
				start := time.Now()
				if err = r.host.Precompile(ctx, wasm); err == nil {
					r.log.Debug("registry: compiled an uploaded version ahead of its activation", "domain", v.Domain,
						"version", v.Version, "took", time.Since(start).Round(time.Millisecond))
				}
			}
			cancel()
			if err != nil {
				r.log.Warn("registry: compiling an uploaded version ahead failed; it compiles when activated", "domain", v.Domain,
					"version", v.Version, "err", err)
			}
		}
	}
}

// converge makes one domain served as the registry says. Under r.mu.
func (r *Registry) converge(ctx context.Context, d *store.PluginDomain) error {
	current := r.host.Plugin(d.Domain)
	if d.Disabled || d.ActiveVersion == 0 {
		if current != nil {
			r.host.Unload(d.Domain)
		}
		return nil
	}
	v, err := r.store.PluginVersionGet(ctx, d.Domain, d.ActiveVersion)
	if err != nil {
		return err
	}
	if current != nil && current.SHA256() == v.SHA256 {
		return nil
	}
	p, err := r.prepare(ctx, v)
	if err != nil {
		return err
	}
	if err := r.host.Activate(p); err != nil {
		r.host.Discard(p)
		return err
	}
	r.log.Info("registry: serving the active version", "domain", d.Domain, "version", v.Version)
	return nil
}

// module fetches a version's bytes, checked against their hash.
func (r *Registry) module(ctx context.Context, v *store.PluginVersion) ([]byte, error) {
	wasm, err := blob.GetContent(ctx, r.blobs, v.SHA256, r.opts.MaxModuleBytes)
	if err != nil {
		return nil, fmt.Errorf("fetching the module of version %d: %w", v.Version, err)
	}
	return wasm, nil
}

// prepare fetches a version's module and prepares it on the host.
func (r *Registry) prepare(ctx context.Context, v *store.PluginVersion) (*host.Plugin, error) {
	wasm, err := r.module(ctx, v)
	if err != nil {
		return nil, err
	}
	p, err := r.host.Prepare(ctx, fmt.Sprintf("%s@%d", v.Domain, v.Version), wasm)
	if err != nil {
		return nil, err
	}
	if p.Domain() != v.Domain {
		r.host.Discard(p)
		return nil, fmt.Errorf("version %d of %s serves domain %s", v.Version, v.Domain, p.Domain())
	}
	return p, nil
}

func (r *Registry) now() time.Time { return r.opts.Now().UTC().Truncate(time.Microsecond) }

func (r *Registry) audit(domain string, version int64, action, actor string, detail []byte) *store.PluginAudit {
	return &store.PluginAudit{Domain: domain, Version: version, Action: action, Actor: actor, At: r.now(), Detail: detail}
}

func errorf(kind host.Kind, code, format string, args ...any) *host.Error {
	return &host.Error{Kind: kind, Code: code, Message: fmt.Sprintf(format, args...)}
}
