// The one seeded PRNG of tests and benchmarks (mulberry32): small, fast, and the same sequence
// from the same seed, so every generated corpus and benchmark input set is reproducible.
export type Rng = () => number;

export function rng(seed: number): Rng {
  let a = seed;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
