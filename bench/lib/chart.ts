/**
 * A dependency-free PNG renderer for benchmark latency distributions: one panel per scenario, each an empirical CDF
 * per series on a log10 latency axis, with a legend giving every series' p50 and p99.
 */
import { deflateSync } from 'node:zlib';
import type { LatencySeries } from './types.ts';

export interface ChartPanel {
  title: string;
  series: LatencySeries[];
}

type Rgb = readonly [number, number, number];

/** Series colours, in order (Tableau 10's first six); a seventh series reuses the first colour. */
export const SERIES_COLOURS: readonly Rgb[] = [
  [31, 119, 180], // blue
  [255, 127, 14], // orange
  [44, 160, 44], // green
  [214, 39, 40], // red
  [148, 103, 189], // purple
  [140, 86, 75], // brown
];

const TEXT: Rgb = [34, 34, 34];
const AXIS: Rgb = [68, 68, 68];
const FRAME: Rgb = [204, 204, 204];
const GRID: Rgb = [225, 225, 225];
const PCT_GRID: Rgb = [170, 170, 170];
const SEPARATOR: Rgb = [190, 190, 190];

/** Below this a sample cannot sit on a log axis; it is drawn here (p50/p99 still use the real value). */
const LOG_FLOOR_MS = 0.01;
/** At most this many points of a series' CDF are drawn (the percentiles use every sample). */
const MAX_DRAWN_POINTS = 2000;

// ---------------------------------------------------------------------------------------------------------------
// Font: the classic 5x7 LCD font for ASCII 32..126, with g j p q y and ',' given a descender in an eighth row (bit 7)
// instead of being squeezed above the baseline. Five bytes per glyph, one per column left to right, bit 0 the top
// row. Anything outside the range is drawn as '?'.

const FONT_HEX =
  '000000000000005f00000007000700147f147f14242a7f2a12231308646236495522500005030000001c2241000041221c0014083e081408083e08080080600000080808080800606000002010080402' +
  '3e5149453e00427f400042615149462141454b311814127f1027454545393c4a49493001710905033649494936064949291e003636000000563600000814224100141414141400412214080201510906' +
  '324979413e7e1111117e7f494949363e414141227f4141221c7f494949417f090909013e4149497a7f0808087f00417f41002040413f017f081422417f404040407f020c027f7f0408107f3e4141413e' +
  '7f090909063e4151215e7f09192946464949493101017f01013f4040403f1f2040201f3f4038403f631408146307087008076151494543007f41410002040810200041417f0004020102044040404040' +
  '000102040020545454787f484444383844444420384444487f3854545418087e09010298a4a4a47c7f0804047800447d40004080807d007f1028440000417f40007c041804787c080404783844444438' +
  'fc2424241818242424fc7c080404084854545420043f4440203c4040207c1c2040201c3c4030403c44281028449ca0a0a07c4464544c44000836410000007f000000413608001008081008';

const FONT = Buffer.from(FONT_HEX, 'hex');
const GLYPH_W = 5;
const GLYPH_H = 8;
/** Horizontal advance per character at scale 1 (glyph plus one pixel of spacing). */
const ADVANCE = GLYPH_W + 1;

function glyphOffset(ch: string): number {
  const code = ch.charCodeAt(0);
  return (code >= 32 && code <= 126 ? code - 32 : 63 - 32) * GLYPH_W;
}

function textWidth(s: string, scale = 1): number {
  return s.length === 0 ? 0 : (s.length * ADVANCE - 1) * scale;
}

/** Shortens s (with "..") to at most maxWidth pixels. */
function fitText(s: string, maxWidth: number, scale = 1): string {
  const maxChars = Math.floor((maxWidth + scale) / (ADVANCE * scale));
  if (s.length <= maxChars) return s;
  if (maxChars <= 2) return s.slice(0, Math.max(0, maxChars));
  return `${s.slice(0, maxChars - 2)}..`;
}

// ---------------------------------------------------------------------------------------------------------------
// Raster

class Canvas {
  readonly rgb: Uint8Array;

  constructor(
    readonly width: number,
    readonly height: number,
  ) {
    this.rgb = new Uint8Array(width * height * 3).fill(255);
  }

  fillRect(x: number, y: number, w: number, h: number, c: Rgb): void {
    const x0 = Math.max(0, Math.round(x));
    const y0 = Math.max(0, Math.round(y));
    const x1 = Math.min(this.width, Math.round(x + w));
    const y1 = Math.min(this.height, Math.round(y + h));
    for (let yy = y0; yy < y1; yy++) {
      let i = (yy * this.width + x0) * 3;
      for (let xx = x0; xx < x1; xx++) {
        this.rgb[i++] = c[0];
        this.rgb[i++] = c[1];
        this.rgb[i++] = c[2];
      }
    }
  }

