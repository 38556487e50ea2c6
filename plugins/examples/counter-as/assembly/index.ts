// A Fluvius domain plugin written in AssemblyScript against ABI v1
// (abi/ABI.md), without any SDK: it proves the contract is language neutral.
//
// Domain "tally", aggregate "counter":
//   open-counter (new)        -> counter-opened {}
//   add {by: 1..1000}         -> added {"by": N}; refused with limit-reached
//                                past 1,000,000
// State: {"n": N}.
//
// The hot path allocates nothing: requests and answers live in buffers that
// grow when needed and are reused (the stub runtime never frees).

const MANIFEST = `{"abi_version":1,"domain":"tally","meta":{"revision":1,"title":"Tally","description":"A counter, in AssemblyScript","tags":["example"]},` +
  `"aggregates":[{"name":"counter","resources":["counter"],"state":{"type":"object","properties":{"n":{"type":"integer"}},"required":["n"],"additionalProperties":false}}],` +
  `"commands":[{"name":"open-counter","aggregate":"counter","evt_key":"counter-opened","resources":["counter"],"new":true,` +
  `"payload":{"type":"object","properties":{},"additionalProperties":false}},` +
  `{"name":"add","aggregate":"counter","evt_key":"added","resources":["counter"],` +
  `"payload":{"type":"object","properties":{"by":{"type":"integer","minimum":1,"maximum":1000}},"required":["by"],"additionalProperties":false}}],` +
  `"events":[{"type":"counter-opened","aggregate":"counter"},{"type":"added","aggregate":"counter"}]}`;

const LIMIT: i64 = 1_000_000;

// Status codes of abi/status.go.
const STATUS_DOMAIN_ERROR: u64 = 1;
const STATUS_INVALID: u64 = 2;
const STATUS_UNKNOWN: u64 = 3;
const STATUS_FAILED: u64 = 4;

let manifestBuf: ArrayBuffer = String.UTF8.encode(MANIFEST);

// ---- buffers ---------------------------------------------------------------

let inPtr: usize = 0;
let inCap: usize = 0;
let outPtr: usize = 0;
let outCap: usize = 0;
let outLen: usize = 0;
let scratch: usize = heap.alloc(64); // JSON documents we write are tiny
let scratchLen: usize = 0;

function reserve(n: usize): void {
  if (outLen + n <= outCap) return;
  let cap = max<usize>(outCap * 2, outLen + n + 256);
  let p = heap.alloc(cap);
  if (outLen > 0) memory.copy(p, outPtr, outLen);
  outPtr = p;
  outCap = cap;
}

function putByte(b: u8): void {
  reserve(1);
  store<u8>(outPtr + outLen, b);
  outLen++;
}

function putVarint(v: u64): void {
  while (v >= 0x80) {
    putByte(<u8>(v & 0x7f) | 0x80);
    v >>= 7;
  }
  putByte(<u8>v);
}

function putTag(field: u32, wire: u32): void { putVarint((<u64>field << 3) | wire); }

function putBytes(field: u32, ptr: usize, len: usize): void {
  putTag(field, 2);
  putVarint(len);
  reserve(len);
  memory.copy(outPtr + outLen, ptr, len);
  outLen += len;
}

function putString(field: u32, s: string): void {
  let b = String.UTF8.encode(s); // only on refusals, which are rare
  putBytes(field, changetype<usize>(b), b.byteLength);
}

// beginMessage reserves four bytes for a padded varint length.
function beginMessage(field: u32): usize {
  putTag(field, 2);
  reserve(4);
  outLen += 4;
  return outLen;
}

function endMessage(mark: usize): void {
  let n = <u32>(outLen - mark);
  let p = outPtr + mark - 4;
  store<u8>(p, <u8>(n & 0x7f) | 0x80);
  store<u8>(p + 1, <u8>((n >> 7) & 0x7f) | 0x80);
  store<u8>(p + 2, <u8>((n >> 14) & 0x7f) | 0x80);
  store<u8>(p + 3, <u8>((n >> 21) & 0x7f));
}

function answer(): u64 { return (<u64>outPtr << 32) | <u64>outLen; }

