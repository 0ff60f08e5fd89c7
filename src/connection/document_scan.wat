;; The fast path of the document scanner (see raw_documents.ts): finds where each document of a
;; response's `r` array starts and ends, 64 bytes at a time with SIMD, the way simdjson finds
;; JSON's structure. Assembled into document_scan_wasm.ts by scripts/build_wasm.ts.
;;
;; The caller copies the response body to address 0 and follows it with 64 spaces. `scan` reads
;; from just after the `[` of `r` and writes document i's start and end (exclusive) to
;; starts[i] and ends[i], two u32 arrays of `capacity` entries at `starts` and
;; `starts + 4 * capacity`. It returns the document count, and leaves the position after the
;; closing `]` in `array_end`. It handles only what a table read sends, an array of objects or
;; arrays separated by single commas (whitespace allowed); for anything else it returns -1 and
;; the caller's general scanner takes over (and reports malformed input). -2 means more than
;; `capacity` documents.
(module
  (memory (export "memory") 1)
  (global $array_end (export "array_end") (mut i32) (i32.const 0))

  ;; Bit i is set when byte i of the 64 at $p, ORed with $or, equals $byte.
  (func $mask (param $p i32) (param $or v128) (param $byte v128) (result i64)
    (i64.or
      (i64.or
        (i64.extend_i32_u
          (i8x16.bitmask
            (i8x16.eq (v128.or (v128.load offset=0 (local.get $p)) (local.get $or)) (local.get $byte))))
        (i64.shl
          (i64.extend_i32_u
            (i8x16.bitmask
              (i8x16.eq (v128.or (v128.load offset=16 (local.get $p)) (local.get $or)) (local.get $byte))))
          (i64.const 16)))
      (i64.or
        (i64.shl
          (i64.extend_i32_u
            (i8x16.bitmask
              (i8x16.eq (v128.or (v128.load offset=32 (local.get $p)) (local.get $or)) (local.get $byte))))
          (i64.const 32))
        (i64.shl
          (i64.extend_i32_u
            (i8x16.bitmask
              (i8x16.eq (v128.or (v128.load offset=48 (local.get $p)) (local.get $or)) (local.get $byte))))
          (i64.const 48)))))

  ;; Bit i is set when an odd number of bits at or below i are set in $x.
  (func $prefix_xor (param $x i64) (result i64)
    (local.set $x (i64.xor (local.get $x) (i64.shl (local.get $x) (i64.const 1))))
    (local.set $x (i64.xor (local.get $x) (i64.shl (local.get $x) (i64.const 2))))
    (local.set $x (i64.xor (local.get $x) (i64.shl (local.get $x) (i64.const 4))))
    (local.set $x (i64.xor (local.get $x) (i64.shl (local.get $x) (i64.const 8))))
    (local.set $x (i64.xor (local.get $x) (i64.shl (local.get $x) (i64.const 16))))
    (i64.xor (local.get $x) (i64.shl (local.get $x) (i64.const 32))))

  ;; The commas between documents, from $from to $to (exclusive), or -1 if anything but commas
  ;; and whitespace (bytes up to 0x20, as the general scanner allows) is there.
  (func $commas (param $from i32) (param $to i32) (result i32)
    (local $n i32)
    (local $byte i32)
    (block $done
      (loop $next
        (br_if $done (i32.ge_u (local.get $from) (local.get $to)))
        (local.set $byte (i32.load8_u (local.get $from)))
        (if (i32.eq (local.get $byte) (i32.const 0x2c))
          (then (local.set $n (i32.add (local.get $n) (i32.const 1))))
          (else (if (i32.gt_u (local.get $byte) (i32.const 0x20)) (then (return (i32.const -1))))))
        (local.set $from (i32.add (local.get $from) (i32.const 1)))
        (br $next)))
    (local.get $n))

  (func (export "scan")
    (param $from i32) (param $length i32) (param $starts i32) (param $capacity i32)
    (result i32)
    (local $p i32)
    (local $depth i32)
    (local $count i32)
    (local $gap i32)         ;; where the bytes between documents begin
    (local $start i32)       ;; where the current document began
    (local $pos i32)
    (local $byte i32)
    (local $commas i32)
    (local $ends i32)
    (local $in_string i64)   ;; all ones when the previous 64 bytes ended inside a string
    (local $escape i64)      ;; 1 when the previous 64 bytes ended with an unescaped backslash
    (local $backslash i64)
    (local $follows i64)
    (local $odd_starts i64)
    (local $sequences i64)
    (local $escaped i64)
    (local $inside i64)
    (local $structural i64)
    (local.set $ends (i32.add (local.get $starts) (i32.shl (local.get $capacity) (i32.const 2))))
    (local.set $p (local.get $from))
    (local.set $gap (local.get $from))
    (block $unfinished
      (loop $chunk
        (br_if $unfinished (i32.ge_u (local.get $p) (local.get $length)))
        ;; Escaped characters: a backslash escapes the next byte unless it is escaped itself
        ;; (simdjson's find_escaped_branchless).
        (local.set $backslash (call $mask (local.get $p) (v128.const i8x16 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0) (i8x16.splat (i32.const 0x5c))))
        (if (i64.eqz (i64.or (local.get $backslash) (local.get $escape)))
          (then (local.set $escaped (i64.const 0)))
          (else
            (local.set $backslash (i64.and (local.get $backslash) (i64.xor (local.get $escape) (i64.const -1))))
            (local.set $follows (i64.or (i64.shl (local.get $backslash) (i64.const 1)) (local.get $escape)))
            (local.set $odd_starts
              (i64.and (local.get $backslash)
                (i64.and (i64.const 0xaaaaaaaaaaaaaaaa) (i64.xor (local.get $follows) (i64.const -1)))))
            (local.set $sequences (i64.add (local.get $odd_starts) (local.get $backslash)))
            (local.set $escape (i64.extend_i32_u (i64.lt_u (local.get $sequences) (local.get $odd_starts))))
            (local.set $escaped
              (i64.and
                (i64.xor (i64.const 0x5555555555555555) (i64.shl (local.get $sequences) (i64.const 1)))
                (local.get $follows)))))
        ;; Inside strings: between an unescaped quote and the next one.
        (local.set $inside
          (i64.xor
            (call $prefix_xor
              (i64.and
                (call $mask (local.get $p) (v128.const i8x16 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0) (i8x16.splat (i32.const 0x22)))
                (i64.xor (local.get $escaped) (i64.const -1))))
            (local.get $in_string)))
        (local.set $in_string (i64.shr_s (local.get $inside) (i64.const 63)))
        ;; `{` or `[` (0x7b, 0x5b), `}` or `]` (0x7d, 0x5d), outside strings.
        (local.set $structural
          (i64.and
            (i64.or
              (call $mask (local.get $p) (i8x16.splat (i32.const 0x20)) (i8x16.splat (i32.const 0x7b)))
              (call $mask (local.get $p) (i8x16.splat (i32.const 0x20)) (i8x16.splat (i32.const 0x7d))))
            (i64.xor (local.get $inside) (i64.const -1))))
        (block $bits_done
          (loop $bit
            (br_if $bits_done (i64.eqz (local.get $structural)))
            (local.set $pos (i32.add (local.get $p) (i32.wrap_i64 (i64.ctz (local.get $structural)))))
            (local.set $structural
              (i64.and (local.get $structural) (i64.sub (local.get $structural) (i64.const 1))))
            (local.set $byte (i32.load8_u (local.get $pos)))
            (if (i32.eqz (local.get $depth))
              (then
                ;; Between documents: only whitespace and one comma before each but the first.
                (local.set $commas (call $commas (local.get $gap) (local.get $pos)))
                (if (i32.eq (i32.or (local.get $byte) (i32.const 0x20)) (i32.const 0x7b))
                  (then
                    (if (i32.ne (local.get $commas) (i32.ne (local.get $count) (i32.const 0)))
                      (then (return (i32.const -1))))
                    (local.set $start (local.get $pos))
                    (local.set $depth (i32.const 1)))
                  (else
                    (if (i32.or (i32.ne (local.get $byte) (i32.const 0x5d)) (local.get $commas))
                      (then (return (i32.const -1))))
                    (global.set $array_end (i32.add (local.get $pos) (i32.const 1)))
                    (return (local.get $count)))))
              (else
                (if (i32.eq (i32.or (local.get $byte) (i32.const 0x20)) (i32.const 0x7b))
                  (then (local.set $depth (i32.add (local.get $depth) (i32.const 1))))
                  (else
                    (local.set $depth (i32.sub (local.get $depth) (i32.const 1)))
                    (if (i32.eqz (local.get $depth))
                      (then
                        (if (i32.ge_u (local.get $count) (local.get $capacity))
                          (then (return (i32.const -2))))
                        (i32.store
                          (i32.add (local.get $starts) (i32.shl (local.get $count) (i32.const 2)))
                          (local.get $start))
                        (i32.store
                          (i32.add (local.get $ends) (i32.shl (local.get $count) (i32.const 2)))
                          (i32.add (local.get $pos) (i32.const 1)))
                        (local.set $count (i32.add (local.get $count) (i32.const 1)))
                        (local.set $gap (i32.add (local.get $pos) (i32.const 1)))))))))
            (br $bit)))
        (local.set $p (i32.add (local.get $p) (i32.const 64)))
        (br $chunk)))
    (i32.const -1))
  ;; Copies documents 0 to $count - 1 (their bounds in the two u32 arrays at $starts and $ends)
  ;; to $out, with the first $separator_length (0 to 4) bytes of $separator (little-endian)
  ;; between each two; returns the bytes written. Up to 4 bytes past that may be overwritten.
  (func (export "join")
    (param $starts i32) (param $ends i32) (param $count i32)
    (param $separator i32) (param $separator_length i32) (param $out i32)
    (result i32)
    (local $i i32)
    (local $q i32)
    (local $start i32)
    (local $length i32)
    (local.set $q (local.get $out))
    (block $done
      (loop $next
        (br_if $done (i32.ge_u (local.get $i) (local.get $count)))
        (if (local.get $i)
          (then
            (i32.store (local.get $q) (local.get $separator))
            (local.set $q (i32.add (local.get $q) (local.get $separator_length)))))
        (local.set $start (i32.load (i32.add (local.get $starts) (i32.shl (local.get $i) (i32.const 2)))))
        (local.set $length
          (i32.sub
            (i32.load (i32.add (local.get $ends) (i32.shl (local.get $i) (i32.const 2))))
            (local.get $start)))
        (memory.copy (local.get $q) (local.get $start) (local.get $length))
        (local.set $q (i32.add (local.get $q) (local.get $length)))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br $next)))
    (i32.sub (local.get $q) (local.get $out)))
)
