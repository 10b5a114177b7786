// Messages between the pool (pool.ts) and its worker threads (worker.ts). An evaluation's input
// travels as the JSON text the engine serialised (engine/policy-input.ts), never as an object:
// a structured clone would drop prototypes the in-process serialisation sees.

export type ToWorker =
  | { t: 'load'; key: string; module: WebAssembly.Module; data: ArrayBuffer | undefined }
  | { t: 'drop'; key: string }
  | { t: 'eval'; id: number; key: string; entrypoint: string; input: string | null };

export type FromWorker =
  | { t: 'loaded'; key: string }
  | { t: 'loadFailed'; key: string; message: string }
  | { t: 'result'; id: number; result?: unknown; error?: string };
