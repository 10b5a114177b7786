// grpc.health.v1.Health for Envoy's gRPC health checks and Kubernetes gRPC probes: SERVING only
// once the policies are loaded, so no traffic reaches an authorizer that would refuse it all.
import { status, type sendUnaryData, type ServerUnaryCall, type ServerWritableStream, type UntypedServiceImplementation } from '@grpc/grpc-js';
import { authorizationServiceName } from './protos.ts';

type ServingStatus = 'SERVING' | 'NOT_SERVING' | 'SERVICE_UNKNOWN';
interface HealthRequest { service?: string }
interface HealthResponse { status: ServingStatus }

/** '' is the whole server (gRPC health convention). */
const knownServices = new Set(['', authorizationServiceName]);

export interface HealthService {
  implementation: UntypedServiceImplementation;
  /** Ends every open Watch stream (on server shutdown). */
  close(): void;
}

export function createHealthService(ready: () => boolean, watchIntervalMs = 500): HealthService {
  const watchers = new Set<() => void>();
  const current = (service: string): ServingStatus => (!knownServices.has(service) ? 'SERVICE_UNKNOWN' : ready() ? 'SERVING' : 'NOT_SERVING');

  const implementation: UntypedServiceImplementation = {
    Check(call: ServerUnaryCall<HealthRequest, HealthResponse>, callback: sendUnaryData<HealthResponse>) {
      const service = call.request.service ?? '';
      if (!knownServices.has(service)) {
        callback({ code: status.NOT_FOUND, details: `unknown service "${service}"` });
        return;
      }
      callback(null, { status: current(service) });
    },
    // The protocol sends the status at once and then on every change. Readiness is a function
    // here, not an event source, so it is sampled; a change is seen within watchIntervalMs.
    Watch(call: ServerWritableStream<HealthRequest, HealthResponse>) {
      const service = call.request.service ?? '';
      let last: ServingStatus | undefined;
      const send = () => {
        const now = current(service);
        if (now !== last) call.write({ status: (last = now) });
      };
      const timer = setInterval(send, watchIntervalMs);
      timer.unref();
      const stop = () => {
        clearInterval(timer);
        watchers.delete(end);
      };
      const end = () => {
        stop();
        call.end();
      };
      watchers.add(end);
      call.on('cancelled', stop);
      call.on('error', stop);
      send();
    },
  };

  return {
    implementation,
    close() {
      for (const end of [...watchers]) end();
    },
  };
}
