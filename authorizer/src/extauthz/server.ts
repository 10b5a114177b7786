// The ext_authz gRPC server: envoy.service.auth.v3.Authorization/Check and grpc.health.v1.Health
// on @grpc/grpc-js, from the official protos.
import { Server, ServerCredentials, status, type sendUnaryData, type ServerUnaryCall } from '@grpc/grpc-js';
import type { Logger } from 'pino';
import { createCheckHandler, type CheckCall, type CheckOptions } from './check.ts';
import { createHealthService } from './health.ts';
import { loadProtos } from './protos.ts';
import type { CheckRequest } from './request.ts';
import type { CheckResponse } from './response.ts';

export type CheckHandler = (req: CheckRequest, call?: CheckCall) => Promise<CheckResponse>;

export interface ExtAuthzServerOptions extends CheckOptions {
  /** 0 picks a free port. */
  port: number;
  /** Default 0.0.0.0; use 127.0.0.1 in tests. */
  host?: string;
  /** Default insecure (plaintext, as Envoy's grpc_service to a sidecar or in-mesh service). */
  credentials?: ServerCredentials;
  /**
   * Replaces the Check handler, keeping the rest of the server (transport, protos,
   * (de)serialisation). Only the benchmark's empty-handler floor uses it.
   */
  handler?: CheckHandler;
  /** Time given to in-flight calls on close before they are cut. Default 5 s. */
  shutdownGraceMs?: number;
}

export interface ExtAuthzServer {
  port: number;
  close(): Promise<void>;
}

/** Margin left to answer a Check once its deadline is near (Envoy's ext_authz timeout). */
const deadlineMarginMs = 50;

function beforeDeadline(deadline: Date | number): AbortSignal | undefined {
  const at = deadline instanceof Date ? deadline.getTime() : deadline;
  if (!Number.isFinite(at)) return undefined;
  return AbortSignal.timeout(Math.max(0, at - Date.now() - deadlineMarginMs));
}

export async function startExtAuthzServer(o: ExtAuthzServerOptions): Promise<ExtAuthzServer> {
  const log: Logger = o.log.child({ frontEnd: 'ext_authz' });
  const protos = loadProtos();
  const handler = o.handler ?? createCheckHandler({ ...o, log });
  const health = createHealthService(() => o.gate.ready());
  // Envoy's max_request_bytes bounds the body; the message adds headers and attributes on top.
  const maxMessage = Math.max(4 * 1024 * 1024, 2 * o.gate.maxBodyBytes + 256 * 1024);
  const server = new Server({ 'grpc.max_receive_message_length': maxMessage });

  server.addService(protos.authorization, {
    Check(call: ServerUnaryCall<CheckRequest, CheckResponse>, callback: sendUnaryData<CheckResponse>) {
      handler(call.request, { signal: beforeDeadline(call.getDeadline()) }).then(
        (res) => callback(null, res),
        // createCheckHandler never rejects; a replacement handler might. Envoy turns a failed
        // Check into a denial (failure_mode_allow: false), so this still fails closed.
        (err: unknown) => {
          log.error({ err }, 'ext_authz Check handler failed');
          callback({ code: status.INTERNAL, details: 'authorizer error' });
        },
      );
    },
  });
  server.addService(protos.health, health.implementation);

  const host = o.host ?? '0.0.0.0';
  const address = host.includes(':') ? `[${host}]:${o.port}` : `${host}:${o.port}`;
  const port = await new Promise<number>((resolve, reject) => {
    server.bindAsync(address, o.credentials ?? ServerCredentials.createInsecure(), (err, bound) => (err ? reject(err) : resolve(bound)));
  });
  log.info({ host, port }, 'ext_authz gRPC server listening');

  let closing: Promise<void> | undefined;
  return {
    port,
    close() {
      closing ??= new Promise<void>((resolve) => {
        health.close();
        const timer = setTimeout(() => server.forceShutdown(), o.shutdownGraceMs ?? 5000);
        timer.unref();
        server.tryShutdown(() => {
          clearTimeout(timer);
          resolve();
        });
      });
      return closing;
    },
  };
}
