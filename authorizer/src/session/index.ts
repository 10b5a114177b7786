export { conversationId, conversationMetaKey, sessionKeys, type SessionKeys } from './key.ts';
export { SessionState, withSession, type LimitRefusal, type SessionContext, type SessionInput } from './session-state.ts';
export { KubeTaintStore, MemoryTaintStore, taintObjectName, type TaintEntry, type TaintKey, type TaintStore } from './taint-store.ts';
export { SlidingWindows } from './window.ts';
