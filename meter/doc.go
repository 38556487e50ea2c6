// Package meter rewrites WebAssembly modules so that their code counts
// fuel and traps when it runs out. It owns the cost model and the module
// rewriting; the host owns the budget: it sets the exported global
// FuelGlobal through api.MutableGlobal before each call and reads it after.
//
// Deadlines checked by wall clock stop a guest at a different instruction
// on every run; fuel stops the same call on the same input at the same
// point, on any machine and with either wazero engine.
//
// The cost model: every function entry and every loop header is a charge
// point, which subtracts a static cost and traps with unreachable when the
// fuel goes below zero. A charge point pays for its region: the
// function's or the loop's own instructions, those of nested loops
// excluded, as each loop is its own region; the loop instruction itself
// belongs to the region around it. Calls are paid by the callee's entry.
// Bulk memory and table instructions and memory.grow also pay for their
// length. A unit of fuel stands for one instruction, so fuel bounds the
// instructions a call executes, host functions aside.
//
// A region's cost is the length of the longest path that one pass through
// it can take: from its charge point to wherever the pass ends, counting
// every instruction on the way (the inserted metering code is not
// counted), and at least 1. A pass ends at a branch to its loop's header
// (the next pass pays again), at a branch out of the region, at return,
// unreachable or a tail call, or by falling off the region's end; a trap
// or a call that does not return ends it early. Within one pass a region
// is acyclic, and structured control flow makes the longest paths a
// single forward walk: an if's arms both start from the path at the if;
// a block's end continues the longest of the path falling into it and of
// the branches to it (br_if also falls through; a branch skips the ends
// it jumps past, which are not counted); code after br, br_table, return
// or unreachable is not reached until the end or else that closes its
// block. A nested loop is one instruction of the region around it, from
// which the region's path continues after the loop's end, if its end can
// be reached, and after the end of every block of the region that a
// branch from inside the loop, however deep, leaves to: the loop's own
// instructions are its own header's to pay, and what follows in the
// region around it is on that region's path. Go's wasip1 code is the
// reason for the longest path rather than the sum: it compiles a function
// to one loop around a br_table that dispatches to one of many blocks, of
// which a pass runs a few.
//
// This is sound: between two charges of a region, a pass executes no more
// of the region's instructions than the region's cost, as what it executes
// is one path of the acyclic graph whose longest path the cost is. The
// instructions of a nested loop are paid by its own header, every time the
// loop is entered or iterates. A branch out of nested loops into a block
// of an outer region continues that region's pass, which paid for a path
// through the loop instruction and on from the block's end; a branch to an
// outer loop's header ends the pass of every region in between and starts
// a paid one. So every instruction executed is paid by the last charge of
// its region in the same call, and fuel spent is at least the number of
// instructions executed; for code without loops or branches, exactly.
// Tests check this by running random programs with, before each
// instruction, a count that traps when a pass overruns its charge.
//
// After a trap the fuel global is negative: that is how a host tells
// running out of fuel from a guest's own unreachable (or from the call
// depth check's, below, which leaves the fuel as it was). The global starts at
// Options.StartFuel, the budget of a start function, which runs during
// instantiation before the host can set the fuel; toolchains that export
// an initialiser instead (_initialize) need none. The host must not set
// the fuel negative: a charge could then wrap it around.
//
// The call depth is bounded too, as fuel alone would let a recursion of
// cheap calls go deep: the budget of a call pays for millions of frames,
// and wazero's compiler grows a guest's stack to about 100 MB before it
// traps on its own, which a few instances at once make gigabytes. A second
// added global, a mutable i32 after the fuel global, counts the frames of
// the module's own functions. Every function entry, after its charge, adds
// one and traps with unreachable if that makes more than
// Options.MaxCallDepth. Every way a frame ends normally takes it back,
// once: return; falling off the function's final end; br to the
// function's own label, br_if to it when taken, br_table when the label it
// picks is the function's; and return_call and return_call_indirect, just
// before the call, as the callee replaces the frame and counts itself. The
// code that takes it back pushes and pops only its own values, so the
// results a return or a branch carries stay as they are beneath it; a
// br_if's condition or a br_table's index is kept in the scratch local to
// decide, and left on the stack for the branch. Exceptions, the one other
// way to end a frame, are refused. A trap leaves the count where it was,
// above zero: the host must discard an instance after any trap, whichever
// its cause, as it must anyway (the guest's own state is half updated).
// The global is not exported: no host needs to set it, as every call that
// returns leaves it as it found it. The bound counts frames, not bytes: a
// function whose frame keeps thousands of values alive across a call
// reaches wazero's own limit within the bound.
//
// Tables are bounded too: a host allocates a table's elements when it is
// instantiated, for no fuel, or grows, for little, so a module whose table
// could hold more than Options.MaxTableElements is refused or given that
// maximum (see Options).
//
// Modules are untrusted: the parser accepts the instruction set of
// WebAssembly 2.0 (with SIMD) and tail calls, refuses everything else
// (exceptions, threads, GC, memory64, multi-memory, unknown opcodes) with
// an error naming the function, the offset and the opcode, and bounds
// every count by the bytes that follow it, including those of the sections
// it copies unchanged, which wazero would otherwise trust.
package meter
