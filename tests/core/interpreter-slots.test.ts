// Interpreter friendliness: every function of mcu.wasm fits wasm3's embedded default of 128 slots for its locals
// (parameters included) and operand stack, counted as wasm3 counts them (32-bit slots: i64/f64 take two), so the
// module loads in wasm3 with its embedded configuration. The function bodies come from binaryen; the core's
// binary is binaryen's own output, so the tree's heights are the stack machine's.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import binaryen from 'binaryen';
import { wasmPath } from '../../host/wasm/core.js';

const WASM3_EMBEDDED_SLOTS = 128;

const slots = (t: number): number => {
  if (t === binaryen.none || t === binaryen.unreachable) return 0;
  if (t === binaryen.i64 || t === binaryen.f64) return 2;
  if (t === binaryen.i32 || t === binaryen.f32) return 1;
  return binaryen.expandType(t).reduce((a, x) => a + slots(x), 0);
};

type Info = Record<string, unknown> & { id: number; type: number };

/** Children in evaluation order, and whether their values stay on the stack together (operands) or not (statements). */
function children(info: Info): { operands: boolean; list: number[] } {
  const g = (...names: string[]) => names.map((n) => info[n] as number | undefined).filter((x): x is number => !!x);
  switch (info.id) {
    case binaryen.BlockId: return { operands: false, list: info['children'] as number[] };
    case binaryen.IfId: return { operands: false, list: g('condition', 'ifTrue', 'ifFalse') };
    case binaryen.LoopId: return { operands: false, list: g('body') };
    case binaryen.BreakId: case binaryen.SwitchId: return { operands: true, list: g('value', 'condition') };
    case binaryen.CallId: return { operands: true, list: info['operands'] as number[] };
    case binaryen.CallIndirectId: return { operands: true, list: [...(info['operands'] as number[]), ...g('target')] };
    case binaryen.LocalSetId: case binaryen.GlobalSetId: case binaryen.UnaryId: case binaryen.DropId: case binaryen.ReturnId: return { operands: true, list: g('value') };
    case binaryen.MemoryGrowId: return { operands: true, list: g('delta') };
    case binaryen.LoadId: return { operands: true, list: g('ptr') };
    case binaryen.StoreId: return { operands: true, list: g('ptr', 'value') };
    case binaryen.BinaryId: return { operands: true, list: g('left', 'right') };
    case binaryen.SelectId: return { operands: true, list: g('ifTrue', 'ifFalse', 'condition') };
    case binaryen.LocalGetId: case binaryen.GlobalGetId: case binaryen.ConstId: case binaryen.NopId: case binaryen.UnreachableId: case binaryen.MemorySizeId: return { operands: true, list: [] };
    default: throw new Error(`expression id ${info.id} is not counted: teach this test about it`);
  }
}

/** The deepest the operand stack gets while evaluating `e`, in slots. */
function height(e: number): number {
  const info = binaryen.getExpressionInfo(e) as unknown as Info;
  const { operands, list } = children(info);
  let peak = 0, below = 0;
  for (const c of list) {
    peak = Math.max(peak, below + height(c));
    if (operands) below += slots(binaryen.getExpressionType(c));
  }
  return Math.max(peak, slots(info.type));
}

test(`every function of mcu.wasm fits wasm3's embedded default: locals + operand stack ≤ ${WASM3_EMBEDDED_SLOTS} slots`, () => {
  const m = binaryen.readBinary(readFileSync(wasmPath('mcu')));
  try {
    const rows: Array<{ fn: number; locals: number; stack: number }> = [];
    for (let i = 0; i < m.getNumFunctions(); i++) {
      const f = binaryen.getFunctionInfo(m.getFunctionByIndex(i));
      if (!f.body) continue;
      const locals = slots(f.params) + f.vars.reduce((a, t) => a + slots(t), 0);
      rows.push({ fn: i, locals, stack: height(f.body) });
    }
    rows.sort((a, b) => (b.locals + b.stack) - (a.locals + a.stack));
    const worst = rows[0]!;
    console.log(`# wasm3 slots: ${rows.length} functions, the largest needs ${worst.locals + worst.stack} (function ${worst.fn}: ${worst.locals} locals + ${worst.stack} operand stack) of ${WASM3_EMBEDDED_SLOTS}`);
    assert.ok(rows.length > 100, 'the module was read');
    const over = rows.filter((r) => r.locals + r.stack > WASM3_EMBEDDED_SLOTS);
    assert.deepEqual(over, [], 'functions over the budget');
  } finally {
    m.dispose();
  }
});

test('the slot count sees what it must: a function with a deep expression and i64 locals counts them', () => {
  const m = new binaryen.Module();
  try {
    // (a + (b + (c + d))) over i64 locals: 4 params × 2 slots, and a stack four i64 deep at the innermost add
    const p = binaryen.createType([binaryen.i64, binaryen.i64, binaryen.i64, binaryen.i64]);
    const get = (i: number) => m.local.get(i, binaryen.i64);
    const body = m.i64.add(get(0), m.i64.add(get(1), m.i64.add(get(2), get(3))));
    const f = m.addFunction('deep', p, binaryen.i64, [binaryen.i32], body);
    const info = binaryen.getFunctionInfo(f);
    assert.equal(slots(info.params) + info.vars.reduce((a, t) => a + slots(t), 0), 9);
    assert.equal(height(body), 8);
  } finally {
    m.dispose();
  }
});
