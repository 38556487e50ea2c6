// Package meter rewrites WebAssembly modules so that their code counts
// fuel and traps when it runs out. It owns the cost model and the module
// rewriting; the host owns the budget: it sets the exported global
// FuelGlobal through api.MutableGlobal before each call and reads it after.
//
// Deadlines checked by wall clock stop a guest at a different instruction
// on every run; fuel stops the same call on the same input at the same
// point, on any machine and with either wazero engine.
//
// The cost model: every function entry and every loop header subtracts a
// static cost, the number of instructions that can run before the next
// charge (the function's or loop's own instructions, not those of the
// loops nested in it), and traps with unreachable when the fuel goes below
// zero. Calls are paid by the callee's entry. Bulk memory and table
// instructions and memory.grow also pay for their length. So fuel bounds
// the instructions a call executes, host functions aside.
//
// After a trap the fuel global is negative: that is how a host tells
// running out of fuel from a guest's own unreachable. The global starts at
// Options.StartFuel, the budget of a start function, which runs during
// instantiation before the host can set the fuel; toolchains that export
// an initialiser instead (_initialize) need none. The host must not set
// the fuel negative: a charge could then wrap it around.
//
// Modules are untrusted: the parser accepts the instruction set of
// WebAssembly 2.0 (with SIMD) and tail calls, refuses everything else
// (exceptions, threads, GC, memory64, multi-memory, unknown opcodes) with
// an error naming the function, the offset and the opcode, and bounds
// every count by the bytes that follow it, including those of the sections
// it copies unchanged, which wazero would otherwise trust.
package meter