  /** A 2 px wide axis-parallel segment between two pixel positions (inclusive), so that steps join cleanly. */
  thickSegment(xa: number, ya: number, xb: number, yb: number, c: Rgb): void {
    const x0 = Math.min(xa, xb);
    const y0 = Math.min(ya, yb);
    this.fillRect(x0 - 1, y0 - 1, Math.abs(xb - xa) + 2, Math.abs(yb - ya) + 2, c);
  }

  hDashed(x0: number, x1: number, y: number, c: Rgb, on = 4, off = 3): void {
    for (let x = x0; x <= x1; x += on + off) this.fillRect(x, y, Math.min(on, x1 - x + 1), 1, c);
  }

  text(x: number, y: number, s: string, c: Rgb, scale = 1): void {
    for (let k = 0; k < s.length; k++) {
      const off = glyphOffset(s[k]!);
      const gx = x + k * ADVANCE * scale;
      for (let col = 0; col < GLYPH_W; col++) {
        const bits = FONT[off + col]!;
        for (let row = 0; row < GLYPH_H; row++) {
          if (bits & (1 << row)) this.fillRect(gx + col * scale, y + row * scale, scale, scale, c);
        }
      }
    }
  }

  /** Text turned 90° anticlockwise (reads bottom to top), its baseline's start at (x, y). */
  textUp(x: number, y: number, s: string, c: Rgb): void {
    for (let k = 0; k < s.length; k++) {
      const off = glyphOffset(s[k]!);
      const gy = y - k * ADVANCE;
      for (let col = 0; col < GLYPH_W; col++) {
        const bits = FONT[off + col]!;
        for (let row = 0; row < GLYPH_H; row++) {
          if (bits & (1 << row)) this.fillRect(x + row, gy - col, 1, 1, c);
        }
      }
    }
  }
}

// ---------------------------------------------------------------------------------------------------------------
// Numbers

interface SeriesData {
  label: string;
  /** Finite samples, ascending (a copy: the caller's array is never reordered). */
  sorted: Float64Array;
  p50: number;
  p99: number;
}

/** Nearest-rank percentile, the same definition as percentile() in types.ts. */
function rankPercentile(sorted: Float64Array, p: number): number {
  if (sorted.length === 0) return NaN;
  const i = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[i]!;
}

function prepareSeries(s: LatencySeries): SeriesData {
  const src = s.samplesMs;
  const copy = new Float64Array(src.length);
  let n = 0;
  for (let i = 0; i < src.length; i++) {
    const v = src[i]!;
    if (Number.isFinite(v)) copy[n++] = v;
  }
  const sorted = copy.subarray(0, n).sort();
  return { label: s.label, sorted, p50: rankPercentile(sorted, 50), p99: rankPercentile(sorted, 99) };
}

/** Milliseconds for the legend: about three significant figures. */
function formatMs(v: number): string {
  if (!Number.isFinite(v)) return String(v);
  if (v === 0) return '0';
  const a = Math.abs(v);
  if (a >= 100) return v.toFixed(0);
  if (a >= 10) return v.toFixed(1);
  if (a >= 1) return v.toFixed(2);
  if (a >= 0.001) return v.toPrecision(2);
  return v.toExponential(1);
}

function tickLabel(v: number): string {
  if (v >= 1e4) return `${Number((v / 1000).toPrecision(3))}k`;
  return String(Number(v.toPrecision(3)));
}

interface Tick {
  value: number;
  label: string | null;
  /** A decade (1, 10, 100 ...), which gets a gridline. */
  major: boolean;
}

/** Ticks for a log axis over [lo, hi]: decades, or 1-2-5 or 1..9 multiples when the range holds fewer than 3 decades. */
function logTicks(lo: number, hi: number): Tick[] {
  const kFrom = Math.floor(Math.log10(lo)) - 1;
  const kTo = Math.ceil(Math.log10(hi)) + 1;
  const inRange = (v: number) => v >= lo * (1 - 1e-9) && v <= hi * (1 + 1e-9);
  const multiples = (ms: number[]) => {
    const out: number[] = [];
    for (let k = kFrom; k <= kTo; k++) {
      for (const m of ms) {
        const v = Number(`${m}e${k}`);
        if (inRange(v)) out.push(v);
      }
    }
    return out;
  };
  let labelled: number[] = [];
  for (const set of [[1], [1, 2, 5], [1, 2, 3, 4, 5, 6, 7, 8, 9]]) {
    labelled = multiples(set);
    if (labelled.length >= 3) break;
  }
  const minor = multiples([1, 2, 3, 4, 5, 6, 7, 8, 9]);
  const ticks: Tick[] = minor.map((value) => ({
    value,
    label: labelled.includes(value) ? tickLabel(value) : null,
    major: Math.abs(Math.log10(value) - Math.round(Math.log10(value))) < 1e-9,
  }));
  if (labelled.length < 2) {
    // A range narrower than two adjacent multiples: label its ends.
    ticks.push({ value: lo, label: tickLabel(lo), major: false }, { value: hi, label: tickLabel(hi), major: false });
  }
  return ticks.sort((a, b) => a.value - b.value);
}

