import { describe, expect, it } from 'vitest';
import { MEDIUM_PROFILE, NORMAL_PROFILE, sandboxAccounts, sandboxTransactions } from '../../src/providers/sandbox/sandbox-data.ts';

/**
 * Balances as the sandbox computed them before it kept running totals (every transaction since its timeline's
 * start summed on each call), recorded from that code: before the timeline, inside the first pending window, and
 * years on.
 */
const RECORDED: { loginId: string; at: string; balances: [string, string][] }[] = [
  {
    loginId: 'demo',
    at: '2024-12-31T00:00:00.000Z',
    balances: [
      ['2201.58', '2201.58'],
      ['423.97', '423.97'],
      ['2202.94', '2202.94'],
    ],
  },
  {
    loginId: 'demo',
    at: '2025-01-01T20:00:00.000Z',
    balances: [
      ['2201.58', '1976.32'],
      ['423.97', '423.97'],
      ['2202.94', '1975.17'],
    ],
  },
  {
    loginId: 'demo',
    at: '2025-06-15T12:34:56.789Z',
    balances: [
      ['6460.00', '6276.90'],
      ['9087.91', '8842.69'],
      ['108.25', '-113.89'],
    ],
  },
  {
    loginId: 'demo',
    at: '2026-12-02T06:00:00.000Z',
    balances: [
      ['28322.67', '28317.01'],
      ['18569.62', '18382.25'],
      ['8993.28', '8789.66'],
    ],
  },
  {
    loginId: 'demo',
    at: '2030-01-01T00:00:00.000Z',
    balances: [
      ['45771.07', '45738.12'],
      ['51475.73', '51318.65'],
      ['16751.74', '16367.78'],
    ],
  },
  {
    loginId: 'medium',
    at: '2024-12-31T00:00:00.000Z',
    balances: [
      ['1821.50', '1821.50'],
      ['2591.26', '2591.26'],
      ['4560.82', '4560.82'],
    ],
  },
  {
    loginId: 'medium',
    at: '2025-01-01T20:00:00.000Z',
    balances: [
      ['1821.50', '1693.17'],
      ['2591.26', '2356.21'],
      ['4560.82', '4331.47'],
    ],
  },
  {
    loginId: 'medium',
    at: '2025-06-15T12:34:56.789Z',
    balances: [
      ['7278.90', '7018.46'],
      ['2353.74', '2308.44'],
      ['13903.38', '15183.08'],
    ],
  },
  {
    loginId: 'medium',
    at: '2026-12-02T06:00:00.000Z',
    balances: [
      ['3779.53', '3550.23'],
      ['6928.04', '6743.83'],
      ['29977.02', '29828.38'],
    ],
  },
  {
    loginId: 'medium',
    at: '2030-01-01T00:00:00.000Z',
    balances: [
      ['25139.76', '25893.80'],
      ['23606.10', '23391.24'],
      ['39747.54', '39519.85'],
    ],
  },
];

describe('sandbox balances', () => {
  it('are the ones the sandbox has always given, on the first call and from the kept running totals', () => {
    for (const { loginId, at, balances } of RECORDED) {
      const user = { institutionId: 'AU00000', loginId, profile: NORMAL_PROFILE };
      for (let call = 0; call < 2; call++) {
        expect(sandboxAccounts(user, new Date(at)).map((a) => [a.balance, a.availableBalance])).toEqual(balances);
      }
    }
  });

  it('differ from the balance by exactly what is pending, hour by hour', () => {
    const user = { institutionId: 'AU00000', loginId: 'medium', profile: MEDIUM_PROFILE };
    const minor = (s: string) => Number(s.replace('.', ''));
    for (let h = 0; h < 72; h++) {
      const now = new Date(Date.UTC(2026, 10, 1) + h * 3_600_000 + 1_234);
      for (const account of sandboxAccounts(user, now)) {
        const pending = sandboxTransactions(user, account.id, null, now)
          .filter((t) => t.status === 'pending')
          .reduce((sum, t) => sum + minor(t.amount), 0);
        expect(minor(account.availableBalance!) - minor(account.balance)).toBe(pending);
      }
    }
  });
});
