// The noise of keras_mnist_gan/noise.py, number for number, so that a seed
// typed on the page draws the digits `keras-mnist-gan sample --seed` draws:
// NumPy's legacy RandomState stream (frozen by NEP 19). MT19937 seeded as
// init_genrand does, doubles from two 32-bit words (27 + 26 bits), normals by
// the polar Box-Muller method, whose second number of each pair is kept for
// the next call; each normal is rounded to float32. A conditional generator's
// classes, unless picked, come from the same stream: after each digit's noise,
// floor(double * classes), as noise.py's draw_inputs draws them.

export const MAX_SEED = 0xffffffff;
const N = 624;
const M = 397;

export class NoiseStream {
  constructor(seed) {
    if (!Number.isInteger(seed) || seed < 0 || seed > MAX_SEED) {
      throw new RangeError(`seed must be a whole number from 0 to ${MAX_SEED}; got ${seed}`);
    }
    this.state = new Uint32Array(N);
    this.state[0] = seed;
    for (let i = 1; i < N; i++) {
      const prev = this.state[i - 1] ^ (this.state[i - 1] >>> 30);
      this.state[i] = Math.imul(1812433253, prev) + i;
    }
    this.index = N;
    this.spare = null;
  }

  nextUint32() {
    if (this.index >= N) this.twist();
    let y = this.state[this.index++];
    y ^= y >>> 11;
    y ^= (y << 7) & 0x9d2c5680;
    y ^= (y << 15) & 0xefc60000;
    y ^= y >>> 18;
    return y >>> 0;
  }

  twist() {
    const s = this.state;
    for (let i = 0; i < N; i++) {
      const y = (s[i] & 0x80000000) | (s[(i + 1) % N] & 0x7fffffff);
      s[i] = s[(i + M) % N] ^ (y >>> 1) ^ (y & 1 ? 0x9908b0df : 0);
    }
    this.index = 0;
  }

  nextDouble() {
    const a = this.nextUint32() >>> 5;
    const b = this.nextUint32() >>> 6;
    return (a * 67108864 + b) / 9007199254740992;
  }

  nextNormal() {
    if (this.spare !== null) {
      const value = this.spare;
      this.spare = null;
      return value;
    }
    let x1, x2, r2;
    do {
      x1 = 2 * this.nextDouble() - 1;
      x2 = 2 * this.nextDouble() - 1;
      r2 = x1 * x1 + x2 * x2;
    } while (r2 >= 1 || r2 === 0);
    const f = Math.sqrt((-2 * Math.log(r2)) / r2);
    this.spare = f * x1;
    return f * x2;
  }

  // The next `count` normals as float32, as noise.py's draw_noise gives them.
  normals(count) {
    const out = new Float32Array(count);
    for (let i = 0; i < count; i++) out[i] = this.nextNormal();
    return out;
  }

  // The next `n` generator inputs, as noise.py's draw_inputs gives them:
  // digit by digit its noise, then (with `classes`) its class.
  inputs(n, dim, classes) {
    if (!classes) return { noise: this.normals(n * dim), labels: null };
    const noise = new Float32Array(n * dim);
    const labels = new Int32Array(n);
    for (let i = 0; i < n; i++) {
      for (let j = 0; j < dim; j++) noise[i * dim + j] = this.nextNormal();
      labels[i] = Math.floor(this.nextDouble() * classes);
    }
    return { noise, labels };
  }
}

// Spherical interpolation between rows of `a` and `b` (n rows of `dim`), as
// keras_mnist_gan.visuals.slerp walks between noise points.
export function slerp(a, b, t, dim) {
  const out = new Float32Array(a.length);
  for (let row = 0; row < a.length; row += dim) {
    let dot = 0, na = 0, nb = 0;
    for (let i = row; i < row + dim; i++) {
      dot += a[i] * b[i];
      na += a[i] * a[i];
      nb += b[i] * b[i];
    }
    const omega = Math.acos(Math.min(1, Math.max(-1, dot / Math.sqrt(na * nb))));
    const so = Math.sin(omega);
    const wa = so < 1e-6 ? 1 - t : Math.sin((1 - t) * omega) / so;
    const wb = so < 1e-6 ? t : Math.sin(t * omega) / so;
    for (let i = row; i < row + dim; i++) out[i] = wa * a[i] + wb * b[i];
  }
  return out;
}
