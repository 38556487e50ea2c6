;; SIMD memory and lane instructions, and tail calls, as wat2wasm encodes
;; them; assembled by wat_test.go.
(module
  (memory (export "memory") 1)
  (data (i32.const 16) "\01\02\03\04\05\06\07\08\09\0a\0b\0c\0d\0e\0f\10")

  ;; Adds up what a range of SIMD instructions leave.
  (func (export "simd") (result i32)
    (local $v v128) (local $acc i32)
    (local.set $v (v128.load offset=16 align=1 (i32.const 0)))
    (local.set $acc (i8x16.extract_lane_u 15 (local.get $v)))                  ;; 16
    (local.set $v (v128.load8_lane 3 (i32.const 20) (local.get $v)))           ;; lane 3 = 5
    (local.set $acc (i32.add (local.get $acc) (i8x16.extract_lane_u 3 (local.get $v))))
    (v128.store32_lane 1 (i32.const 64) (local.get $v))                        ;; bytes 5..8
    (local.set $acc (i32.add (local.get $acc) (i32.load8_u (i32.const 64))))  ;; +5
    (local.set $v (v128.load32_zero (i32.const 16)))
    (local.set $acc (i32.add (local.get $acc) (i32x4.extract_lane 1 (local.get $v)))) ;; +0
    (local.set $v (v128.load16_splat (i32.const 16)))
    (local.set $acc (i32.add (local.get $acc) (i16x8.extract_lane_u 7 (local.get $v)))) ;; +0x0201
    (local.set $v (i32x4.extmul_low_i16x8_u (local.get $v) (local.get $v)))
    (local.set $acc (i32.add (local.get $acc) (i32x4.extract_lane 0 (local.get $v)))) ;; +0x0201^2
    (local.set $v (f64x2.convert_low_i32x4_u (i32x4.splat (i32.const 3))))
    (local.set $acc (i32.add (local.get $acc) (i32.trunc_f64_s (f64x2.extract_lane 1 (local.get $v))))) ;; +3
    (local.set $acc (i32.add (local.get $acc) (i8x16.bitmask (i8x16.popcnt (v128.const i8x16 -1 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0))))) ;; +0x0001
    (select (result v128) (local.get $v) (v128.const i64x2 0 0) (i32.const 1))
    (i64x2.all_true)
    (local.get $acc)
    (i32.add))

  ;; An endless tail recursion: no stack grows, only fuel stops it.
  (func $forever (export "forever") (param i64) (result i64)
    (return_call $forever (i64.add (local.get 0) (i64.const 1))))

  ;; A bounded one through return_call_indirect.
  (type $t (func (param i64) (result i64)))
  (table 1 funcref)
  (elem (i32.const 0) $down)
  (func $down (export "down") (param i64) (result i64)
    (if (result i64) (i64.eqz (local.get 0))
      (then (i64.const 42))
      (else (return_call_indirect (type $t) (i64.sub (local.get 0) (i64.const 1)) (i32.const 0))))))
