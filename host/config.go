package host

import (
	"log/slog"
	"runtime"
	"time"

	"fluvius.dev/fluvius/abi"
	"fluvius.dev/fluvius/store"
)

// Config configures a Host. The zero value of every field but Store has a
// sensible default.
type Config struct {
	// Store is where events, state and idempotency records live. Required.
	Store store.Driver
	// CacheDir holds wazero's compilation cache; "" compiles in memory only.
	CacheDir string
	// Logger receives the host's and the guests' logs; nil uses slog.Default.
	Logger *slog.Logger
	// MaxInstances bounds the instances per plugin; 0 means 2 x GOMAXPROCS.
	MaxInstances int
	// MemoryLimitPages caps each instance's linear memory in 64 KiB pages;
	// 0 means 2048 (128 MiB).
	MemoryLimitPages uint32
	// RecyclePages retires an instance whose memory grew past it; 0 means
	// half of MemoryLimitPages. Go guests' memory only grows.
	RecyclePages uint32
	// Fuel is the budget of one guest call (a command decided, events
	// folded) in the metering units of package meter. A call that runs out
	// is stopped (plugin-fuel-exhausted) and costs its instance. 0 means
	// 1<<34. Each loop iteration pays for the longest path through its
	// body, so Go's wasip1 code (whose functions loop through one dispatch
	// block) is charged about 3.4 units per instruction and runs about
	// 0.3 s on the default; TinyGo and AssemblyScript come close to one.
	Fuel int64
	// FuelByDomain sets the budget of one domain's plugin instead.
	FuelByDomain map[string]int64
	// InitFuel is the budget of instantiating a module: its start
	// function, _initialize, and reading its manifest. 0 means 1<<32 (Go's
	// runtime initialisation takes about 1<<25).
	InitFuel int64
	// Unmetered runs guests without fuel: faster, but a guest that loops
	// holds its instance for ever. Only for trusted plugins and for
	// measuring what metering costs.
	Unmetered bool
	// GuestTimeout bounds what a host function does for a guest (a state
	// read) and so, with fuel, a whole guest call. 0 means 10s.
	GuestTimeout time.Duration
	// PluginMemoryPages and HostMemoryPages budget the linear memory of
	// all instances of one plugin and of the whole host, idle ones
	// included; an instance that would take either past its budget is not
	// created (KindUnavailable, memory-exhausted) and one returned over it
	// is closed. 0 means 32768 pages (2 GiB) and 65536 pages (4 GiB).
	PluginMemoryPages int
	HostMemoryPages   int
	// IdleTimeout closes instances idle for longer, keeping one per
	// plugin; 0 means 2 minutes.
	IdleTimeout time.Duration
	// MaxModuleBytes refuses larger modules; 0 means 64 MiB.
	MaxModuleBytes int
	// MaxConflictRetries bounds how often a command is decided again after
	// a version conflict before the host answers 409; 0 means 3, negative
	// means never.
	MaxConflictRetries int
	// Committers is how many group committers write in parallel; 0 means 1
	// for a single-writer store (SQLite) and 4 for one that takes concurrent
	// writers (PostgreSQL), where parallel transactions overlap their
	// round trips and flushes.
	Committers int
	// MaxBatch bounds how many commands one group-commit transaction
	// holds; 0 means 128.
	MaxBatch int
	// CommitTimeout bounds one group-commit transaction: a store that does
	// not answer within it fails the batch (KindUnavailable,
	// store-unavailable) rather than holding its callers. 0 means 10s.
	CommitTimeout time.Duration
	// MaxEventsPerCommand and MaxWriteBytesPerCommand bound what one
	// command may write (events, and their data with the new state); a
	// decision past them is refused (plugin-command-limit). 0 means 100
	// events and 4 MiB.
	MaxEventsPerCommand     int
	MaxWriteBytesPerCommand int
	// MaxWaitingPerPlugin bounds the calls waiting for a free instance of
	// one plugin; past it a command is refused (KindUnavailable,
	// plugin-busy) instead of queueing without bound. 0 means 256.
	MaxWaitingPerPlugin int
	// StateCacheItems and StateCacheBytes bound the cache of state records
	// this host wrote last, which saves a store read per command on an
	// aggregate it served recently; 0 means 10,000 records and 64 MiB, and
	// a negative StateCacheItems turns the cache off.
	StateCacheItems int
	StateCacheBytes int
	// MaxQueuePerAggregate bounds the commands one aggregate may have
	// deciding or waiting on this host; past it a command is refused
	// (KindUnavailable, aggregate-busy). 0 means 1024.
	MaxQueuePerAggregate int
	// MaxReplayEvents and MaxReplayBytes bound what one time-travel read
	// replays into an instance; 0 means 10,000 events and 16 MiB of event
	// data. Past them the read is refused (KindTooLarge), not attempted.
	MaxReplayEvents int
	MaxReplayBytes  int
	// Authorizer checks the permissions plugins declare (a command's
	// Policy, an aggregate's ReadPolicy); nil grants them all. Tenants are
	// kept apart whatever it says.
	Authorizer Authorizer
	// Now is the clock; nil uses time.Now. Tests set it.
	Now func() time.Time
	// Replica, if set, is a read replica of Store (a PostgreSQL streaming
	// replica): clients' state reads and lists are served from it, a little
	// behind the primary. Commands, authorization and plugins' own reads
	// keep to Store. ReplicaWait bounds how long a read asking for at least
	// a version waits for the replica before it reads Store; 0 means 1s.
	Replica     store.Driver
	ReplicaWait time.Duration
	// Observer hears of every command dispatched and every group commit
	// (package metrics turns them into Prometheus series); nil hears
	// nothing.
	Observer Observer
}

