(module
  (func (export "inf") (loop (br 0)))
  (func $r (export "deep") (call $r))
  (memory 1)
  (data "passive")
  (func (export "init") (memory.init 0 (i32.const 0) (i32.const 0) (i32.const 7)) (data.drop 0))
  (func (export "ld") (result i64) (i64.load32_s offset=65530 (i32.const 0)))
)