// ---------------------------------------------------------------------------------------------------------------
// Drawing

function drawPanel(canvas: Canvas, top: number, height: number, panel: ChartPanel): void {
  const W = canvas.width;
  const legendW = Math.round(Math.max(170, Math.min(300, W * 0.27)));
  const plot = {
    left: 72,
    right: W - legendW - 44,
    top: top + 44,
    bottom: top + height - 46,
  };
  const inset = 6;
  const series = panel.series.map(prepareSeries);

  // Title.
  canvas.text(16, top + 12, fitText(panel.title, W - 32, 2), TEXT, 2);

  // Frame and y axis (percentiles, linear 0..100).
  canvas.fillRect(plot.left, plot.top, plot.right - plot.left + 1, 1, FRAME);
  canvas.fillRect(plot.right, plot.top, 1, plot.bottom - plot.top + 1, FRAME);
  const yOf = (fraction: number) => Math.round(plot.bottom - fraction * (plot.bottom - plot.top));
  for (const p of [0, 25, 50, 75, 100]) {
    const y = yOf(p / 100);
    const label = String(p);
    canvas.fillRect(plot.left - 4, y, 4, 1, AXIS);
    canvas.text(plot.left - 7 - textWidth(label), y - 3, label, TEXT);
  }
  const caption = 'percentile';
  canvas.textUp(plot.left - 48, Math.round((plot.top + plot.bottom) / 2 + textWidth(caption) / 2), caption, TEXT);

  // x axis (latency, log10).
  const drawn = series.filter((s) => s.sorted.length > 0);
  let lo = Infinity;
  let hi = -Infinity;
  for (const s of drawn) {
    lo = Math.min(lo, Math.max(LOG_FLOOR_MS, s.sorted[0]!));
    hi = Math.max(hi, Math.max(LOG_FLOOR_MS, s.sorted[s.sorted.length - 1]!));
  }
  const xCaption = 'latency (ms, log scale)';
  canvas.text(Math.round((plot.left + plot.right - textWidth(xCaption)) / 2), plot.bottom + 26, xCaption, TEXT);

  let xOf: (ms: number) => number = () => plot.left;
  if (drawn.length > 0) {
    if (hi / lo < 1.000001) {
      // One value only: centre it in a range of its own.
      lo /= 2;
      hi *= 2;
    }
    const l0 = Math.log10(lo);
    const span = Math.log10(hi) - l0;
    const x0 = plot.left + inset;
    const xw = plot.right - inset - x0;
    xOf = (ms) => Math.round(x0 + ((Math.log10(Math.max(LOG_FLOOR_MS, ms)) - l0) / span) * xw);

    let lastLabelRight = -Infinity;
    for (const t of logTicks(lo, hi)) {
      const x = xOf(t.value);
      if (t.major) canvas.fillRect(x, plot.top + 1, 1, plot.bottom - plot.top - 1, GRID);
      canvas.fillRect(x, plot.bottom + 1, 1, t.label !== null ? 5 : 3, AXIS);
      if (t.label !== null) {
        const w = textWidth(t.label);
        const lx = Math.min(W - w - 2, Math.max(2, x - Math.floor(w / 2)));
        if (lx > lastLabelRight + 6) {
          canvas.text(lx, plot.bottom + 9, t.label, TEXT);
          lastLabelRight = lx + w;
        }
      }
    }
  } else {
    const msg = 'no samples';
    canvas.text(Math.round((plot.left + plot.right - textWidth(msg)) / 2), Math.round((plot.top + plot.bottom) / 2) - 3, msg, TEXT);
  }

  // Percentile gridlines, labelled on the right of the plot.
  for (const p of [50, 90, 99]) {
    const y = yOf(p / 100);
    canvas.hDashed(plot.left + 1, plot.right - 1, y, PCT_GRID);
    canvas.text(plot.right + 5, y - 3, `p${p}`, TEXT);
  }

  // Axes on top of the gridlines.
  canvas.fillRect(plot.left, plot.top, 1, plot.bottom - plot.top + 1, AXIS);
  canvas.fillRect(plot.left, plot.bottom, plot.right - plot.left + 1, 1, AXIS);

  // The CDFs, as steps through at most MAX_DRAWN_POINTS ranks of each series.
  series.forEach((s, i) => {
    const n = s.sorted.length;
    if (n === 0) return;
    const colour = SERIES_COLOURS[i % SERIES_COLOURS.length]!;
    const m = Math.min(n, MAX_DRAWN_POINTS);
    let px = xOf(s.sorted[0]!);
    let py = yOf(0);
    for (let k = 1; k <= m; k++) {
      const idx = Math.ceil((k / m) * n) - 1;
      const x = xOf(s.sorted[idx]!);
      const y = yOf((idx + 1) / n);
      if (x !== px) canvas.thickSegment(px, py, x, py, colour);
      if (y !== py) canvas.thickSegment(x, py, x, y, colour);
      px = x;
      py = y;
    }
  });

  // Legend.
  const lx = plot.right + 36;
  const textX = lx + 20;
  const maxTextW = W - 8 - textX;
  const entryH = 28;
  const fits = Math.max(1, Math.floor((top + height - 12 - plot.top) / entryH));
  let y = plot.top;
  const shown = series.length > fits ? fits - 1 : series.length;
  for (let i = 0; i < shown; i++) {
    const s = series[i]!;
    const colour = SERIES_COLOURS[i % SERIES_COLOURS.length]!;
    canvas.fillRect(lx, y + 2, 14, 4, colour);
    canvas.text(textX, y, fitText(s.label, maxTextW), TEXT);
    const stats = s.sorted.length === 0 ? 'no samples' : `p50 ${formatMs(s.p50)} ms  p99 ${formatMs(s.p99)} ms`;
    canvas.text(textX, y + 11, fitText(stats, maxTextW), TEXT);
    y += entryH;
  }
  if (shown < series.length) canvas.text(textX, y, `+${series.length - shown} more`, TEXT);
}

