package host

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"
	"github.com/tetratelabs/wazero/sys"

	"fluvius.dev/fluvius/abi"
	"fluvius.dev/fluvius/meter"
)

// instance is one instantiated guest. It is never used by two goroutines at
// once: the pool hands it to one caller at a time.
type instance struct {
	mod    api.Module
	buffer api.Function
	handle api.Function
	apply  api.Function
	// onEvent and runJob are nil in a plugin without handlers, jobs.
	onEvent, runJob api.Function
	stack           []uint64
	stderr          *tail
	// The guest buffer the last fluvius_buffer call returned, and the size
	// asked for: requests that fit are written there without another call.
	inPtr, inCap uint32
	enc          abi.Encoder
	// fuel is the metering global the host sets before each call (nil
	// when unmetered); budget is what a call gets.
	fuel   api.MutableGlobal
	budget int64
	used   int64 // fuel burnt since the host last reset it (a call's worth)
	// Memory counted against the plugin's and the host's budgets, and
	// when the instance was last returned to its pool.
	pages    int64
	budgets  []*memBudget
	lastUsed time.Time
}

// run calls fn with the given fuel. A trap with the fuel gone below zero
// is reported as errFuelExhausted.
func (in *instance) run(ctx context.Context, fn api.Function, fuel int64) error {
	if in.fuel != nil {
		in.fuel.Set(uint64(fuel))
	}
	err := fn.CallWithStack(ctx, in.stack)
	if in.fuel != nil {
		left := int64(in.fuel.Get())
		in.used += fuel - max(left, 0)
		if err != nil && left < 0 {
			return fmt.Errorf("%w (a budget of %d units): %w", errFuelExhausted, fuel, err)
		}
	}
	return err
}

// newInstance instantiates the plugin's module, runs its initialisation and
// looks its exports up once (a lookup per call costs microseconds).
func (p *Plugin) newInstance(ctx context.Context) (*instance, error) {
	stderr := &tail{max: 4 << 10}
	cfg := wazero.NewModuleConfig().WithName("").WithStartFunctions().WithStdout(stderr).WithStderr(stderr)
	mod, err := p.host.rt.InstantiateModule(ctx, p.compiled, cfg)
	if err != nil {
		return nil, fmt.Errorf("instantiating: %w", err)
	}
	in := &instance{mod: mod, stderr: stderr, stack: make([]uint64, 2), budget: p.host.cfg.Fuel}
	if !p.host.cfg.Unmetered {
		g, ok := mod.ExportedGlobal(meter.FuelGlobal).(api.MutableGlobal)
		if !ok {
			mod.Close(ctx)
			return nil, errors.New("the metered module has no fuel global")
		}
		in.fuel = g
	}
	// Reactors (Go's c-shared wasip1 and TinyGo's) initialise their runtime
	// and run package init functions in _initialize.
	if init := mod.ExportedFunction("_initialize"); init != nil {
		if err := in.run(ctx, init, p.host.cfg.InitFuel); err != nil {
			mod.Close(ctx)
			return nil, fmt.Errorf("initialising: %w%s", err, stderr.suffix())
		}
	}
	in.buffer = mod.ExportedFunction(abi.ExportBuffer)
	in.handle = mod.ExportedFunction(abi.ExportHandle)
	in.apply = mod.ExportedFunction(abi.ExportApply)
	in.onEvent = mod.ExportedFunction(abi.ExportOnEvent)
	in.runJob = mod.ExportedFunction(abi.ExportRunJob)
	if err := in.run(ctx, mod.ExportedFunction(abi.ExportABIVersion), in.budget); err != nil {
		mod.Close(ctx)
		return nil, fmt.Errorf("reading ABI version: %w", err)
	}
	if v := api.DecodeI32(in.stack[0]); v != abi.Version {
		mod.Close(ctx)
		return nil, fmt.Errorf("guest speaks ABI version %d, the host serves version %d", v, abi.Version)
	}
	in.budgets = []*memBudget{&p.mem, &p.host.mem}
	in.account()
	if in.overBudget() {
		in.close(ctx)
		return nil, errMemoryBudget
	}
	return in, nil
}

func (in *instance) close(ctx context.Context) {
	in.unaccount()
	if in.mod != nil { // nil only in the pool's own tests
		in.mod.Close(context.WithoutCancel(ctx))
	}
}

// memoryPages is the instance's current memory size in pages.
func (in *instance) memoryPages() uint32 { return in.mod.Memory().Size() / 65536 }

