/** Integer minor units ↔ exact decimal strings (2 decimal places). No floating point on the way. */
/** A numeric(20,4) as the API shows money: at least two decimals, no trailing zeros beyond them ("12.5000" → "12.50"). */
export const presentMoney = (v: string) => v.replace(/(\.\d\d\d*?)0+$/, '$1');

export function formatMinor(minor: number | bigint): string {
  const v = BigInt(minor);
  const sign = v < 0n ? '-' : '';
  const abs = v < 0n ? -v : v;
  return `${sign}${abs / 100n}.${(abs % 100n).toString().padStart(2, '0')}`;
}
