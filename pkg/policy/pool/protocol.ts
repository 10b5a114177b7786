// Messages between the pool (pool.ts) and its worker threads (worker.ts).

export type ToWorker =
  | { t: 'load'; key: string; module: WebAssembly.Module; data: unknown }
  | { t: 'drop'; key: string }
  | { t: 'eval'; id: number; key: string; entrypoint: string; input: unknown };

export type FromWorker =
  | { t: 'loaded'; key: string }
  | { t: 'loadFailed'; key: string; message: string }
  | { t: 'result'; id: number; result?: unknown; error?: string };