// manifest reads the guest's manifest, on the budget of initialisation.
func (in *instance) manifest(ctx context.Context, fuel int64) ([]byte, error) {
	if err := in.run(ctx, in.mod.ExportedFunction(abi.ExportManifest), fuel); err != nil {
		return nil, err
	}
	ptr, n := abi.Unpack(in.stack[0])
	if n == 0 {
		return nil, errors.New("the guest returned an empty manifest: does it call sdk.Register?")
	}
	if n > maxManifestBytes {
		return nil, fmt.Errorf("the manifest is %d bytes; at most %d are accepted", n, maxManifestBytes)
	}
	view, ok := in.mod.Memory().Read(ptr, n)
	if !ok {
		return nil, fmt.Errorf("the manifest at %d (+%d bytes) lies outside guest memory", ptr, n)
	}
	return bytes.Clone(view), nil
}

// maxAnswerBytes bounds what the host copies out of a guest per call: events
// and state of one command, not a dump of guest memory.
const maxAnswerBytes = 16 << 20

// minGuestBuffer is the least buffer size the host asks a guest for, so
// that most requests fit in the first one and a command is one guest call.
const minGuestBuffer = 16 << 10

// invoke encodes a request straight into the guest's buffer, calls fn on it
// and returns a copy of the answer. Only a request larger than the buffer
// costs a fluvius_buffer call (ABI.md, "Memory ownership"). Any error means
// the instance must be discarded.
func (in *instance) invoke(ctx context.Context, fn api.Function, encode func(*abi.Encoder)) (_ []byte, grew bool, err error) {
	mem := in.mod.Memory()
	var view []byte
	if in.inCap > 0 {
		var ok bool
		if view, ok = mem.Read(in.inPtr, in.inCap); !ok {
			return nil, grew, fmt.Errorf("guest buffer at %d (+%d bytes) lies outside its memory", in.inPtr, in.inCap)
		}
		view = view[:0:in.inCap] // never past the buffer, whatever lies behind it
	}
	in.enc.ResetTo(view)
	encode(&in.enc)
	req := in.enc.Bytes()
	n := len(req)
	if n > int(in.inCap) {
		// It did not fit: the encoder moved to host memory. Ask for a
		// buffer that fits (and room to grow), and copy.
		grew = true
		size := max(n, minGuestBuffer, 2*int(in.inCap))
		in.stack[0] = uint64(size)
		if err := in.run(ctx, in.buffer, in.budget); err != nil {
			return nil, grew, err
		}
		in.inPtr, in.inCap = uint32(in.stack[0]), uint32(size)
		if !mem.Write(in.inPtr, req) {
			return nil, grew, fmt.Errorf("guest buffer at %d (+%d bytes) lies outside its memory", in.inPtr, n)
		}
		in.enc.ResetTo(nil) // do not keep a large request's storage
	}
	in.stack[0], in.stack[1] = uint64(in.inPtr), uint64(n)
	if err := in.run(ctx, fn, in.budget); err != nil {
		return nil, grew, err
	}
	optr, olen := abi.Unpack(in.stack[0])
	if olen == 0 {
		return nil, grew, errors.New("the guest answered nothing: does it call sdk.Register?")
	}
	if olen > maxAnswerBytes {
		return nil, grew, fmt.Errorf("the guest answered %d bytes, more than the %d a command may produce", olen, maxAnswerBytes)
	}
	view, ok := in.mod.Memory().Read(optr, olen)
	if !ok {
		return nil, grew, fmt.Errorf("the guest's answer at %d (+%d bytes) lies outside its memory", optr, olen)
	}
	return bytes.Clone(view), grew, nil
}

// describeFailure turns a failed guest call into a message for logs.
func (in *instance) describeFailure(err error) string {
	if errors.Is(err, errFuelExhausted) {
		return fmt.Sprintf("the guest ran out of fuel (a budget of %d units)%s", in.budget, in.stderr.suffix())
	}
	var exit *sys.ExitError
	if errors.As(err, &exit) {
		switch exit.ExitCode() {
		case sys.ExitCodeDeadlineExceeded:
			return "the guest call exceeded its deadline"
		case sys.ExitCodeContextCanceled:
			return "the guest call was cancelled"
		}
		return fmt.Sprintf("the guest exited with code %d%s", exit.ExitCode(), in.stderr.suffix())
	}
	return "the guest trapped: " + err.Error() + in.stderr.suffix()
}

// tail keeps the last max bytes a guest wrote to stdout or stderr, so a
// trap's log line can say what the guest said before it died.
type tail struct {
	mu  sync.Mutex
	max int
	buf []byte
}

func (t *tail) Write(p []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.buf = append(t.buf, p...)
	if over := len(t.buf) - t.max; over > 0 {
		t.buf = append(t.buf[:0], t.buf[over:]...)
	}
	return len(p), nil
}

func (t *tail) suffix() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	if len(t.buf) == 0 {
		return ""
	}
	return "; guest output: " + string(bytes.TrimSpace(t.buf))
}
