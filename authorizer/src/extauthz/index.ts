// Envoy ext_authz v3 front end: the gRPC Authorization and Health services over the gate.
export { createCheckHandler, type CheckCall, type CheckOptions } from './check.ts';
export { createHealthService, type HealthService } from './health.ts';
export { createExtAuthzMetrics, type CheckOutcome, type ExtAuthzMetrics } from './metrics.ts';
export { authorizationServiceName, healthServiceName, loadProtos, protoLoaderOptions, type Protos } from './protos.ts';
export { partialBodyHeader, readHttp, serverContextKey, serverHeader, type CheckRequest, type HttpAttributes, type HttpView } from './request.ts';
export { agentHeader, decisionIdHeader, deniedResponse, grpcCodeFor, GrpcCode, okResponse, operatorHeader, sanitizeHeaderValue, type CheckResponse } from './response.ts';
export { startExtAuthzServer, type CheckHandler, type ExtAuthzServer, type ExtAuthzServerOptions } from './server.ts';
