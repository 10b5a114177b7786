export { AuditTrail, AuditTrailError, type AuditTrailOptions } from './trail.ts';
export { verifyAuditFile, type VerifyResult } from './verify.ts';
export { createAuditMetrics, type AuditMetrics } from './metrics.ts';
export type { ApprovalEvent, AuditApproval, AuditDecision, AuditLine, AuditOpen, AuditRefusal } from './record.ts';
