/** Integer minor units ↔ exact decimal strings (2 decimal places). No floating point on the way. */
/** A numeric(20,4) as the API shows money: at least two decimals, no trailing zeros beyond them ("12.5000" → "12.50"). */
export const presentMoney = (v: string) => v.replace(/(\.\d\d\d*?)0+$/, '$1');

export function formatMinor(minor: number | bigint): string {
  const v = BigInt(minor);
  const sign = v < 0n ? '-' : '';
  const abs = v < 0n ? -v : v;
  return `${sign}${abs / 100n}.${(abs % 100n).toString().padStart(2, '0')}`;
}

/**
 * Compares two decimal strings exactly (money is numeric, never a float): -1, 0 or 1. The one home of decimal
 * comparison, for the runner's balance events and the notification rules alike.
 */
export function compareDecimal(a: string, b: string): number {
  const [an, bn] = [normalizeDecimal(a), normalizeDecimal(b)];
  if (an.neg !== bn.neg) return an.neg ? -1 : 1;
  const sign = an.neg ? -1 : 1;
  const width = Math.max(an.int.length, bn.int.length);
  const fracWidth = Math.max(an.frac.length, bn.frac.length);
  const ak = an.int.padStart(width, '0') + an.frac.padEnd(fracWidth, '0');
  const bk = bn.int.padStart(width, '0') + bn.frac.padEnd(fracWidth, '0');
  return ak === bk ? 0 : ak < bk ? -sign : sign;
}

function normalizeDecimal(d: string): { neg: boolean; int: string; frac: string } {
  const m = /^([+-]?)(\d*)(?:\.(\d*))?$/.exec(d.trim());
  if (!m) throw new Error(`not a decimal: ${d}`);
  const int = (m[2] ?? '').replace(/^0+/, '') || '0';
  const frac = (m[3] ?? '').replace(/0+$/, '');
  const zero = int === '0' && frac === '';
  return { neg: m[1] === '-' && !zero, int, frac };
}
