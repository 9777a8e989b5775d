// Makes the core's shadow-stack pointer observable in tests: AssemblyScript keeps it in a mutable global that is
// not exported; binaryen adds the export to a copy of the module so a test can check it returns to its start.
import binaryen from 'binaryen';

/**
 * The module with its shadow-stack pointer exported as `sp`, so the test can watch it: the stack pointer is the
 * mutable global that starts at the heap base (AssemblyScript's stack grows down from there).
 */
export function withStackPointerExported(bytes: Uint8Array<ArrayBuffer>): Uint8Array<ArrayBuffer> {
  const heapBase = (new WebAssembly.Instance(new WebAssembly.Module(bytes), {}).exports as { abi_heap_base(): number }).abi_heap_base();
  const mod = binaryen.readBinary(bytes);
  try {
    for (let i = 0; i < mod.getNumGlobals(); i++) {
      const g = binaryen.getGlobalInfo(mod.getGlobalByIndex(i));
      const init = g.init ? binaryen.getExpressionInfo(g.init) as { id: number; value?: number } : null;
      if (g.mutable && init && init.id === binaryen.ConstId && init.value === heapBase) {
        mod.addGlobalExport(g.name, 'sp');
        mod.setFeatures(binaryen.Features.All);
        return new Uint8Array(mod.emitBinary());
      }
    }
    throw new Error('no shadow-stack pointer found');
  } finally {
    mod.dispose();
  }
}

