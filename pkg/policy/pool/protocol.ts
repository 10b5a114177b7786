// Messages between the pool (pool.ts) and its worker threads (worker.ts). An evaluation's input
// travels as the JSON text the engine serialised (engine/policy-input.ts), never as an object:
// a structured clone would drop prototypes the in-process serialisation sees.

export type ToWorker =
  | { t: 'load'; key: string; module: WebAssembly.Module; data: ArrayBuffer | undefined }
  | { t: 'drop'; key: string }
  /** Evaluations asked in one tick, posted together (one message, one wake-up of the worker). */
  | { t: 'evals'; items: EvalRequest[] };

export interface EvalRequest {
  id: number;
  key: string;
  entrypoint: string;
  input: string | null;
}

export interface EvalAnswer {
  id: number;
  result?: unknown;
  error?: string;
}

export type FromWorker =
  | { t: 'loaded'; key: string }
  | { t: 'loadFailed'; key: string; message: string }
  /** The answers to one 'evals' message, in one message. */
  | { t: 'results'; items: EvalAnswer[] };