// ---- reading ---------------------------------------------------------------

let rp: usize = 0;
let rend: usize = 0;
let bad = false;

function getVarint(): u64 {
  let v: u64 = 0;
  let shift: u64 = 0;
  for (let i = 0; i < 10; i++) {
    if (rp >= rend) { bad = true; return 0; }
    let b = load<u8>(rp++);
    v |= <u64>(b & 0x7f) << shift;
    if (b < 0x80) return v;
    shift += 7;
  }
  bad = true;
  return 0;
}

function zigzag(u: u64): i64 { return <i64>(u >> 1) ^ -(<i64>(u & 1)); }

// equals compares raw bytes with an ASCII string.
function equals(ptr: usize, len: usize, s: string): bool {
  if (<i32>len != s.length) return false;
  for (let i = 0; i < <i32>len; i++) {
    if (<i32>load<u8>(ptr + i) != s.charCodeAt(i)) return false;
  }
  return true;
}

// intField reads the integer member key of a flat JSON object the host has
// already validated (so it is a plain integer); 0 if absent.
function intField(ptr: usize, len: usize, key: string): i64 {
  let end = ptr + len;
  let klen = <usize>key.length;
  for (let p = ptr; p + klen + 2 < end; p++) {
    if (load<u8>(p) != 0x22 || !equals(p + 1, klen, key) || load<u8>(p + 1 + klen) != 0x22) continue;
    let q = p + 2 + klen;
    while (q < end && (load<u8>(q) == 0x20 || load<u8>(q) == 0x3a)) q++;
    let neg = false;
    if (q < end && load<u8>(q) == 0x2d) { neg = true; q++; }
    let v: i64 = 0;
    while (q < end) {
      let c = load<u8>(q);
      if (c < 0x30 || c > 0x39) break;
      v = v * 10 + <i64>(c - 0x30);
      q++;
    }
    return neg ? -v : v;
  }
  return 0;
}

// writeCount writes {"<key>":v} into scratch.
function writeObject(key: string, v: i64): void {
  let p = scratch;
  store<u8>(p++, 0x7b); // {
  store<u8>(p++, 0x22);
  for (let i = 0; i < key.length; i++) store<u8>(p++, <u8>key.charCodeAt(i));
  store<u8>(p++, 0x22);
  store<u8>(p++, 0x3a);
  if (v < 0) { store<u8>(p++, 0x2d); v = -v; }
  let digits = p;
  do { store<u8>(p++, <u8>(0x30 + v % 10)); v /= 10; } while (v > 0);
  // reverse the digits written backwards
  for (let a = digits, b = p - 1; a < b; a++, b--) {
    let t = load<u8>(a);
    store<u8>(a, load<u8>(b));
    store<u8>(b, t);
  }
  store<u8>(p++, 0x7d); // }
  scratchLen = p - scratch;
}

// ---- exports ---------------------------------------------------------------

export function fluvius_abi_version(): i32 { return 1; }

export function fluvius_buffer(size: i32): i32 {
  let n = <usize>max(size, 1);
  if (n > inCap) {
    inPtr = heap.alloc(n);
    inCap = n;
  }
  return <i32>inPtr;
}

export function fluvius_manifest(): i64 {
  return <i64>((<u64>changetype<usize>(manifestBuf) << 32) | <u64>manifestBuf.byteLength);
}

function refuse(status: u64, code: string, message: string): u64 {
  outLen = 0;
  putTag(1, 0);
  putVarint(status);
  let m = beginMessage(5);
  putString(1, code);
  putString(2, message);
  endMessage(m);
  return answer();
}

function emit(type: string, data: usize, dataLen: usize): void {
  let m = beginMessage(2);
  putString(1, type);
  putBytes(2, data, dataLen);
  endMessage(m);
}