// Observer is told what the host did, once per command and once per group
// commit. Its methods run on the command path: they must be quick and must
// not block.
type Observer interface {
	Command(CommandStats)
	Commit(commands int, took time.Duration)
}

// CommandStats describe one dispatched command of a known domain.
type CommandStats struct {
	// Domain and Command are the plugin's own names (never a request's
	// buffer), so an observer may keep them.
	Domain, Command string
	// Outcome is "ok", "refused" (a 4xx) or "failed" (a 5xx).
	Outcome string
	// Decide is the time the guest took deciding, over every attempt;
	// Commit the time from handing the write over to its commit; Fuel the
	// fuel the guest burnt, over every attempt (0 when unmetered).
	Decide, Commit time.Duration
	Fuel           int64
	// Conflicts counts version conflicts met (each decided again unless
	// it was the last attempt); Swaps counts attempts decided again
	// because the plugin was swapped under the command.
	Conflicts, Swaps int
}

// Authorizer answers whether a caller may do action on object in its
// tenant (package authz implements it over Casbin). held are the roles the
// caller holds on the aggregate addressed (an owner, a member), as its
// state says; nil when none is asked about.
type Authorizer interface {
	Allowed(caller abi.Caller, held []string, object, action string) (bool, error)
}

func (c Config) withDefaults() Config {
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	if c.ReplicaWait <= 0 {
		c.ReplicaWait = time.Second
	}
	if c.MaxInstances <= 0 {
		c.MaxInstances = 2 * runtime.GOMAXPROCS(0)
	}
	if c.MemoryLimitPages == 0 {
		c.MemoryLimitPages = 2048
	}
	if c.RecyclePages == 0 {
		c.RecyclePages = c.MemoryLimitPages / 2
	}
	if c.GuestTimeout <= 0 {
		c.GuestTimeout = 10 * time.Second
	}
	if c.Fuel <= 0 {
		c.Fuel = 1 << 34
	}
	if c.InitFuel <= 0 {
		c.InitFuel = 1 << 32
	}
	if c.PluginMemoryPages <= 0 {
		c.PluginMemoryPages = 32768
	}
	if c.HostMemoryPages <= 0 {
		c.HostMemoryPages = 65536
	}
	if c.IdleTimeout <= 0 {
		c.IdleTimeout = 2 * time.Minute
	}
	if c.MaxModuleBytes <= 0 {
		c.MaxModuleBytes = 64 << 20
	}
	if c.MaxConflictRetries == 0 {
		c.MaxConflictRetries = 3
	}
	if c.MaxConflictRetries < 0 {
		c.MaxConflictRetries = 0
	}
	if c.Committers <= 0 {
		c.Committers = 1
		if c.Store.Capabilities().ConcurrentWriters {
			c.Committers = 4
		}
	}
	if c.MaxBatch <= 0 {
		c.MaxBatch = 128
	}
	if c.MaxEventsPerCommand <= 0 {
		c.MaxEventsPerCommand = 100
	}
	if c.MaxWriteBytesPerCommand <= 0 {
		c.MaxWriteBytesPerCommand = 4 << 20
	}
	if c.MaxWaitingPerPlugin <= 0 {
		c.MaxWaitingPerPlugin = 256
	}
	if c.StateCacheItems == 0 {
		c.StateCacheItems = 10_000
	}
	if c.StateCacheBytes <= 0 {
		c.StateCacheBytes = 64 << 20
	}
	if c.CommitTimeout <= 0 {
		c.CommitTimeout = 10 * time.Second
	}
	if c.MaxQueuePerAggregate <= 0 {
		c.MaxQueuePerAggregate = 1024
	}
	if c.MaxReplayEvents <= 0 {
		c.MaxReplayEvents = 10_000
	}
	if c.MaxReplayBytes <= 0 {
		c.MaxReplayBytes = 16 << 20
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	return c
}
