// Seeded pseudo-random numbers (sfc32 seeded by splitmix32): the only source of randomness in lib/.

/** A seeded random source. */
export interface Rng {
  /** Uniform float in [0, 1). */
  next(): number;
  /** Uniform integer in [0, n). */
  int(n: number): number;
  /** Standard normal sample (Box-Muller). */
  normal(): number;
  /** Shuffles `arr` in place (Fisher-Yates) and returns it. */
  shuffle<T>(arr: T[] | Int32Array | Uint32Array | Uint8Array | Float32Array): typeof arr;
  /** A random permutation of 0..n-1. */
  permutation(n: number): Int32Array;
  /** A 32-bit seed for another consumer (e.g. tfjs initializers). */
  seed(): number;
}

function splitmix32(a: number): () => number {
  return () => {
    a = (a + 0x9e3779b9) | 0;
    let t = a ^ (a >>> 16);
    t = Math.imul(t, 0x21f0aaad);
    t ^= t >>> 15;
    t = Math.imul(t, 0x735a2d97);
    return (t ^ (t >>> 15)) >>> 0;
  };
}

/** Creates a seeded Rng; the same seed always gives the same stream. */
export function createRng(seed: number): Rng {
  if (!Number.isFinite(seed)) throw new RangeError(`seed must be a finite number, got ${seed}`);
  const init = splitmix32(Math.floor(seed) >>> 0);
  let a = init(), b = init(), c = init(), d = init();
  const u32 = (): number => {
    a >>>= 0, b >>>= 0, c >>>= 0, d >>>= 0;
    const t = (a + b) | 0;
    a = b ^ (b >>> 9);
    b = (c + (c << 3)) | 0;
    c = (c << 21) | (c >>> 11);
    d = (d + 1) | 0;
    const r = (t + d) | 0;
    c = (c + r) | 0;
    return r >>> 0;
  };
  for (let i = 0; i < 12; i++) u32();
  const next = () => u32() / 4294967296;
  let spare: number | null = null;
  const rng: Rng = {
    next,
    int: (n) => Math.floor(next() * n),
    normal() {
      if (spare !== null) {
        const s = spare;
        spare = null;
        return s;
      }
      let u = 0;
      while (u === 0) u = next();
      const v = next();
      const r = Math.sqrt(-2 * Math.log(u));
      spare = r * Math.sin(2 * Math.PI * v);
      return r * Math.cos(2 * Math.PI * v);
    },
    shuffle(arr) {
      for (let i = arr.length - 1; i > 0; i--) {
        const j = Math.floor(next() * (i + 1));
        const t = arr[i];
        arr[i] = arr[j];
        arr[j] = t;
      }
      return arr;
    },
    permutation(n) {
      const p = new Int32Array(n);
      for (let i = 0; i < n; i++) p[i] = i;
      return rng.shuffle(p) as Int32Array;
    },
    seed: () => u32() & 0x7fffffff,
  };
  return rng;
}

/** Derives an independent 31-bit seed from a base seed and a label (FNV-1a over the label, mixed). */
export function deriveSeed(seed: number, label: string): number {
  let h = 0x811c9dc5 ^ (Math.floor(seed) >>> 0);
  for (let i = 0; i < label.length; i++) {
    h ^= label.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return splitmix32(h)() & 0x7fffffff;
}