export function fluvius_handle(ptr: i32, len: i32): i64 {
  rp = <usize>ptr;
  rend = rp + <usize>len;
  bad = false;
  let namePtr: usize = 0, nameLen: usize = 0;
  let resPtr: usize = 0, resLen: usize = 0;
  let payPtr: usize = 0, payLen: usize = 0;
  let statePtr: usize = 0, stateLen: usize = 0;
  let version: i64 = 0;
  while (rp < rend && !bad) {
    let tag = getVarint();
    let field = <u32>(tag >> 3);
    if ((tag & 7) == 0) {
      let v = getVarint();
      if (field == 12) version = zigzag(v);
      continue;
    }
    let n = <usize>getVarint();
    if (rp + n > rend) { bad = true; break; }
    if (field == 3) { namePtr = rp; nameLen = n; }
    else if (field == 4) { resPtr = rp; resLen = n; }
    else if (field == 6) { payPtr = rp; payLen = n; }
    else if (field == 11) { statePtr = rp; stateLen = n; }
    rp += n;
  }
  if (bad) return <i64>refuse(STATUS_INVALID, "malformed-envelope", "the command envelope does not decode");
  if (!equals(resPtr, resLen, "counter")) return <i64>refuse(STATUS_UNKNOWN, "unknown-command", "no such resource");

  let n = stateLen > 0 ? intField(statePtr, stateLen, "n") : 0;
  outLen = 0;
  if (equals(namePtr, nameLen, "open-counter")) {
    if (version != 0) return <i64>refuse(STATUS_DOMAIN_ERROR, "aggregate-exists", "the counter exists");
    store<u8>(scratch, 0x7b);
    store<u8>(scratch + 1, 0x7d);
    emit("counter-opened", scratch, 2);
    writeObject("n", 0);
  } else if (equals(namePtr, nameLen, "add")) {
    if (version == 0) return <i64>refuse(STATUS_DOMAIN_ERROR, "aggregate-not-found", "the counter does not exist");
    let by = intField(payPtr, payLen, "by");
    if (n + by > LIMIT) return <i64>refuse(STATUS_DOMAIN_ERROR, "limit-reached", "a counter stops at 1000000");
    writeObject("by", by);
    emit("added", scratch, scratchLen);
    writeObject("n", n + by);
  } else {
    return <i64>refuse(STATUS_UNKNOWN, "unknown-command", "no such command");
  }
  putBytes(4, scratch, scratchLen); // the new state
  return <i64>answer();
}

export function fluvius_apply(ptr: i32, len: i32): i64 {
  rp = <usize>ptr;
  rend = rp + <usize>len;
  bad = false;
  let n: i64 = 0;
  while (rp < rend && !bad) {
    let tag = getVarint();
    let field = <u32>(tag >> 3);
    if ((tag & 7) == 0) { getVarint(); continue; }
    let size = <usize>getVarint();
    let end = rp + size;
    if (end > rend) { bad = true; break; }
    if (field == 3) n = intField(rp, size, "n");
    if (field == 4) {
      // an Event: 1 type, 2 data
      let save = rend;
      rend = end;
      let typePtr: usize = 0, typeLen: usize = 0, dataPtr: usize = 0, dataLen: usize = 0;
      while (rp < rend && !bad) {
        let t = getVarint();
        if ((t & 7) == 0) { getVarint(); continue; }
        let l = <usize>getVarint();
        if ((t >> 3) == 1) { typePtr = rp; typeLen = l; }
        if ((t >> 3) == 2) { dataPtr = rp; dataLen = l; }
        rp += l;
      }
      rend = save;
      if (equals(typePtr, typeLen, "added")) n += intField(dataPtr, dataLen, "by");
      else if (!equals(typePtr, typeLen, "counter-opened")) {
        outLen = 0;
        putTag(1, 0);
        putVarint(STATUS_FAILED);
        return <i64>answer();
      }
    }
    rp = end;
  }
  outLen = 0;
  if (bad) {
    putTag(1, 0);
    putVarint(STATUS_INVALID);
    return <i64>answer();
  }
  writeObject("n", n);
  putBytes(2, scratch, scratchLen);
  return <i64>answer();
}

// abort replaces AssemblyScript's env.abort import: a failed assertion traps,
// and the host discards the instance.
export function abort(message: usize, file: usize, line: u32, column: u32): void {
  unreachable();
}
