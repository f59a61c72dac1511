/** Integer minor units ↔ exact decimal strings (2 decimal places). No floating point on the way. */
export function formatMinor(minor: number | bigint): string {
  const v = BigInt(minor);
  const sign = v < 0n ? '-' : '';
  const abs = v < 0n ? -v : v;
  return `${sign}${abs / 100n}.${(abs % 100n).toString().padStart(2, '0')}`;
}