/** Renders panels (one per scenario) stacked vertically, each a latency distribution chart, as a PNG. */
export function renderLatencyChart(panels: ChartPanel[], options: { width?: number; panelHeight?: number } = {}): Buffer {
  const width = Math.max(480, Math.round(options.width ?? 1000));
  const panelHeight = Math.max(200, Math.round(options.panelHeight ?? 360));
  const list = panels.length > 0 ? panels : [{ title: 'no panels', series: [] }];
  const canvas = new Canvas(width, panelHeight * list.length);
  list.forEach((panel, i) => {
    const top = i * panelHeight;
    if (i > 0) canvas.fillRect(0, top, width, 1, SEPARATOR);
    drawPanel(canvas, top, panelHeight, panel);
  });
  return encodePng(width, canvas.height, canvas.rgb);
}

// ---------------------------------------------------------------------------------------------------------------
// PNG

const CRC_TABLE = (() => {
  const table = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    table[n] = c >>> 0;
  }
  return table;
})();

/** CRC-32 (ISO 3309, as PNG uses), over the bytes given. */
function crc32(...parts: Uint8Array[]): number {
  let c = 0xffffffff;
  for (const bytes of parts) {
    for (let i = 0; i < bytes.length; i++) c = CRC_TABLE[(c ^ bytes[i]!) & 0xff]! ^ (c >>> 8);
  }
  return (c ^ 0xffffffff) >>> 0;
}

function chunk(type: string, data: Uint8Array): Buffer {
  const typeBytes = Buffer.from(type, 'latin1');
  const out = Buffer.alloc(12 + data.length);
  out.writeUInt32BE(data.length, 0);
  typeBytes.copy(out, 4);
  out.set(data, 8);
  out.writeUInt32BE(crc32(typeBytes, data), 8 + data.length);
  return out;
}

const PNG_SIGNATURE = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);

/** An 8-bit RGB PNG (colour type 2, no alpha) of width × height pixels, rgb given row by row. */
export function encodePng(width: number, height: number, rgb: Uint8Array): Buffer {
  if (!Number.isInteger(width) || !Number.isInteger(height) || width < 1 || height < 1) {
    throw new RangeError(`PNG size must be positive integers, got ${width}x${height}`);
  }
  const stride = width * 3;
  if (rgb.length !== stride * height) {
    throw new RangeError(`expected ${stride * height} bytes of RGB for ${width}x${height}, got ${rgb.length}`);
  }
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(width, 0);
  ihdr.writeUInt32BE(height, 4);
  ihdr[8] = 8; // bit depth
  ihdr[9] = 2; // colour type: truecolour
  ihdr[10] = 0; // compression: deflate
  ihdr[11] = 0; // filter method 0
  ihdr[12] = 0; // no interlace
  const raw = Buffer.alloc(height * (1 + stride));
  for (let y = 0; y < height; y++) {
    raw[y * (1 + stride)] = 0; // filter: none
    raw.set(rgb.subarray(y * stride, (y + 1) * stride), y * (1 + stride) + 1);
  }
  return Buffer.concat([PNG_SIGNATURE, chunk('IHDR', ihdr), chunk('IDAT', deflateSync(raw)), chunk('IEND', new Uint8Array(0))]);
}
