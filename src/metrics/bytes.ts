// The exposition is written as bytes into one growing buffer: at 64 shares ×
// 20 commands it is some 18,000 lines (2 MB), and building them as strings
// (then joining and encoding them for the response) cost about twice the CPU,
// most of it in allocation and garbage collection. Callers encode what recurs
// (a series' name and labels) once; counts are written digit by digit.
const encoder = new TextEncoder();

export class ByteWriter {
  private buf = new Uint8Array(1 << 16);
  private n = 0;

  private room(k: number): void {
    if (this.n + k <= this.buf.length) return;
    const b = new Uint8Array(Math.max(this.buf.length * 2, this.n + k));
    b.set(this.buf.subarray(0, this.n));
    this.buf = b;
  }

  /** Any text (UTF-8). */
  text(s: string): void {
    this.room(s.length * 3);
    this.n += encoder.encodeInto(s, this.buf.subarray(this.n)).written;
  }

  bytes(b: Uint8Array): void {
    this.room(b.length);
    this.buf.set(b, this.n);
    this.n += b.length;
  }

  /** A count: a non-negative integer as String() writes it; anything else (or ≥ 1e15) as `text(fallback(x))`. */
  count(x: number, fallback: (x: number) => string): void {
    if (!(Number.isInteger(x) && x >= 0 && x < 1e15)) {
      this.text(fallback(x)); // the digit loop is exact below 1e15
      return;
    }
    this.room(22);
    const b = this.buf;
    if (x < 10) {
      b[this.n++] = 48 + x;
      return;
    }
    let d = 1;
    while (d * 10 <= x) d *= 10;
    for (; d >= 1; d /= 10) {
      const q = Math.floor(x / d);
      b[this.n++] = 48 + q;
      x -= q * d;
    }
  }

  byte(c: number): void {
    this.room(1);
    this.buf[this.n++] = c;
  }

  /** What was written, as a buffer of its own; the writer starts over. */
  take(): Uint8Array<ArrayBuffer> {
    const out = this.buf.slice(0, this.n);
    this.n = 0;
    return out;
  }
}
