import { afterEach, describe, expect, it } from 'vitest';
import { ConfigError } from '../../pkg/env/env.ts';
import { ShutdownState, defaultShutdown, shutdownFromEnv } from './shutdown.ts';

const saved = { ...process.env };
afterEach(() => {
  process.env = { ...saved };
});

describe('shutdown settings', () => {
  it('default to a 5 s readiness delay and a 20 s drain (the chart\'s 30 s grace covers both)', () => {
    delete process.env.SHUTDOWN_DELAY_SECONDS;
    delete process.env.DRAIN_TIMEOUT_SECONDS;
    expect(shutdownFromEnv()).toEqual({ readinessDelayMs: 5_000, drainMs: 20_000 });
    expect(defaultShutdown.readinessDelayMs + defaultShutdown.drainMs).toBeLessThan(30_000);
  });

  it('read SHUTDOWN_DELAY_SECONDS and DRAIN_TIMEOUT_SECONDS, 0 allowed', () => {
    process.env.SHUTDOWN_DELAY_SECONDS = '0';
    process.env.DRAIN_TIMEOUT_SECONDS = '90';
    expect(shutdownFromEnv()).toEqual({ readinessDelayMs: 0, drainMs: 90_000 });
  });

  it('refuse what is not a whole number of seconds, naming the variable', () => {
    process.env.DRAIN_TIMEOUT_SECONDS = '20s';
    expect(() => shutdownFromEnv()).toThrow(new ConfigError('DRAIN_TIMEOUT_SECONDS must be a non-negative integer, got "20s"'));
    process.env.DRAIN_TIMEOUT_SECONDS = '20';
    process.env.SHUTDOWN_DELAY_SECONDS = '-1';
    expect(() => shutdownFromEnv()).toThrow(/SHUTDOWN_DELAY_SECONDS must be a non-negative integer/);
  });

  it('refuse a total beyond an hour', () => {
    process.env.SHUTDOWN_DELAY_SECONDS = '600';
    process.env.DRAIN_TIMEOUT_SECONDS = '3001';
    expect(() => shutdownFromEnv()).toThrow(/at most 3600 s, got 3601/);
  });
});

describe('ShutdownState', () => {
  it('is ready until the stop begins, then unready for good', () => {
    const s = new ShutdownState();
    expect(s.readiness()).toEqual({ ok: true, detail: 'serving' });
    expect(s.stopping).toBe(false);
    s.begin();
    s.begin();
    expect(s.stopping).toBe(true);
    expect(s.readiness()).toEqual({ ok: false, detail: 'shutting down: draining calls in flight' });
  });
});
