(module
  (memory (export "memory") 2)
  (func (export "find") (param $p i32) (param $end i32) (result i32)
    (local $v v128) (local $w v128) (local $m i32) (local $lf v128) (local $zero v128)
    (local.set $lf (i8x16.splat (i32.const 10)))
    (local.set $zero (v128.const i64x2 0 0))
    (block $pairs_done
      (loop $pairs
        (br_if $pairs_done (i32.gt_u (i32.add (local.get $p) (i32.const 32)) (local.get $end)))
        (local.set $v (v128.load (local.get $p)))
        (local.set $w (v128.load offset=16 (local.get $p)))
        (if (v128.any_true
              (v128.or
                (v128.or (i8x16.eq (local.get $v) (local.get $lf)) (i8x16.eq (local.get $v) (local.get $zero)))
                (v128.or (i8x16.eq (local.get $w) (local.get $lf)) (i8x16.eq (local.get $w) (local.get $zero)))))
          (then (br $pairs_done)))
        (local.set $p (i32.add (local.get $p) (i32.const 32)))
        (br $pairs)))
    (block $vec_done
      (loop $vec
        (br_if $vec_done (i32.gt_u (i32.add (local.get $p) (i32.const 16)) (local.get $end)))
        (local.set $v (v128.load (local.get $p)))
        (local.set $m (i8x16.bitmask
          (v128.or (i8x16.eq (local.get $v) (local.get $lf)) (i8x16.eq (local.get $v) (local.get $zero)))))
        (if (local.get $m) (then (return (i32.add (local.get $p) (i32.ctz (local.get $m))))))
        (local.set $p (i32.add (local.get $p) (i32.const 16)))
        (br $vec)))
    (block $tail_done
      (loop $tail
        (br_if $tail_done (i32.ge_u (local.get $p) (local.get $end)))
        (local.set $m (i32.load8_u (local.get $p)))
        (if (i32.or (i32.eqz (local.get $m)) (i32.eq (local.get $m) (i32.const 10)))
          (then (return (local.get $p))))
        (local.set $p (i32.add (local.get $p) (i32.const 1)))
        (br $tail)))
    (i32.const -1)))
