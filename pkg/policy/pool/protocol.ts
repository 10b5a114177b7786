// Messages between the pool (pool.ts) and its worker threads (worker.ts). An evaluation's input
// travels as the JSON bytes the engine serialised (engine/policy-input.ts), transferred, not cloned.

export type ToWorker =
  | { t: 'load'; key: string; module: WebAssembly.Module; data: ArrayBuffer | undefined }
  | { t: 'drop'; key: string }
  | { t: 'eval'; id: number; key: string; entrypoint: string; input: ArrayBuffer | null };

export type FromWorker =
  | { t: 'loaded'; key: string }
  | { t: 'loadFailed'; key: string; message: string }
  | { t: 'result'; id: number; result?: unknown; error?: string };
